package dev.puzzle.pipeline.report;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static dev.puzzle.pipeline.report.Svg.esc;

/**
 * The compress report as one self-contained HTML page with inline SVG plots (no scripts, no external files),
 * ordered as a decision: the recommended child per budget with the constraint that binds; KL against speedup over
 * the parent, predicted on the hardware profile (budgets drawn) and measured here (medians with interquartile
 * ranges); the verdicts against the baselines; the models table; the block of every layer; a greedy sample per
 * model; how to run each child; the FFN dependency heatmap; predicted runtime per layer; the run's metadata.
 * Several runs overlay their frontiers ({@code puzzle report --compare}).
 */
public final class HtmlReport {
    private HtmlReport() {}

    static String workload(ReportModel.Workload w) {
        return String.format(Locale.ROOT, "batch %d, prefill %d, generate %d, weights %s, KV %s", w.batch(), w.prefillLength(), w.generationLength(),
                w.weightDtype(), w.kvDtype());
    }

    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

    private static String color(String kind) {
        return switch (kind) {
            case "puzzle" -> "#1f77b4";
            case "uniform" -> "#d62728";
            case "layer-drop" -> "#2ca02c";
            case "fp8-global" -> "#9467bd";
            case "uniform-format" -> "#ff7f0e";
            default -> "#000000";
        };
    }

    /**
     * The random children {@code profile --validate} predicted and measured (RUN_DIR/profile/validation.json), added to
     * {@code pts} as grey points (drawn beneath the report's models, unlabelled), and its figures in a sentence; empty
     * when the run has no validation.
     */
    static String validation(Path runDir, List<Svg.Point> pts) {
        Path f = new dev.puzzle.bld.RunLayout(runDir).costValidation();
        if (!java.nio.file.Files.exists(f)) return "";
        com.fasterxml.jackson.databind.JsonNode v = dev.puzzle.core.config.Json.readObject(f, "the cost model's validation");
        int n = 0;
        for (com.fasterxml.jackson.databind.JsonNode c : v.path("children")) {
            pts.add(new Svg.Point(c.path("predicted_tokens_per_s").asDouble(), c.path("measured_tokens_per_s").asDouble(), "validation child " + (++n), "validation",
                    "#7f7f7f", Svg.Marker.CIRCLE));
        }
        return String.format(Locale.ROOT, " Grey: %d random children of the search space that profile --validate predicted and measured (not the"
                + " search's picks): MAPE %.1f%%, worst %+.1f%%, Spearman %.3f.", n, 100 * v.path("mape").asDouble(), 100 * v.path("worst_error").asDouble(),
                v.path("spearman").asDouble());
    }

    private static Svg.Marker marker(String kind) {
        return switch (kind) {
            case "puzzle" -> Svg.Marker.CIRCLE;
            case "uniform" -> Svg.Marker.SQUARE;
            case "layer-drop" -> Svg.Marker.TRIANGLE;
            case "fp8-global" -> Svg.Marker.DIAMOND;
            default -> Svg.Marker.STAR;  // uniform-format too
        };
    }

    /** A budget as the report names it: {@code 1.25x the parent (267500 tokens/s)} or {@code 260000 tokens/s}. */
    static String budgetLabel(ReportModel.Recommendation r) {
        return r.target().endsWith("x") ? String.format(Locale.ROOT, "%s the parent (%.0f tokens/s)", r.target(), r.targetTokensPerS())
                : String.format(Locale.ROOT, "%.0f tokens/s", r.targetTokensPerS());
    }

    private static ReportModel.ModelResult parent(ReportModel r) {
        return r.models().stream().filter(m -> m.kind().equals("parent")).findFirst().orElse(null);
    }

