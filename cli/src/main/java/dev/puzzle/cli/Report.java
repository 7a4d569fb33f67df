package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.hardware.Workload;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The compress report: {@code report.json} (every number), {@code report.md}, and one self-contained
 * {@code index.html} with inline SVG plots (no scripts, no external files): the accuracy-versus-
 * throughput frontier of Puzzle and the baselines (predicted on the hardware profile, and measured on
 * this machine), the block every model chose for every layer, and predicted per-layer runtimes.
 */
final class Report {
    private Report() {}

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Measured speeds within this fraction count as equal (the noise of timing tiny models on a shared CPU). */
    static final double SPEED_TOLERANCE = 0.05;

    static ObjectNode build(RunConfig rc, HardwareProfile hw, Workload w, List<ObjectNode> models, List<String> infeasible, RunConfig.Compress cc) {
        ObjectNode r = JSON.createObjectNode();
        r.put("run_dir", rc.runDir().toString());
        r.put("config", rc.file.toString());
        r.put("hardware", hw.name());
        r.putObject("workload").put("batch", w.batch()).put("prefill_length", w.prefillLength()).put("generation_length", w.generationLength())
                .put("weight_dtype", w.weightDtype()).put("kv_dtype", w.kvDtype());
        ArrayNode ms = r.putArray("models");
        models.forEach(ms::add);
        ArrayNode inf = r.putArray("infeasible");
        infeasible.forEach(inf::add);
        // The frontier: for each target, the least-KL Puzzle child whose predicted throughput meets it.
        ArrayNode frontier = r.putArray("frontier");
        ArrayNode cmp = r.putArray("comparisons");
        int wins = 0, compared = 0;
        for (double t : cc.throughputs()) {
            ObjectNode best = null;
            for (ObjectNode m : models) {
                if (!m.get("kind").asText().equals("puzzle") || m.get("predicted_tokens_per_s").asDouble() < t * (1 - 1e-9)) continue;
                if (best == null || m.get("kl_div").asDouble() < best.get("kl_div").asDouble()) best = m;
            }
            if (best == null) continue;
            frontier.addObject().put("target_tokens_per_s", t).put("name", best.get("name").asText()).put("kl_div", best.get("kl_div").asDouble())
                    .put("predicted_tokens_per_s", best.get("predicted_tokens_per_s").asDouble())
                    .put("measured_decode_tokens_per_s", best.get("measured_decode_tokens_per_s").asDouble());
            ObjectNode uni = find(models, "uniform", t);
            ObjectNode c = cmp.addObject().put("target_tokens_per_s", t).put("puzzle", best.get("name").asText());
            if (uni == null) {
                c.put("verdict", String.format(Locale.ROOT, "At %.0f tokens/s no uniform-width baseline fits the budget; Puzzle's %s has KL %.4g.",
                        t, best.get("name").asText(), best.get("kl_div").asDouble()));
                continue;
            }
            compared++;
            double pk = best.get("kl_div").asDouble(), uk = uni.get("kl_div").asDouble();
            double ps = best.get("measured_decode_tokens_per_s").asDouble(), us = uni.get("measured_decode_tokens_per_s").asDouble();
            boolean lowerKl = pk < uk, fastEnough = ps >= us * (1 - SPEED_TOLERANCE);
            if (lowerKl && fastEnough) wins++;
            c.put("uniform", uni.get("name").asText()).put("puzzle_better", lowerKl && fastEnough);
            c.put("verdict", String.format(Locale.ROOT, "At %.0f tokens/s: Puzzle KL %.4g vs uniform pruning %.4g, measured decode %.0f vs %.0f tokens/s — %s.",
                    t, pk, uk, ps, us, lowerKl && fastEnough ? "Puzzle is better"
                            : !lowerKl ? "Puzzle is NOT better: its KL is not lower"
                            : "Puzzle is NOT better: its measured speed is more than " + Math.round(SPEED_TOLERANCE * 100) + "% lower"));
        }
        r.put("summary", compared == 0 ? "No uniform-width baseline fits any budget, so none is compared."
                : String.format(Locale.ROOT, "Puzzle's children have lower KL than uniform width pruning at equal or better measured throughput"
                + " (within %d%%) on %d of %d budgets.", Math.round(SPEED_TOLERANCE * 100), wins, compared));
        return r;
    }

    private static ObjectNode find(List<ObjectNode> models, String kind, double t) {
        for (ObjectNode m : models) {
            if (m.get("kind").asText().equals(kind) && m.has("target_tokens_per_s") && m.get("target_tokens_per_s").asDouble() == t) return m;
        }
        return null;
    }

