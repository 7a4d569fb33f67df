package dev.puzzle.pipeline.report;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.AtomicFiles;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The compress report as data: every model's numbers from one harness, the frontier, the comparisons
 * against the baselines and their verdicts. {@code report.json} is this record in snake_case;
 * {@link MarkdownReport} and {@link HtmlReport} render it.
 */
public record ReportModel(String runDir, String config, String hardware, String costModel, Workload workload, double parentTokensPerS,
                          String measurement, List<ModelResult> models, List<String> infeasible, List<FrontierPoint> frontier,
                          List<Comparison> comparisons, String summary, List<String> leftOut) {

    /** The report, saying also what training left out (candidates whose BLD diverged, children whose GKD did). */
    public ReportModel withLeftOut(List<String> why) {
        return new ReportModel(runDir, config, hardware, costModel, workload, parentTokensPerS, measurement, models, infeasible, frontier, comparisons,
                summary, List.copyOf(why));
    }

    /** Measured speeds within this fraction count as equal (the noise of timing tiny models on a shared CPU). */
    public static final double SPEED_TOLERANCE = 0.05;

    private static final ObjectMapper JSON = new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT).disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public record Workload(int batch, int prefillLength, int generationLength, String weightDtype, String kvDtype) {}

    /**
     * One layer of a model: its library variant name, its block in brief ({@code attn=gqa4 ffn=dense172}), how
     * the report draws it, and {@code i-j} when the layer is part of a fused FFN run (else null).
     */
    public record LayerBlock(int layer, String variant, String block, Look look, String fusedRun) {
        /** The layer {@code l} of a model made of replacement {@code r}. */
        public static LayerBlock of(int l, dev.puzzle.blocklibrary.BlockLibrary.Replacement r) {
            BlockConfig b = r.blocks().get(l - r.first());
            return new LayerBlock(l, r.name(), b.toString(), r.span() > 1 ? Look.FUSED : Look.of(b), r.span() > 1 ? r.first() + "-" + r.last() : null);
        }
    }

    /** The kinds of layer the block table tells apart by colour, with their legend. */
    public enum Look {
        FULL("full-context attention", "#deebf7"), WINDOW("sliding-window attention", "#e0f3db"), LINEAR("attention replaced by a linear map", "#fff3cd"),
        NO_ATTENTION("no attention", "#fde0dd"), FUSED("part of a fused FFN run", "#e5d8f0");

        public final String legend, colour;

        Look(String legend, String colour) {
            this.legend = legend;
            this.colour = colour;
        }

        /** How a single-layer block is drawn: by its attention variant. */
        public static Look of(BlockConfig b) {
            return switch (b.attention()) {
                case AttentionConfig.Gqa g -> FULL;
                case AttentionConfig.Window w -> WINDOW;
                case AttentionConfig.Linear x -> LINEAR;
                case AttentionConfig.NoOp n -> NO_ATTENTION;
            };
        }
    }

    /**
     * One model's numbers. {@code measuredWorkloadTokensPerS}: generated tokens per second of the budgets'
     * workload on this machine, prefill included (the CPU decoder runs the batch's sequences one after
     * another, so the batch's rate is one sequence's); {@code measuredDecodeTokensPerS}: batch-1 decode.
     */
    public record ModelResult(String name, String kind, String target, Double targetTokensPerS, boolean gkd, String model, String solvedBy,
                              double klDiv, double top1Agreement, double hiddenCosine, double lmLoss, double perplexity, long parameters,
                              double measuredPrefillTokensPerS, double measuredDecodeTokensPerS, double measuredWorkloadTokensPerS,
                              double predictedRuntimeMs, double predictedMemoryMib, double predictedTokensPerS,
                              List<Double> predictedLayerRuntimeMs, List<LayerBlock> blocks, String gguf, String ggufRefused, String hfArchitecture) {}

    public record FrontierPoint(String target, double targetTokensPerS, String name, double klDiv, double predictedTokensPerS,
                                double measuredWorkloadTokensPerS, double measuredDecodeTokensPerS) {}

    /** Puzzle against uniform width pruning at one target; {@code uniform} null when no uniform model fits. */
    public record Comparison(String target, double targetTokensPerS, String puzzle, String uniform, Boolean puzzleBetter, String verdict) {}

    /** The frontier, the comparisons and the summary, from the models' numbers. */
    public static ReportModel build(String runDir, String config, String hardware, String costModel, Workload w, double parentTokensPerS,
                                    String measurement, List<ModelResult> models, List<String> infeasible, List<String> targets) {
        List<FrontierPoint> frontier = new ArrayList<>();
        List<Comparison> cmp = new ArrayList<>();
        int wins = 0, compared = 0;
        for (String t : targets) {
            // The frontier: for each target, the least-KL Puzzle child whose predicted throughput meets it.
            ModelResult target = find(models, "puzzle", t);
            if (target == null) continue;
            double tps = target.targetTokensPerS();
            ModelResult best = null;
            for (ModelResult m : models) {
                if (!m.kind().equals("puzzle") || m.predictedTokensPerS() < tps * (1 - 1e-9)) continue;
                if (best == null || m.klDiv() < best.klDiv()) best = m;
            }
            if (best == null) continue;
            frontier.add(new FrontierPoint(t, tps, best.name(), best.klDiv(), best.predictedTokensPerS(), best.measuredWorkloadTokensPerS(),
                    best.measuredDecodeTokensPerS()));
            ModelResult fp8 = find(models, "fp8-global", t);
            if (fp8 != null) {
                cmp.add(new Comparison(t, tps, best.name(), fp8.name(), null, String.format(Locale.ROOT,
                        "At %s: KV precision per layer — Puzzle KL %.4g vs %.4g with every KV cache in FP8 at the same budget (%s).", label(t, tps),
                        best.klDiv(), fp8.klDiv(), best.klDiv() < fp8.klDiv() ? "the per-layer choice is better"
                                : best.klDiv() == fp8.klDiv() ? "the same" : "the global setting is better")));
            }
            ModelResult uni = find(models, "uniform", t);
            if (uni == null) {
                cmp.add(new Comparison(t, tps, best.name(), null, null, String.format(Locale.ROOT,
                        "At %s: no uniform-width baseline fits the budget; Puzzle's %s has KL %.4g.", label(t, tps), best.name(), best.klDiv())));
                continue;
            }
            compared++;
            double pk = best.klDiv(), uk = uni.klDiv();
            double ps = best.measuredWorkloadTokensPerS(), us = uni.measuredWorkloadTokensPerS();
            boolean lowerKl = pk < uk, fastEnough = ps >= us * (1 - SPEED_TOLERANCE);
            if (lowerKl && fastEnough) wins++;
            String verdict = String.format(Locale.ROOT, "At %s: Puzzle KL %.4g vs uniform pruning %.4g, measured workload throughput %.0f vs %.0f tokens/s"
                            + " (batch-1 decode %.0f vs %.0f) — %s.", label(t, tps), pk, uk, ps, us, best.measuredDecodeTokensPerS(), uni.measuredDecodeTokensPerS(),
                    lowerKl && fastEnough ? "Puzzle is better"
                            : !lowerKl ? "Puzzle is NOT better: its KL is not lower"
                            : "Puzzle is NOT better: its measured workload throughput is more than " + Math.round(SPEED_TOLERANCE * 100) + "% lower");
            cmp.add(new Comparison(t, tps, best.name(), uni.name(), lowerKl && fastEnough, verdict));
        }
        String summary = compared == 0 ? "No uniform-width baseline fits any budget, so none is compared."
                : String.format(Locale.ROOT, "Puzzle's children have lower KL than uniform pruning at equal or better measured workload throughput"
                + " (within %d%%) on %d of %d budgets.", Math.round(SPEED_TOLERANCE * 100), wins, compared);
        return new ReportModel(runDir, config, hardware, costModel, w, parentTokensPerS, measurement, List.copyOf(models), List.copyOf(infeasible),
                frontier, cmp, summary, List.of());
    }

    private static String label(String t, double tps) {
        return t.endsWith("x") ? String.format(Locale.ROOT, "%s the parent (%.0f tokens/s)", t, tps) : String.format(Locale.ROOT, "%.0f tokens/s", tps);
    }

    private static ModelResult find(List<ModelResult> models, String kind, String target) {
        for (ModelResult m : models) if (m.kind().equals(kind) && target.equals(m.target())) return m;
        return null;
    }

    /** The lines a terminal shows at the end of compress. */
    public List<String> summaryLines() {
        List<String> out = new ArrayList<>();
        out.add("Budgets are on the predicted throughput of " + hardware + " (" + costModel + "); measured speeds are on this machine, "
                + measurement + ", whose costs can order the models differently.");
        for (Comparison c : comparisons) out.add(c.verdict());
        out.add(summary);
        return out;
    }

    /**
     * How to run one model outside this toolkit: its GGUF in llama.cpp (or why GGUF cannot hold it), and
     * its Hugging Face directory. Empty for the parent.
     */
    public static List<String> howToRun(ModelResult m) {
        if (m.kind().equals("parent")) return List.of();
        List<String> out = new ArrayList<>();
        if (m.gguf() != null) out.add("llama.cpp: llama-cli -m " + m.gguf() + " -p 'Once upon a time' --temp 0");
        else if (m.ggufRefused() != null) out.add("llama.cpp: no GGUF (" + m.ggufRefused() + ")");
        String arch = m.hfArchitecture() == null ? "" : m.hfArchitecture();
        out.add("Hugging Face directory: " + m.model() + " (" + (arch.equals("DeciLMForCausalLM")
                ? "DeciLMForCausalLM: Nemotron-NAS modeling code loads it, such as vLLM's DeciLMForCausalLM"
                : arch.isEmpty() ? "config.json" : arch + ": transformers' AutoModelForCausalLM loads it")
                + "; here: puzzle generate " + m.model() + " --temperature 0)");
        return out;
    }

    public String toJson() {
        return json(this);
    }

    /** A report record (this, or one model's result) as snake_case JSON. */
    public static String json(Object record) {
        try {
            return JSON.writeValueAsString(record) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize " + record.getClass().getSimpleName(), e);
        }
    }

    /** Reads a report record written by {@link #json}; a file that is not one is named in the error. */
    public static <T> T read(Path file, Class<T> type, String what) {
        try {
            return JSON.readValue(file.toFile(), type);
        } catch (IOException e) {
            throw new PuzzleException(file + ": not " + what + " (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    public static ReportModel readJson(Path file) {
        return read(file, ReportModel.class, "a compress report");
    }

    /** Writes report.json, report.md and index.html into {@code dir}, each atomically. */
    public void write(Path dir) throws IOException {
        AtomicFiles.writeString(dir.resolve("report.json"), toJson());
        AtomicFiles.writeString(dir.resolve("report.md"), MarkdownReport.render(this));
        AtomicFiles.writeString(dir.resolve("index.html"), HtmlReport.render(List.of(this), "Puzzle report: " + runDir));
    }
}