    /** The frontier plot: KL (log) against speedup over the parent, predicted (budgets drawn) or measured here (with IQR bars). */
    static String frontier(List<ReportModel> runs, boolean predicted) {
        List<Svg.Point> pts = new ArrayList<>();
        List<Svg.VLine> lines = new ArrayList<>();
        int i = 0;
        for (ReportModel r : runs) {
            ReportModel.ModelResult parent = parent(r);
            double base = predicted ? r.parentTokensPerS() : parent == null ? Double.NaN : parent.measuredWorkloadTokensPerS();
            if (!(base > 0)) continue;
            String run = runs.size() > 1 ? runLabel(runs, r) + ": " : "";
            List<ReportModel.ModelResult> order = new ArrayList<>(r.models());
            order.sort((a, b) -> Boolean.compare(a.kind().equals("parent"), b.kind().equals("parent"))); // the parent drawn last, on top
            for (ReportModel.ModelResult m : order) {
                double x = (predicted ? m.predictedTokensPerS() : m.measuredWorkloadTokensPerS()) / base;
                String c = runs.size() > 1 && m.kind().equals("puzzle") ? COLORS[i % COLORS.length] : color(m.kind());
                ReportModel.Spread s = m.measuredWorkloadSpread();
                pts.add(predicted || s == null ? new Svg.Point(x, m.klDiv(), run + m.name(), run + m.kind(), c, marker(m.kind()))
                        : new Svg.Point(x, m.klDiv(), run + m.name(), run + m.kind(), c, marker(m.kind()), s.q1() / base, s.q3() / base));
            }
            if (predicted && runs.size() == 1) {
                for (ReportModel.Recommendation rec : r.recommendations()) {
                    lines.add(new Svg.VLine(rec.targetTokensPerS() / base, "budget " + rec.target() + (rec.target().endsWith("x") ? "" : " tok/s")));
                }
            }
            i++;
        }
        String hw = runs.size() == 1 ? runs.get(0).hardware() : "each run's hardware profile";
        String xl = predicted ? "predicted speedup over the parent on " + hw + " (workload throughput)"
                : "measured speedup over the parent here (workload throughput, median; bars: interquartile range)";
        return Svg.scatter("KL to the parent vs " + (predicted ? "predicted" : "measured") + " speedup", xl, "×", "KL(parent ‖ child) per token", pts, lines);
    }

    /** A run as the overlay names it: the shortest tail of its directory that no other run shares, and its hardware profile. */
    static String runLabel(List<ReportModel> runs, ReportModel r) {
        Path p = Path.of(r.runDir()).toAbsolutePath().normalize();
        for (int n = 1; n <= p.getNameCount(); n++) {
            Path tail = p.subpath(p.getNameCount() - n, p.getNameCount());
            final int k = n;
            long same = runs.stream().map(o -> Path.of(o.runDir()).toAbsolutePath().normalize())
                    .filter(o -> o.getNameCount() >= k && o.subpath(o.getNameCount() - k, o.getNameCount()).equals(tail)).count();
            if (same == 1) return tail + " (" + r.hardware() + ")";
        }
        return p + " (" + r.hardware() + ")";
    }

