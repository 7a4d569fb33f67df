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
                          String measurement, Double memoryBudgetMib, List<ModelResult> models, List<String> infeasible, List<FrontierPoint> frontier,
                          List<Recommendation> recommendations, List<Comparison> comparisons, String summary, List<String> leftOut,
                          Evaluation evaluation, Metadata metadata, Double fusionThreshold, String task, RequestLevel requests) {

    /** The report, saying also what training left out (candidates whose BLD diverged, children whose GKD did). */
    public ReportModel withLeftOut(List<String> why) {
        return new ReportModel(runDir, config, hardware, costModel, workload, parentTokensPerS, measurement, memoryBudgetMib, models, infeasible, frontier,
                recommendations, comparisons, summary, List.copyOf(why), evaluation, metadata, fusionThreshold, task, requests);
    }

    /** The report as found in {@code dir} (a run directory moved or copied since it was written). */
    public ReportModel atRunDir(String dir) {
        return new ReportModel(dir, config, hardware, costModel, workload, parentTokensPerS, measurement, memoryBudgetMib, models, infeasible, frontier,
                recommendations, comparisons, summary, leftOut, evaluation, metadata, fusionThreshold, task, requests);
    }

    /**
     * The report with how the models were evaluated, the run's metadata, the FFN fusion threshold (null: no fusion
     * searched) and the multiple-choice task in words (null: none).
     */
    public ReportModel with(Evaluation e, Metadata m, Double fusionThreshold, String task) {
        return new ReportModel(runDir, config, hardware, costModel, workload, parentTokensPerS, measurement, memoryBudgetMib, models, infeasible, frontier,
                recommendations, comparisons, summary, leftOut, e, m, fusionThreshold, task, requests);
    }

    /** The report with {@code line} added to its summary (a verdict of the run as a whole). */
    public ReportModel withSummaryLine(String line) {
        return new ReportModel(runDir, config, hardware, costModel, workload, parentTokensPerS, measurement, memoryBudgetMib, models, infeasible, frontier,
                recommendations, comparisons, summary == null || summary.isEmpty() ? line : summary + " " + line, leftOut, evaluation, metadata, fusionThreshold,
                task, requests);
    }

    /** The report with its request-level efficiency (null: the workload states no tokens per request). */
    public ReportModel withRequests(RequestLevel r) {
        return new ReportModel(runDir, config, hardware, costModel, workload, parentTokensPerS, measurement, memoryBudgetMib, models, infeasible, frontier,
                recommendations, comparisons, summary, leftOut, evaluation, metadata, fusionThreshold, task, r);
    }

    /**
     * Request-level efficiency (the gpt-oss-puzzle paper's measure): for each reasoning effort of the workload its tokens per
     * request, and each model's requests/s = tokens/s ÷ its tokens per request, predicted on the profile and measured here.
     * A model's tokens per request are the effort's times its generated length over the parent's, both measured by greedy
     * generation from {@code prompts} held-out prompts of {@code promptTokens} tokens to the end of the text or {@code cap}
     * tokens — so a per-token gain erased by longer output shows as no gain.
     */
    public record RequestLevel(List<Effort> efforts, int prompts, int promptTokens, int cap, List<RequestRow> rows) {
        /** Each model's rates from the efforts and the measured mean generated tokens (the parent's among them). */
        public static RequestLevel of(java.util.Map<String, Integer> efforts, java.util.Map<String, Double> generated, List<ModelResult> models,
                                      int prompts, int promptTokens, int cap) {
            List<Effort> es = new ArrayList<>();
            efforts.forEach((k, v) -> es.add(new Effort(k, v)));
            ModelResult parent = models.stream().filter(m -> m.kind().equals("parent")).findFirst().orElse(null);
            Double pg = parent == null ? null : generated.get(parent.name());
            List<RequestRow> rows = new ArrayList<>();
            for (ModelResult m : models) {
                Double g = generated.get(m.name());
                if (g == null) continue;
                double ratio = pg != null && pg > 0 ? g / pg : 1.0;
                List<Rate> rates = new ArrayList<>();
                for (Effort e : es) {
                    double tpr = e.tokensPerRequest() * ratio;
                    rates.add(new Rate(e.name(), tpr, tpr > 0 ? m.predictedTokensPerS() / tpr : Double.NaN, tpr > 0 ? m.measuredWorkloadTokensPerS() / tpr : Double.NaN));
                }
                rows.add(new RequestRow(m.name(), m.kind(), g, ratio, rates));
            }
            return new RequestLevel(es, prompts, promptTokens, cap, rows);
        }

        public String describe() {
            return String.format(Locale.ROOT, "Requests/s = tokens/s ÷ tokens per request; a model's tokens per request are the effort's times its generated"
                    + " length over the parent's (greedy from %d held-out prompts of %d tokens to the end of the text or %d tokens).", prompts, promptTokens, cap);
        }
    }

    /** A reasoning effort and the tokens a request of it generates (the parent's). */
    public record Effort(String name, int tokensPerRequest) {}

    /** One model: its mean generated tokens per prompt, that over the parent's, and its rate per effort. */
    public record RequestRow(String name, String kind, double generated, double lengthRatio, List<Rate> rates) {}

    /** Tokens per request and requests/s at one effort, predicted on the profile and measured on this machine (its workload throughput). */
    public record Rate(String effort, double tokensPerRequest, double predictedRequestsPerS, double measuredRequestsPerS) {}

    /**
     * The held-out text every model was scored on: {@code sequences} of {@code context} tokens each, the context
     * coming from {@code source} (the workload's prefill + generation unless {@code data.eval_context} says otherwise).
     */
    public record Evaluation(int context, int sequences, long tokens, String source) {
        public String describe() {
            return String.format(Locale.ROOT, "KL, top-1 agreement, hidden-state cosine and LM loss on %d held-out sequences of %d tokens (%d tokens;"
                    + " context %d = %s)", sequences, context, tokens, context, source);
        }
    }

    /** What made the run: when, by which toolkit build, from which config (its text), with which seed, on which backend. */
    public record Metadata(String date, String toolkit, String commit, String configText, long seed, String backend) {}

    /**
     * The child to take at one budget and why: the least-KL Puzzle child meeting it, what it gives up against
     * the parent, and which budget binds (the one with the least slack, as a fraction of the budget).
     */
    public record Recommendation(String target, double targetTokensPerS, String name, String why, String binding, double throughputSlack,
                                 Double memorySlack) {}

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
        MAMBA2("attention replaced by a Mamba-2 mixer", "#d9f0f3"), NO_ATTENTION("no attention", "#fde0dd"), FUSED("part of a fused FFN run", "#e5d8f0");

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
                case AttentionConfig.Mamba2 m -> MAMBA2;
                case AttentionConfig.NoOp n -> NO_ATTENTION;
                case AttentionConfig.Quantized q -> of(new BlockConfig(q.base(), b.ffn()));
            };
        }
    }

    /** The interquartile range of a measured rate over the timing repeats. */
    public record Spread(double q1, double q3) {
        /** The quartiles of a measured rate. */
        public static Spread of(dev.puzzle.core.eval.Throughput.Stat s) {
            return new Spread(s.q1(), s.q3());
        }

        public boolean overlaps(Spread o) {
            return o != null && q1 <= o.q3 && o.q1 <= q3;
        }
    }

    /**
     * One model's numbers. Measured rates are medians over the timing repeats, with their interquartile ranges.
     * {@code measuredWorkloadTokensPerS}: generated tokens per second of the budgets' workload on this machine,
     * prefill included (the CPU decoder runs the batch's sequences one after another, so the batch's rate is one
     * sequence's); {@code measuredDecodeTokensPerS}: batch-1 decode. {@code sample}: a greedy continuation of
     * the report's sample prompt. {@code qad}: what quantization-aware distillation did to a child with quantized parts
     * ({@code compress.qad}), in words; null when it did not run. {@code llamaCpp}: its decode speed in real llama.cpp beside
     * this toolkit's; null without {@code compress.llama_cpp} or a GGUF.
     */
    public record ModelResult(String name, String kind, String target, Double targetTokensPerS, boolean gkd, String model, String solvedBy,
                              double klDiv, double top1Agreement, double hiddenCosine, double lmLoss, double perplexity, long parameters,
                              double measuredPrefillTokensPerS, double measuredDecodeTokensPerS, double measuredWorkloadTokensPerS,
                              Spread measuredDecodeSpread, Spread measuredWorkloadSpread,
                              double predictedRuntimeMs, double predictedMemoryMib, double predictedTokensPerS,
                              List<Double> predictedLayerRuntimeMs, List<LayerBlock> blocks, String gguf, String ggufRefused, String hfArchitecture,
                              String sample, Double taskAccuracy, Double taskAccuracyNorm, String qad, LlamaCpp llamaCpp) {}

    /**
     * A child's GGUF decoded by real llama.cpp on this machine beside this toolkit decoding the same child: one thread each,
     * greedy from BOS for {@code positions} positions ({@code compress.llama_cpp}); node-llama-cpp's {@code version}.
     */
    public record LlamaCpp(double llamaCppTokensPerS, double puzzleTokensPerS, int positions, String version) {}

    /**
     * The same model with its measured rates replaced: batch-1 prefill and decode (with its quartiles), and the workload's
     * generated tokens/s (with its quartiles) — the interleaved timings of a whole run.
     */
    public static ModelResult withMeasured(ModelResult m, double prefill, double decode, Spread decodeSpread, double workload, Spread workloadSpread) {
        return new ModelResult(m.name(), m.kind(), m.target(), m.targetTokensPerS(), m.gkd(), m.model(), m.solvedBy(), m.klDiv(), m.top1Agreement(),
                m.hiddenCosine(), m.lmLoss(), m.perplexity(), m.parameters(), prefill, decode, workload, decodeSpread, workloadSpread, m.predictedRuntimeMs(),
                m.predictedMemoryMib(), m.predictedTokensPerS(), m.predictedLayerRuntimeMs(), m.blocks(), m.gguf(), m.ggufRefused(), m.hfArchitecture(),
                m.sample(), m.taskAccuracy(), m.taskAccuracyNorm(), m.qad(), m.llamaCpp());
    }

    /** The prompt every model's sample continues (greedy). */
    public static final String SAMPLE_PROMPT = "Once upon a time";

    public record FrontierPoint(String target, double targetTokensPerS, String name, double klDiv, double predictedTokensPerS,
                                double measuredWorkloadTokensPerS, double measuredDecodeTokensPerS) {}

    /** Puzzle against uniform width pruning at one target; {@code uniform} null when no uniform model fits. */
    public record Comparison(String target, double targetTokensPerS, String puzzle, String uniform, Boolean puzzleBetter, String verdict) {}

    /** The frontier, the comparisons and the summary, from the models' numbers. */
    public static ReportModel build(String runDir, String config, String hardware, String costModel, Workload w, double parentTokensPerS,
                                    String measurement, Double memoryBudgetMib, List<ModelResult> models, List<String> infeasible, List<String> targets) {
        List<FrontierPoint> frontier = new ArrayList<>();
        List<Recommendation> recs = new ArrayList<>();
        List<Comparison> cmp = new ArrayList<>();
        ModelResult parent = models.stream().filter(m -> m.kind().equals("parent")).findFirst().orElse(null);
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
            recs.add(recommend(t, tps, best, parent, hardware, memoryBudgetMib, models));
            ModelResult fp8 = find(models, "fp8-global", t);
            if (fp8 != null) {
                cmp.add(new Comparison(t, tps, best.name(), fp8.name(), null, String.format(Locale.ROOT,
                        "At %s: KV precision per layer — Puzzle KL %.4g vs %.4g with every KV cache in FP8 at the same budget (%s).", label(t, tps),
                        best.klDiv(), fp8.klDiv(), best.klDiv() < fp8.klDiv() ? "the per-layer choice is better"
                                : best.klDiv() == fp8.klDiv() ? "the same" : "the global setting is better")));
            }
            for (ModelResult f : models) {
                if (!f.kind().equals("uniform-format") || !t.equals(f.target())) continue;
                cmp.add(new Comparison(t, tps, best.name(), f.name(), null, String.format(Locale.ROOT,
                        "At %s: weight precision per block — Puzzle KL %.4g%s vs %.4g for %s%s at the same budget (%s).", label(t, tps), best.klDiv(),
                        qadKept(best) ? " (after QAD)" : "", f.klDiv(), f.solvedBy() == null ? f.name() : f.solvedBy(),
                        qadKept(f) ? ", then QAD" : "", best.klDiv() < f.klDiv() ? "the per-block choice is better"
                                : best.klDiv() == f.klDiv() ? "the same" : "the uniform format is better")));
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
            boolean noise = best.measuredWorkloadSpread() != null && best.measuredWorkloadSpread().overlaps(uni.measuredWorkloadSpread());
            String verdict = String.format(Locale.ROOT, "At %s: Puzzle KL %.4g vs uniform pruning %.4g, measured workload throughput %s vs %s tokens/s"
                            + " (batch-1 decode %.0f vs %.0f) — %s%s.", label(t, tps), pk, uk, rate(ps, best.measuredWorkloadSpread()),
                    rate(us, uni.measuredWorkloadSpread()), best.measuredDecodeTokensPerS(), uni.measuredDecodeTokensPerS(),
                    lowerKl && fastEnough ? "Puzzle is better"
                            : !lowerKl ? "Puzzle is NOT better: its KL is not lower"
                            : "Puzzle is NOT better: its measured workload throughput is more than " + Math.round(SPEED_TOLERANCE * 100) + "% lower",
                    noise ? " (the two throughputs' interquartile ranges overlap: their difference is within this machine's timing noise)" : "");
            cmp.add(new Comparison(t, tps, best.name(), uni.name(), lowerKl && fastEnough, verdict));
        }
        String summary = compared == 0 ? "No uniform-width baseline fits any budget, so none is compared."
                : String.format(Locale.ROOT, "Puzzle's children have lower KL than uniform pruning at equal or better measured workload throughput"
                + " (within %d%%) on %d of %d budgets.", Math.round(SPEED_TOLERANCE * 100), wins, compared);
        return new ReportModel(runDir, config, hardware, costModel, w, parentTokensPerS, measurement, memoryBudgetMib, List.copyOf(models),
                List.copyOf(infeasible), frontier, recs, cmp, summary, List.of(), null, null, null, null, null);
    }

    /**
     * A child's length-normalised task accuracy (acc_norm, the one lm-evaluation-harness reports for such tasks) as a
     * fraction of the parent's; null without a task, or when the parent scores 0.
     */
    public static Double retained(ModelResult m, ModelResult parent) {
        if (m.taskAccuracyNorm() == null || parent == null || parent.taskAccuracyNorm() == null || !(parent.taskAccuracyNorm() > 0)) return null;
        return m.taskAccuracyNorm() / parent.taskAccuracyNorm();
    }

    /** A measured rate with its interquartile range, as the report prints it. */
    public static String rate(double median, Spread s) {
        return s == null ? String.format(Locale.ROOT, "%.0f", median) : String.format(Locale.ROOT, "%.0f [%.0f–%.0f]", median, s.q1(), s.q3());
    }

    static Recommendation recommend(String t, double tps, ModelResult best, ModelResult parent, String hardware, Double memoryBudgetMib, List<ModelResult> models) {
        double tSlack = (best.predictedTokensPerS() - tps) / tps;
        Double mSlack = memoryBudgetMib == null ? null : (memoryBudgetMib - best.predictedMemoryMib()) / memoryBudgetMib;
        boolean memoryBinds = mSlack != null && mSlack < tSlack;
        String binding = memoryBinds
                ? String.format(Locale.ROOT, "memory binds: %.2f of %.2f MiB predicted (%.1f%% slack); throughput %.0f vs %.0f tokens/s (%.1f%% over)",
                best.predictedMemoryMib(), memoryBudgetMib, 100 * mSlack, best.predictedTokensPerS(), tps, 100 * tSlack)
                : String.format(Locale.ROOT, "throughput binds: %.0f tokens/s predicted on %s for a target of %.0f (%.1f%% over)%s", best.predictedTokensPerS(),
                hardware, tps, 100 * tSlack, mSlack == null ? "" : String.format(Locale.ROOT, "; memory %.2f of %.2f MiB (%.1f%% slack)",
                best.predictedMemoryMib(), memoryBudgetMib, 100 * mSlack));
        binding += measuredCheck(t, tps, best, parent, hardware, models);
        String why = parent == null ? String.format(Locale.ROOT, "KL %.4g", best.klDiv())
                : String.format(Locale.ROOT, "the least KL to the parent of the children that meet %s: KL %.4g, top-1 agreement %.1f%%, LM loss %.4f vs the parent's %.4f"
                        + " (+%.4f), %.0f%% of the parent's parameters; measured here %sx the parent's workload throughput",
                label(t, tps), best.klDiv(), 100 * best.top1Agreement(), best.lmLoss(), parent.lmLoss(), best.lmLoss() - parent.lmLoss(),
                100.0 * best.parameters() / parent.parameters(),
                String.format(Locale.ROOT, "%.2f", best.measuredWorkloadTokensPerS() / parent.measuredWorkloadTokensPerS()))
                + (retained(best, parent) == null ? "" : String.format(Locale.ROOT, "; task acc_norm %.1f%% vs %.1f%% (%.0f%% retained)",
                100 * best.taskAccuracyNorm(), 100 * parent.taskAccuracyNorm(), 100 * retained(best, parent)));
        return new Recommendation(t, tps, best.name(), why, binding, tSlack, mSlack);
    }

    /**
     * Where the budgets are this machine's own ({@code local-cpu}, or llama.cpp on it: {@code llamacpp-cpu}), whether the child meets its target when measured: a
     * relative target against the parent's measured rate, an absolute one in tokens/s; a miss is said with how far, and
     * the least-KL Puzzle child that does meet it when measured is named. Empty elsewhere (the budgets are another machine's).
     */
    static String measuredCheck(String t, double tps, ModelResult best, ModelResult parent, String hardware, List<ModelResult> models) {
        if (!(hardware.startsWith("local-cpu") || hardware.startsWith("llamacpp-cpu")) || !(best.measuredWorkloadTokensPerS() > 0)) return "";
        boolean relative = t.endsWith("x");
        if (relative && (parent == null || !(parent.measuredWorkloadTokensPerS() > 0))) return "";
        double need = relative ? tps / parent.predictedTokensPerS() * parent.measuredWorkloadTokensPerS() : tps;
        double got = best.measuredWorkloadTokensPerS();
        if (got >= need) return String.format(Locale.ROOT, "; measured here %.0f tokens/s, %.1f%% over the target as measured (%.0f)", got, 100 * (got - need) / need, need);
        ModelResult next = null;
        for (ModelResult m : models) {
            if (m.kind().equals("puzzle") && m.measuredWorkloadTokensPerS() >= need && (next == null || m.klDiv() < next.klDiv())) next = m;
        }
        return String.format(Locale.ROOT, "; MISSED when measured here: %.0f tokens/s, %.1f%% under the target as measured (%.0f)%s", got, 100 * (need - got) / need, need,
                next == null ? "; no Puzzle child meets it when measured" : String.format(Locale.ROOT, "; the least-KL child that meets it when measured: %s (KL %.4g, %.0f tokens/s)",
                        next.name(), next.klDiv(), next.measuredWorkloadTokensPerS()));
    }

    private static String label(String t, double tps) {
        return t.endsWith("x") ? String.format(Locale.ROOT, "%s the parent (%.0f tokens/s)", t, tps) : String.format(Locale.ROOT, "%.0f tokens/s", tps);
    }

    /** How a model's {@code qad} words end when quantization-aware distillation's result was kept. */
    public static final String QAD_KEPT = "kept the QAD result";

    /** Whether quantization-aware distillation ran on the model and its result was kept. */
    static boolean qadKept(ModelResult m) {
        return m.qad() != null && m.qad().endsWith(QAD_KEPT);
    }

    private static ModelResult find(List<ModelResult> models, String kind, String target) {
        for (ModelResult m : models) if (m.kind().equals(kind) && target.equals(m.target())) return m;
        return null;
    }

    /** The lines a terminal shows at the end of compress: how the models were measured, the recommendations, the verdicts. */
    public List<String> summaryLines() {
        List<String> out = new ArrayList<>(measurementLines());
        for (Recommendation r : recommendations) out.add("Recommended at " + label(r.target(), r.targetTokensPerS()) + ": " + r.name() + " — " + r.binding() + ".");
        out.addAll(verdictLines());
        return out;
    }

    /** How the numbers were made: budgets and speeds, the held-out text, the task. */
    public List<String> measurementLines() {
        List<String> out = new ArrayList<>();
        out.add("Budgets are on the predicted throughput of " + hardware + " (" + costModel + "); measured speeds are on this machine, "
                + measurement + ", whose costs can order the models differently.");
        models.stream().filter(m -> m.kind().equals("parent") && m.measuredWorkloadSpread() != null && m.measuredWorkloadTokensPerS() > 0).findFirst()
                .ifPresent(p -> out.add(String.format(Locale.ROOT, "Noise floor: the parent's measured workload throughput spans %.1f%% of its median"
                        + " (its interquartile range over the rounds); a difference in measured speed smaller than that is this machine's noise.",
                        100 * (p.measuredWorkloadSpread().q3() - p.measuredWorkloadSpread().q1()) / p.measuredWorkloadTokensPerS())));
        if (evaluation != null) out.add("Accuracy: " + evaluation.describe() + ".");
        if (task != null) out.add("Task: " + task + "; accuracy = the gold choice has the highest log-likelihood (acc_norm: per byte).");
        return out;
    }

    /** Puzzle against the baselines, budget by budget, and the summary. */
    public List<String> verdictLines() {
        List<String> out = new ArrayList<>();
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
        if (m.qad() != null) out.add("QAD: " + m.qad());
        if (m.llamaCpp() != null) {
            LlamaCpp l = m.llamaCpp();
            out.add(String.format(Locale.ROOT, "decode on this machine, one thread, %d positions from BOS: llama.cpp (node-llama-cpp %s) %.1f tokens/s,"
                    + " this toolkit %.1f tokens/s (%.2fx llama.cpp's)", l.positions(), l.version(), l.llamaCppTokensPerS(), l.puzzleTokensPerS(),
                    l.puzzleTokensPerS() / l.llamaCppTokensPerS()));
        }
        if (m.gguf() != null) out.add("llama.cpp: llama-cli -m " + m.gguf() + " -p 'Once upon a time' --temp 0");
        else if (m.ggufRefused() != null) out.add("llama.cpp: no GGUF (" + m.ggufRefused() + ")");
        String arch = m.hfArchitecture() == null ? "" : m.hfArchitecture();
        out.add("Hugging Face directory: " + m.model() + " (" + (arch.equals("DeciLMForCausalLM")
                ? "DeciLMForCausalLM config.json and safetensors in the Nemotron-NAS layout; no outside loader is verified for its windows,"
                + " linear or fused blocks, so run it here"
                : arch.isEmpty() ? "config.json" : arch + ": transformers' AutoModelForCausalLM loads it")
                + ": puzzle generate " + m.model() + " --temperature 0)");
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
        AtomicFiles.writeString(dir.resolve("index.html"), HtmlReport.render(List.of(this), "Puzzle report: " + Path.of(runDir).getFileName()));
    }
}