    static List<String> summary(JsonNode r) {
        List<String> out = new ArrayList<>();
        out.add("Budgets are on the predicted throughput of " + r.get("hardware").asText() + "; measured speeds are on this machine,"
                + " whose costs can order the models differently.");
        for (JsonNode c : r.get("comparisons")) out.add(c.get("verdict").asText());
        out.add(r.get("summary").asText());
        return out;
    }

    static void write(Path dir, ObjectNode r) throws IOException {
        AtomicFiles.writeString(dir.resolve("report.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(r) + "\n");
        AtomicFiles.writeString(dir.resolve("report.md"), markdown(r));
        AtomicFiles.writeString(dir.resolve("index.html"), html(List.of(r), "Puzzle report: " + r.get("run_dir").asText()));
    }

    static String markdown(JsonNode r) {
        StringBuilder sb = new StringBuilder("# Puzzle report\n\n");
        sb.append("Run `").append(r.get("run_dir").asText()).append("`, hardware ").append(r.get("hardware").asText())
                .append(", workload ").append(r.get("workload").toString()).append(".\n\n");
        sb.append("| model | kind | target tok/s | KL to parent | top-1 | LM loss | ppl | params | predicted tok/s | predicted MiB | measured prefill tok/s | measured decode tok/s |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (JsonNode m : r.get("models")) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.4g | %.3f | %.4f | %.3f | %d | %.0f | %.3f | %.0f | %.0f |\n",
                    m.get("name").asText(), m.get("kind").asText(), m.has("target_tokens_per_s") ? String.format(Locale.ROOT, "%.0f", m.get("target_tokens_per_s").asDouble()) : "-",
                    m.get("kl_div").asDouble(), m.get("top1_agreement").asDouble(), m.get("lm_loss").asDouble(), m.get("perplexity").asDouble(),
                    m.get("parameters").asLong(), m.get("predicted_tokens_per_s").asDouble(), m.get("predicted_memory_mib").asDouble(),
                    m.get("measured_prefill_tokens_per_s").asDouble(), m.get("measured_decode_tokens_per_s").asDouble()));
        }
        sb.append("\n## Puzzle against the baselines\n\n");
        for (String s : summary(r)) sb.append("- ").append(s).append('\n');
        if (!r.get("infeasible").isEmpty()) {
            sb.append("\n## Budgets no architecture meets\n\n");
            for (JsonNode s : r.get("infeasible")) sb.append("- ").append(s.asText()).append('\n');
        }
        sb.append("\n## Blocks chosen per layer\n\n");
        for (JsonNode m : r.get("models")) {
            sb.append("- **").append(m.get("name").asText()).append("**: ");
            List<String> b = new ArrayList<>();
            for (JsonNode l : m.get("blocks")) b.add(l.get("block").asText());
            sb.append(String.join(" | ", b)).append('\n');
        }
        return sb.toString();
    }

    // ---- HTML with inline SVG ----

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

    private static Series series(JsonNode r, String kind, String run, String xKey, boolean line, boolean dashed) {
        List<JsonNode> ms = new ArrayList<>();
        for (JsonNode m : r.get("models")) if (m.get("kind").asText().equals(kind)) ms.add(m);
        ms.sort((a, b) -> Double.compare(a.get(xKey).asDouble(), b.get(xKey).asDouble()));
        double[] x = new double[ms.size()], y = new double[ms.size()];
        String[] l = new String[ms.size()];
        for (int i = 0; i < ms.size(); i++) {
            x[i] = ms.get(i).get(xKey).asDouble();
            y[i] = ms.get(i).get("kl_div").asDouble();
            l[i] = ms.get(i).get("name").asText();
        }
        String name = (run.isEmpty() ? "" : run + ": ") + kind;
        return new Series(name, color(kind), x, y, l, line, dashed);
    }