    /** The report page; several runs overlay their frontiers (puzzle report --compare). */
    public static String render(List<ReportModel> runs, String title) {
        StringBuilder sb = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(esc(title)).append("</title>");
        sb.append("<style>body{font-family:sans-serif;margin:24px;max-width:1200px;line-height:1.4}table{border-collapse:collapse;font-size:13px}"
                + "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}td.l{text-align:left}"
                + ".blk td{font-size:11px;text-align:center}.verdict{margin:4px 0}.meta{color:#555;font-size:13px}"
                + "pre{background:#f7f7f7;padding:8px;font-size:12px;overflow-x:auto}svg.plot{max-width:100%;height:auto}</style></head><body>");
        sb.append("<h1>").append(esc(title)).append("</h1>");
        if (runs.size() == 1) {
            ReportModel r = runs.get(0);
            if (r.metadata() != null) {
                ReportModel.Metadata md = r.metadata();
                sb.append(String.format(Locale.ROOT, "<p class=\"meta\">%s · %s (commit %s) · config %s · seed %d · backend %s</p>", esc(md.date()),
                        esc(md.toolkit()), esc(md.commit()), esc(r.config()), md.seed(), esc(md.backend())));
            }
            sb.append("<p>Hardware profile <b>").append(esc(r.hardware())).append("</b> (").append(esc(r.costModel())).append(" costs), workload ")
                    .append(esc(workload(r.workload()))).append(String.format(Locale.ROOT, "; the parent: %.0f tokens/s predicted on %s", r.parentTokensPerS(),
                            esc(r.hardware())));
            if (r.memoryBudgetMib() != null) sb.append(String.format(Locale.ROOT, "; memory budget %.2f MiB", r.memoryBudgetMib()));
            sb.append(".</p>");
            for (String line : r.measurementLines()) sb.append("<p>").append(esc(line)).append("</p>");
            recommendations(sb, r);
        }
        for (boolean predicted : new boolean[]{true, false}) {
            sb.append("<section class=\"frontier\"><h2>Accuracy vs speed: ").append(predicted ? "predicted on the hardware profile" : "measured on this machine")
                    .append("</h2>").append(frontier(runs, predicted)).append("</section>");
        }
        for (ReportModel r : runs) run(sb, r, runs.size() > 1);
        return sb.append("</body></html>\n").toString();
    }

    /** Request-level efficiency: each model's tokens per request and requests/s per effort, and KL against requests/s per effort. */
    private static void requests(StringBuilder sb, ReportModel r) {
        ReportModel.RequestLevel q = r.requests();
        if (q == null) return;
        String hw = esc(r.hardware());
        sb.append("<h3>Request-level efficiency</h3><p>").append(esc(q.describe())).append("</p><table class=\"requests\"><tr><th>model</th>"
                + "<th>generated tokens per prompt</th><th>vs the parent</th>");
        for (ReportModel.Effort e : q.efforts()) {
            sb.append("<th>").append(esc(e.name())).append(" (").append(e.tokensPerRequest()).append(" tokens): tokens per request</th><th>")
                    .append(esc(e.name())).append(": requests/s predicted on ").append(hw).append("</th><th>").append(esc(e.name()))
                    .append(": requests/s measured here</th>");
        }
        sb.append("</tr>");
        for (ReportModel.RequestRow row : q.rows()) {
            sb.append(String.format(Locale.ROOT, "<tr><td class=\"l\">%s</td><td>%.1f</td><td>%.2f×</td>", esc(row.name()), row.generated(), row.lengthRatio()));
            for (ReportModel.Rate rate : row.rates()) {
                sb.append(String.format(Locale.ROOT, "<td>%.0f</td><td>%.4g</td><td>%.4g</td>", rate.tokensPerRequest(), rate.predictedRequestsPerS(),
                        rate.measuredRequestsPerS()));
            }
            sb.append("</tr>");
        }
        sb.append("</table>");
        for (int e = 0; e < q.efforts().size(); e++) {
            List<Svg.Point> pts = new ArrayList<>();
            for (ReportModel.RequestRow row : q.rows()) {
                ReportModel.ModelResult m = r.models().stream().filter(x -> x.name().equals(row.name())).findFirst().orElse(null);
                if (m == null) continue;
                pts.add(new Svg.Point(row.rates().get(e).predictedRequestsPerS(), m.klDiv(), row.name(), row.kind(), color(row.kind()), marker(row.kind())));
            }
            ReportModel.Effort effort = q.efforts().get(e);
            sb.append("<section class=\"requests-frontier\">").append(Svg.scatter("KL to the parent vs requests/s at " + effort.name() + " effort ("
                    + effort.tokensPerRequest() + " tokens a request), predicted on " + r.hardware(), "requests/s", "", "KL(parent ‖ child) per token", pts, List.of()))
                    .append("</section>");
        }
    }

