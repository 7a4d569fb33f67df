package dev.puzzle.pipeline.report;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The compress report as one self-contained HTML page with inline SVG plots (no scripts, no external
 * files): the accuracy-versus-throughput frontier of Puzzle and the baselines (predicted on the hardware
 * profile, and measured on this machine at the budgets' workload), the block every model chose for every
 * layer, and predicted per-layer runtimes. Several runs overlay their frontiers ({@code puzzle report --compare}).
 */
public final class HtmlReport {
    private HtmlReport() {}

    static String workload(ReportModel.Workload w) {
        return String.format(Locale.ROOT, "batch %d, prefill %d, generate %d, weights %s, KV %s", w.batch(), w.prefillLength(), w.generationLength(),
                w.weightDtype(), w.kvDtype());
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

    private static String color(String kind) {
        return switch (kind) {
            case "puzzle" -> "#1f77b4";
            case "uniform" -> "#d62728";
            case "layer-drop" -> "#2ca02c";
            default -> "#000000";
        };
    }

    /** One series of a scatter plot. */
    record Series(String name, String color, double[] x, double[] y, String[] labels, boolean line, boolean dashed) {}

    static String scatter(String title, String xLabel, String yLabel, List<Series> series) {
        int W = 640, H = 400, ml = 70, mr = 170, mt = 40, mb = 50;
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY, y0 = 0, y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (double v : s.x()) { x0 = Math.min(x0, v); x1 = Math.max(x1, v); }
            for (double v : s.y()) y1 = Math.max(y1, v);
        }
        if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
        if (!(y1 > y0)) y1 = y0 + 1;
        double padX = (x1 - x0) * 0.05;
        x0 -= padX;
        x1 += padX;
        y1 *= 1.08;
        final double fx0 = x0, fx1 = x1, fy1 = y1;
        java.util.function.DoubleUnaryOperator px = v -> ml + (v - fx0) / (fx1 - fx0) * (W - ml - mr);
        java.util.function.DoubleUnaryOperator py = v -> H - mb - v / fy1 * (H - mt - mb);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">", W, H, W, H, esc(title)));
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>", ml, esc(title)));
        sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", ml, H - mb, W - mr, H - mb));
        sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", ml, mt, ml, H - mb));
        for (int i = 0; i <= 4; i++) {
            double xv = x0 + (x1 - x0) * i / 4, yv = y1 * i / 4;
            sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>", px.applyAsDouble(xv), H - mb + 16, fmt(xv)));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>", ml - 6, py.applyAsDouble(yv) + 4, fmt(yv)));
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>", ml, py.applyAsDouble(yv), W - mr, py.applyAsDouble(yv)));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>", (ml + W - mr) / 2, H - 12, esc(xLabel)));
        sb.append(String.format(Locale.ROOT, "<text x=\"16\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">%s</text>", (mt + H - mb) / 2, (mt + H - mb) / 2, esc(yLabel)));
        int legendY = mt + 10;
        for (Series s : series) {
            if (s.line() && s.x().length > 1) {
                StringBuilder pts = new StringBuilder();
                for (int i = 0; i < s.x().length; i++) pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px.applyAsDouble(s.x()[i]), py.applyAsDouble(s.y()[i])));
                sb.append(String.format("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%s\"/>", s.color(), s.dashed() ? " stroke-dasharray=\"5,4\"" : "", pts.toString().trim()));
            }
            for (int i = 0; i < s.x().length; i++) {
                sb.append(String.format(Locale.ROOT, "<circle class=\"point\" data-series=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>%s: %s = %s, %s = %s</title></circle>",
                        esc(s.name()), px.applyAsDouble(s.x()[i]), py.applyAsDouble(s.y()[i]), s.color(), esc(s.labels()[i]), esc(xLabel), fmt(s.x()[i]), esc(yLabel), fmt(s.y()[i])));
            }
            sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>",
                    W - mr + 14, legendY - 10, s.color(), W - mr + 32, legendY, esc(s.name())));
            legendY += 20;
        }
        return sb.append("</svg>").toString();
    }

    static String fmt(double v) {
        double a = Math.abs(v);
        if (a >= 1e4 || (a > 0 && a < 1e-2)) return String.format(Locale.ROOT, "%.3g", v);
        return String.format(Locale.ROOT, a >= 100 ? "%.0f" : "%.3f", v);
    }

    private static Series series(ReportModel r, String kind, String run, ToDoubleFunction<ReportModel.ModelResult> xOf, boolean line, boolean dashed) {
        List<ReportModel.ModelResult> ms = new ArrayList<>();
        for (ReportModel.ModelResult m : r.models()) if (m.kind().equals(kind)) ms.add(m);
        ms.sort((a, b) -> Double.compare(xOf.applyAsDouble(a), xOf.applyAsDouble(b)));
        double[] x = new double[ms.size()], y = new double[ms.size()];
        String[] l = new String[ms.size()];
        for (int i = 0; i < ms.size(); i++) {
            x[i] = xOf.applyAsDouble(ms.get(i));
            y[i] = ms.get(i).klDiv();
            l[i] = ms.get(i).name();
        }
        String name = (run.isEmpty() ? "" : run + ": ") + kind;
        return new Series(name, color(kind), x, y, l, line, dashed);
    }

    /** The report page; several runs overlay their frontiers (puzzle report --compare). */
    public static String render(List<ReportModel> runs, String title) {
        StringBuilder sb = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(esc(title)).append("</title>");
        sb.append("<style>body{font-family:sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;font-size:13px}"
                + "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}td.l{text-align:left}"
                + ".blk td{font-size:11px;text-align:center}.verdict{margin:4px 0}</style></head><body>");
        sb.append("<h1>").append(esc(title)).append("</h1>");
        for (boolean predicted : new boolean[]{true, false}) {
            ToDoubleFunction<ReportModel.ModelResult> xOf = predicted ? ReportModel.ModelResult::predictedTokensPerS : ReportModel.ModelResult::measuredWorkloadTokensPerS;
            List<Series> ss = new ArrayList<>();
            int i = 0;
            for (ReportModel r : runs) {
                String run = runs.size() > 1 ? Path.of(r.runDir()).getFileName() + " (" + r.hardware() + ")" : "";
                for (String kind : new String[]{"puzzle", "uniform", "layer-drop", "parent"}) {
                    Series s = series(r, kind, run, xOf, kind.equals("puzzle"), i > 0);
                    if (s.x().length > 0) ss.add(runs.size() > 1 && kind.equals("puzzle") ? new Series(s.name(), COLORS[i % COLORS.length], s.x(), s.y(), s.labels(), true, i > 0) : s);
                }
                i++;
            }
            String xl = predicted ? "predicted throughput on the hardware profile (tokens/s)" : "measured workload throughput on this machine (tokens/s)";
            sb.append("<section class=\"frontier\"><h2>Accuracy vs throughput: ").append(predicted ? "predicted" : "measured").append("</h2>")
                    .append(scatter("KL to parent vs " + xl, xl, "KL(parent ‖ child) per token", ss)).append("</section>");
        }
        for (ReportModel r : runs) {
            sb.append("<section class=\"run\"><h2>Run ").append(esc(r.runDir())).append("</h2><p>Hardware ").append(esc(r.hardware())).append(" (")
                    .append(esc(r.costModel())).append("), workload ").append(esc(workload(r.workload())))
                    .append(String.format(Locale.ROOT, "; the parent: %.0f tokens/s predicted. Measured: %s.", r.parentTokensPerS(), esc(r.measurement()))).append("</p>");
            sb.append("<h3>Puzzle against the baselines</h3>");
            for (String s : r.summaryLines()) sb.append("<p class=\"verdict\">").append(esc(s)).append("</p>");
            for (String s : r.infeasible()) sb.append("<p class=\"verdict\">Budget not met: ").append(esc(s)).append("</p>");
            if (r.leftOut() != null) for (String s : r.leftOut()) sb.append("<p class=\"verdict\">Left out by training: ").append(esc(s)).append("</p>");
            sb.append("<h3>Models</h3><table class=\"models\"><tr><th>model</th><th>kind</th><th>target</th><th>KL</th><th>top-1</th><th>LM loss</th><th>ppl</th>"
                    + "<th>params</th><th>predicted tok/s</th><th>predicted MiB</th><th>measured workload tok/s</th><th>measured prefill tok/s</th>"
                    + "<th>measured decode tok/s (batch 1)</th><th>chosen by</th></tr>");
            for (ReportModel.ModelResult m : r.models()) {
                sb.append(String.format(Locale.ROOT, "<tr><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%s</td><td>%.4g</td><td>%.3f</td><td>%.4f</td><td>%.3f</td><td>%d</td>"
                                + "<td>%.0f</td><td>%.3f</td><td>%.0f</td><td>%.0f</td><td>%.0f</td><td class=\"l\">%s</td></tr>",
                        esc(m.name()), esc(m.kind()), m.target() == null ? "-" : esc(m.target()), m.klDiv(), m.top1Agreement(), m.lmLoss(), m.perplexity(),
                        m.parameters(), m.predictedTokensPerS(), m.predictedMemoryMib(), m.measuredWorkloadTokensPerS(), m.measuredPrefillTokensPerS(),
                        m.measuredDecodeTokensPerS(), m.solvedBy() == null ? "-" : esc(m.solvedBy())));
            }
            sb.append("</table><h3>Block of every layer</h3><table class=\"blk\"><tr><th>model</th>");
            int L = r.models().get(0).blocks().size();
            for (int l = 0; l < L; l++) sb.append("<th>").append(l).append("</th>");
            sb.append("</tr>");
            for (ReportModel.ModelResult m : r.models()) {
                sb.append("<tr><td class=\"l\">").append(esc(m.name())).append("</td>");
                for (ReportModel.LayerBlock b : m.blocks()) {
                    ReportModel.Look look = b.look() == null ? ReportModel.Look.FULL : b.look();
                    String text = b.block().replace("attn=", "").replace(" ffn=", " / ");
                    if (b.fusedRun() != null) text = "fused " + b.fusedRun() + ": " + text;
                    sb.append("<td style=\"background:").append(look.colour).append("\" title=\"").append(esc(b.variant())).append("\">")
                            .append(esc(text)).append("</td>");
                }
                sb.append("</tr>");
            }
            sb.append("</table><p class=\"legend\">");
            for (ReportModel.Look look : ReportModel.Look.values()) {
                sb.append("<span style=\"background:").append(look.colour).append(";padding:0 6px;margin-right:8px\">").append(esc(look.legend)).append("</span>");
            }
            sb.append("</p>");
            sb.append("<h3>Running the children</h3><ul class=\"howto\">");
            for (ReportModel.ModelResult m : r.models()) {
                for (String s : ReportModel.howToRun(m)) sb.append("<li><b>").append(esc(m.name())).append("</b> <code>").append(esc(s)).append("</code></li>");
            }
            sb.append("</ul>");
            sb.append(dependencyHeatmap(Path.of(r.runDir()).resolve("library").resolve("ffn_dependency.json")));
            sb.append("<h3>Predicted runtime per layer (ms)</h3>");
            List<Series> bars = new ArrayList<>();
            int k = 0;
            for (ReportModel.ModelResult m : r.models()) {
                List<Double> per = m.predictedLayerRuntimeMs();
                double[] x = new double[per.size()], y = new double[per.size()];
                String[] lab = new String[per.size()];
                for (int l = 0; l < per.size(); l++) {
                    x[l] = l;
                    y[l] = per.get(l);
                    lab[l] = m.name() + " layer " + l;
                }
                bars.add(new Series(m.name(), COLORS[k++ % COLORS.length], x, y, lab, true, false));
            }
            sb.append(scatter("Predicted runtime of each layer", "layer", "runtime (ms)", bars)).append("</section>");
        }
        return sb.append("</body></html>\n").toString();
    }

    /** The FFN fusion dependency matrix as a heatmap (white 0 → dark 1+), when the run measured one. */
    static String dependencyHeatmap(Path file) {
        if (!Files.exists(file)) return "";
        double[][] dep;
        try {
            com.fasterxml.jackson.databind.JsonNode m = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile()).path("dependency");
            dep = new double[m.size()][];
            for (int a = 0; a < m.size(); a++) {
                dep[a] = new double[m.get(a).size()];
                for (int b = 0; b < dep[a].length; b++) dep[a][b] = m.get(a).get(b).asDouble();
            }
        } catch (java.io.IOException e) {
            return "<p>FFN dependency: " + esc(file.toString()) + " unreadable: " + esc(e.getMessage()) + "</p>";
        }
        int L = dep.length, cell = Math.max(14, Math.min(40, 480 / Math.max(1, L))), pad = 40;
        StringBuilder sb = new StringBuilder("<h3>FFN fusion: pairwise FFN dependency</h3><p>Row a, column b: mean cosine distance between FFN b's output on"
                + " its own input and on layer a's FFN input (calibration text); low means FFN b barely depends on the layers between, so a..b can run in parallel.</p>");
        int size = pad + L * cell + 10;
        sb.append(String.format(Locale.ROOT, "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"FFN dependency heatmap\">", size, size));
        for (int a = 0; a < L; a++) {
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%d</text>", pad - 4, pad + a * cell + cell / 2 + 4, a));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%d</text>", pad + a * cell + cell / 2, pad - 6, a));
            for (int b = 0; b < L; b++) {
                double v = b > a ? Math.min(1, Math.max(0, dep[a][b])) : 0;
                int g = (int) Math.round(255 * (1 - v));
                sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#ddd\"><title>%d→%d: %.4f</title></rect>",
                        pad + b * cell, pad + a * cell, cell, cell, b > a ? String.format(Locale.ROOT, "rgb(%d,%d,255)", g, g) : "#f4f4f4", a, b, dep[a][b]));
            }
        }
        return sb.append("</svg>").toString();
    }
}