    /** The report page; several runs overlay their frontiers (puzzle report --compare). */
    static String html(List<JsonNode> runs, String title) {
        StringBuilder sb = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(esc(title)).append("</title>");
        sb.append("<style>body{font-family:sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;font-size:13px}"
                + "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}td.l{text-align:left}"
                + ".blk td{font-size:11px;text-align:center}.verdict{margin:4px 0}</style></head><body>");
        sb.append("<h1>").append(esc(title)).append("</h1>");
        for (String xKey : new String[]{"predicted_tokens_per_s", "measured_decode_tokens_per_s"}) {
            List<Series> ss = new ArrayList<>();
            int i = 0;
            for (JsonNode r : runs) {
                String run = runs.size() > 1 ? Path.of(r.get("run_dir").asText()).getFileName() + " (" + r.get("hardware").asText() + ")" : "";
                for (String kind : new String[]{"puzzle", "uniform", "layer-drop", "parent"}) {
                    Series s = series(r, kind, run, xKey, kind.equals("puzzle"), i > 0);
                    if (s.x().length > 0) ss.add(runs.size() > 1 && kind.equals("puzzle") ? new Series(s.name(), COLORS[i % COLORS.length], s.x(), s.y(), s.labels(), true, i > 0) : s);
                }
                i++;
            }
            String xl = xKey.startsWith("predicted") ? "predicted throughput on the hardware profile (tokens/s)" : "measured decode throughput on this machine (tokens/s)";
            sb.append("<section class=\"frontier\"><h2>Accuracy vs throughput: ").append(xKey.startsWith("predicted") ? "predicted" : "measured").append("</h2>")
                    .append(scatter("KL to parent vs " + xl, xl, "KL(parent ‖ child) per token", ss)).append("</section>");
        }
        for (JsonNode r : runs) {
            sb.append("<section class=\"run\"><h2>Run ").append(esc(r.get("run_dir").asText())).append("</h2><p>Hardware ").append(esc(r.get("hardware").asText()))
                    .append(", workload ").append(esc(r.get("workload").toString())).append("</p>");
            sb.append("<h3>Puzzle against the baselines</h3>");
            for (String s : summary(r)) sb.append("<p class=\"verdict\">").append(esc(s)).append("</p>");
            for (JsonNode s : r.get("infeasible")) sb.append("<p class=\"verdict\">Budget not met: ").append(esc(s.asText())).append("</p>");
            sb.append("<h3>Models</h3><table class=\"models\"><tr><th>model</th><th>kind</th><th>target tok/s</th><th>KL</th><th>top-1</th><th>LM loss</th><th>ppl</th>"
                    + "<th>params</th><th>predicted tok/s</th><th>predicted MiB</th><th>measured prefill tok/s</th><th>measured decode tok/s</th></tr>");
            for (JsonNode m : r.get("models")) {
                sb.append(String.format(Locale.ROOT, "<tr><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%s</td><td>%.4g</td><td>%.3f</td><td>%.4f</td><td>%.3f</td><td>%d</td><td>%.0f</td><td>%.3f</td><td>%.0f</td><td>%.0f</td></tr>",
                        esc(m.get("name").asText()), esc(m.get("kind").asText()), m.has("target_tokens_per_s") ? fmt(m.get("target_tokens_per_s").asDouble()) : "-",
                        m.get("kl_div").asDouble(), m.get("top1_agreement").asDouble(), m.get("lm_loss").asDouble(), m.get("perplexity").asDouble(), m.get("parameters").asLong(),
                        m.get("predicted_tokens_per_s").asDouble(), m.get("predicted_memory_mib").asDouble(), m.get("measured_prefill_tokens_per_s").asDouble(),
                        m.get("measured_decode_tokens_per_s").asDouble()));
            }
            sb.append("</table><h3>Block of every layer</h3><table class=\"blk\"><tr><th>model</th>");
            int L = r.get("models").get(0).get("blocks").size();
            for (int l = 0; l < L; l++) sb.append("<th>").append(l).append("</th>");
            sb.append("</tr>");
            for (JsonNode m : r.get("models")) {
                sb.append("<tr><td class=\"l\">").append(esc(m.get("name").asText())).append("</td>");
                for (JsonNode b : m.get("blocks")) {
                    String d = b.get("block").asText();
                    String bg = d.contains("attn=no_op") ? "#fde0dd" : d.contains("attn=linear") ? "#fff3cd" : d.contains("window") ? "#e0f3db" : "#deebf7";
                    sb.append("<td style=\"background:").append(bg).append("\" title=\"").append(esc(b.get("variant").asText())).append("\">")
                            .append(esc(d.replace("attn=", "").replace(" ffn=", " / "))).append("</td>");
                }
                sb.append("</tr>");
            }
            sb.append("</table><h3>Predicted runtime per layer (ms)</h3>");
            List<Series> bars = new ArrayList<>();
            int k = 0;
            for (JsonNode m : r.get("models")) {
                JsonNode per = m.get("predicted_layer_runtime_ms");
                double[] x = new double[per.size()], y = new double[per.size()];
                String[] lab = new String[per.size()];
                for (int l = 0; l < per.size(); l++) {
                    x[l] = l;
                    y[l] = per.get(l).asDouble();
                    lab[l] = m.get("name").asText() + " layer " + l;
                }
                bars.add(new Series(m.get("name").asText(), COLORS[k++ % COLORS.length], x, y, lab, true, false));
            }
            sb.append(scatter("Predicted runtime of each layer", "layer", "runtime (ms)", bars)).append("</section>");
        }
        return sb.append("</body></html>\n").toString();
    }
}