    private static void recommendations(StringBuilder sb, ReportModel r) {
        if (r.recommendations().isEmpty()) return;
        sb.append("<section class=\"recommendations\"><h2>Recommended child per budget</h2><table><tr><th>budget</th><th>child</th>"
                + "<th>why, and what it gives up</th><th>binding constraint</th></tr>");
        for (ReportModel.Recommendation c : r.recommendations()) {
            sb.append("<tr><td class=\"l\">").append(esc(budgetLabel(c))).append("</td><td class=\"l\"><b>").append(esc(c.name())).append("</b></td><td class=\"l\">")
                    .append(esc(c.why())).append("</td><td class=\"l\">").append(esc(c.binding())).append("</td></tr>");
        }
        sb.append("</table></section>");
    }

    private static void run(StringBuilder sb, ReportModel r, boolean several) {
        String hw = esc(r.hardware());
        sb.append("<section class=\"run\">");
        if (several) {
            sb.append("<h2>Run ").append(esc(r.runDir())).append("</h2>");
            for (String line : r.measurementLines()) sb.append("<p>").append(esc(line)).append("</p>");
            recommendations(sb, r);
        }
        sb.append("<h3>Puzzle against the baselines</h3>");
        for (String s : r.verdictLines()) sb.append("<p class=\"verdict\">").append(esc(s)).append("</p>");
        for (String s : r.infeasible()) sb.append("<p class=\"verdict\">Budget not met: ").append(esc(s)).append("</p>");
        if (r.leftOut() != null) for (String s : r.leftOut()) sb.append("<p class=\"verdict\">Left out by training: ").append(esc(s)).append("</p>");
        sb.append("<h3>Models</h3><table class=\"models\"><tr><th>model</th><th>kind</th><th>target</th><th>KL</th><th>top-1</th><th>LM loss</th><th>ppl</th>"
                + "<th>params</th><th>predicted on " + hw + ": tok/s</th><th>predicted on " + hw + ": MiB</th><th>measured here: workload tok/s, median [IQR]</th>"
                + "<th>measured here: prefill tok/s</th><th>measured here: decode tok/s (batch 1), median [IQR]</th>"
                + (r.task() == null ? "" : "<th>task accuracy (acc_norm)</th><th>acc_norm retained</th>") + "<th>chosen by</th></tr>");
        ReportModel.ModelResult parent = parent(r);
        for (ReportModel.ModelResult m : r.models()) {
            sb.append(String.format(Locale.ROOT, "<tr><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%s</td><td>%.4g</td><td>%.3f</td><td>%.4f</td><td>%.3f</td><td>%d</td>"
                            + "<td>%.0f</td><td>%.3f</td><td>%s</td><td>%.0f</td><td>%s</td>%s<td class=\"l\">%s</td></tr>",
                    esc(m.name()), esc(m.kind()), m.target() == null ? "-" : esc(m.target()), m.klDiv(), m.top1Agreement(), m.lmLoss(), m.perplexity(),
                    m.parameters(), m.predictedTokensPerS(), m.predictedMemoryMib(), ReportModel.rate(m.measuredWorkloadTokensPerS(), m.measuredWorkloadSpread()),
                    m.measuredPrefillTokensPerS(), ReportModel.rate(m.measuredDecodeTokensPerS(), m.measuredDecodeSpread()), taskCells(r, m, parent),
                    m.solvedBy() == null ? "-" : esc(m.solvedBy())));
        }
        sb.append("</table>");
        requests(sb, r);
        sb.append("<h3>Block of every layer</h3><table class=\"blk\"><tr><th>model</th>");
        int L = r.models().get(0).blocks().size();
        for (int l = 0; l < L; l++) sb.append("<th>layer ").append(l).append("</th>");
        sb.append("</tr>");
        for (ReportModel.ModelResult m : r.models()) {
            sb.append("<tr><td class=\"l\">").append(esc(m.name())).append("</td>");
            for (ReportModel.LayerBlock b : m.blocks()) {
                ReportModel.Look look = b.look() == null ? ReportModel.Look.FULL : b.look();
                String text = b.block().replace("attn=", "").replace(" ffn=", " / ");
                if (b.fusedRun() != null) text = "fused " + b.fusedRun() + ": " + text;
                sb.append("<td style=\"background:").append(look.colour).append("\" title=\"").append(esc(b.variant())).append("\">").append(esc(text)).append("</td>");
            }
            sb.append("</tr>");
        }
        sb.append("</table><p class=\"legend\">");
        for (ReportModel.Look look : ReportModel.Look.values()) {
            sb.append("<span style=\"background:").append(look.colour).append(";padding:0 6px;margin-right:8px\">").append(esc(look.legend)).append("</span>");
        }
        sb.append("</p>");
        if (r.models().stream().anyMatch(m -> m.sample() != null)) {
            sb.append("<h3>Samples (greedy, the same prompt: \u201c").append(esc(ReportModel.SAMPLE_PROMPT)).append("\u201d)</h3><table class=\"samples\">");
            for (ReportModel.ModelResult m : r.models()) {
                if (m.sample() != null) sb.append("<tr><td class=\"l\">").append(esc(m.name())).append("</td><td class=\"l\">").append(esc(m.sample())).append("</td></tr>");
            }
            sb.append("</table>");
        }
        sb.append("<h3>Running the children</h3><ul class=\"howto\">");
        for (ReportModel.ModelResult m : r.models()) {
            for (String s : ReportModel.howToRun(m)) sb.append("<li><b>").append(esc(m.name())).append("</b> <code>").append(esc(s)).append("</code></li>");
        }
        sb.append("</ul>");
        if (r.costModel().equals("measured")) {
            List<Svg.Point> pts = new ArrayList<>();
            for (ReportModel.ModelResult m : r.models()) {
                pts.add(new Svg.Point(m.predictedTokensPerS(), m.measuredWorkloadTokensPerS(), m.name(), m.kind(), color(m.kind()), marker(m.kind())));
            }
            List<Svg.Point> children = new ArrayList<>();
            String validated = validation(Path.of(r.runDir()), children);
            sb.append("<h3>Predicted against measured</h3><p>The profile's costs were measured on this machine, so its predicted workload throughput and the"
                            + " measured one should agree: points off the diagonal are the cost model's error.").append(esc(validated)).append("</p>")
                    .append(Svg.diagonal("Measured vs predicted workload throughput", "predicted on " + r.hardware() + " (tokens/s)",
                            "measured here (tokens/s, median)", pts, children));
        }
        sb.append(lossCurves(Path.of(r.runDir())));
        sb.append(dependencyHeatmap(new dev.puzzle.bld.RunLayout(Path.of(r.runDir())).ffnDependency(), L, r.fusionThreshold()));
        List<String> layers = new ArrayList<>();
        for (int l = 0; l < L; l++) layers.add("layer " + l);
        List<Svg.Bars> bars = new ArrayList<>();
        int k = 0;
        for (ReportModel.ModelResult m : r.models()) {
            double[] v = new double[L];
            for (int l = 0; l < L; l++) v[l] = l < m.predictedLayerRuntimeMs().size() ? m.predictedLayerRuntimeMs().get(l) : Double.NaN;
            bars.add(new Svg.Bars(m.name(), COLORS[k++ % COLORS.length], v));
        }
        sb.append("<h3>Predicted runtime per layer on ").append(hw).append("</h3><p>A fused FFN run counts at its first layer.</p>")
                .append(Svg.bars("Predicted runtime of each layer on " + r.hardware(), "layer", layers, "runtime (ms)", bars));
        if (r.metadata() != null) {
            sb.append("<details><summary>Run config (").append(esc(r.config())).append(")</summary><pre>").append(esc(r.metadata().configText())).append("</pre></details>");
        }
        sb.append("</section>");
    }

    static String taskCells(ReportModel r, ReportModel.ModelResult m, ReportModel.ModelResult parent) {
        if (r.task() == null) return "";
        if (m.taskAccuracy() == null) return "<td>-</td><td>-</td>";
        Double kept = ReportModel.retained(m, parent);
        return String.format(Locale.ROOT, "<td>%.1f%% (%.1f%%)</td><td>%s</td>", 100 * m.taskAccuracy(), 100 * m.taskAccuracyNorm(),
                kept == null ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * kept));
    }

    /**
     * BLD loss curves per candidate family ({@code attn-gqa2}, {@code ffn-dense86}, ...): the mean over the family's
     * layers of the normalized loss at each step, from the run's distill curves.
     */
    static String lossCurves(Path runDir) {
        java.util.Map<String, List<dev.puzzle.bld.BldTrainer.Curve>> families;
        try {
            families = dev.puzzle.bld.Bld.curvesByFamily(runDir);
        } catch (dev.puzzle.core.PuzzleException e) {
            return "<p>BLD loss curves: " + esc(e.getMessage()) + "</p>";
        }
        if (families.isEmpty()) return "";
        List<Svg.Line> lines = new ArrayList<>();
        int k = 0;
        for (var e : families.entrySet()) {
            int n = e.getValue().stream().mapToInt(c -> c.steps().length).min().orElse(0);
            double[] x = new double[n], y = new double[n];
            for (int i = 0; i < n; i++) {
                x[i] = i + 1;
                for (dev.puzzle.bld.BldTrainer.Curve c : e.getValue()) y[i] += c.steps()[i] / e.getValue().size();
            }
            lines.add(new Svg.Line(e.getKey() + " (" + e.getValue().size() + ")", COLORS[k++ % COLORS.length], x, y));
        }
        return "<h3>Blockwise local distillation: loss per step</h3><p>Each candidate family's mean over its layers (in brackets: how many) of the"
                + " normalized MSE to the parent block's output, per training step.</p>"
                + Svg.lines("BLD loss curves per candidate family", "training step", "normalized MSE", lines);
    }

    /** The FFN fusion dependency matrix as a heatmap with a colour bar, axis names and the threshold, when the run measured one. */
    static String dependencyHeatmap(Path file, int layers, Double threshold) {
        double[][] dep;
        try {
            dep = dev.puzzle.ffnfusion.FfnFusion.readDependency(file, layers);
        } catch (java.io.IOException e) {
            return "<p>FFN dependency: " + esc(file.toString()) + " unreadable: " + esc(e.getMessage()) + "</p>";
        }
        if (dep == null) return "";
        double max = 0;
        for (int a = 0; a < dep.length; a++) for (int b = a + 1; b < dep[a].length; b++) max = Math.max(max, dep[a][b]);
        double[] t = Svg.ticks(0, Math.max(0.1, Math.max(max, threshold == null ? 0 : threshold)), 4);
        max = t[t.length - 1]; // the colour bar ends on a round tick
        String thr = threshold == null ? "no threshold (fusion not searched)" : String.format(Locale.ROOT, "threshold %.3g", threshold);
        return "<h3>FFN fusion: pairwise FFN dependency</h3><p>Row a, column b: mean cosine distance between FFN b's output on its own input and on"
                + " layer a's FFN input (calibration text); low means FFN b barely depends on the layers between, so a..b can run as one wide FFN."
                + (threshold == null ? "" : " Outlined cells are at or under the search space's threshold; a run is a candidate when every pair in it is.")
                + "</p>" + Svg.heatmap("FFN dependency heatmap", "layer a (input taken from)", "layer b (FFN evaluated)", dep, max,
                threshold == null ? -1 : threshold, thr);
    }
}
