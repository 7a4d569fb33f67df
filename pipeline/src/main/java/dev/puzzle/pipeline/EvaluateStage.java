package dev.puzzle.pipeline;

import dev.puzzle.bld.Scorer;
import dev.puzzle.core.eval.Generator;
import dev.puzzle.core.eval.MultipleChoice;
import dev.puzzle.core.eval.Perplexity;
import dev.puzzle.core.eval.Sampler;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.hardware.TokenRate;
import dev.puzzle.hardware.Workload;
import dev.puzzle.pipeline.report.ReportModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The evaluate stage: one harness for the parent, every child and every baseline — KL to the parent,
 * top-1 agreement, hidden-state cosine and LM loss on the held-out text; measured prefill, batch-1 decode
 * and workload throughput on this machine; predicted costs from the profiled block library, the very numbers
 * the search budgeted (a measured cost model is not timed again here, so prediction and budget agree). A model's result is
 * kept in {@code RUN_DIR/compress/NAME/eval.json}, so a rerun does not measure it again.
 */
public final class EvaluateStage {
    private final Run run;
    private final BlockLibrary library;
    private final Map<String, Double> fixed;
    private final Scorer.Reference reference;
    private final int[][] held;

    /** Runs the parent on the held-out text once, as every model's reference. */
    public EvaluateStage(Run run, BlockLibrary library) {
        this.run = run;
        this.library = library;
        this.fixed = run.dir.fixedCosts();
        this.held = run.heldout();
        this.reference = Scorer.run(run.backend, run.parent, held);
    }

    /**
     * The workload a measurement runs: the budgets' prefill and generation lengths, shortened in proportion
     * when they exceed the model's context.
     */
    public static int[] measuredLengths(Workload w, int context) {
        int p = Math.max(1, w.prefillLength()), g = Math.max(1, w.generationLength());
        if (p + g <= context) return new int[]{p, g};
        double f = (double) context / (p + g);
        int gs = Math.max(1, (int) Math.floor(g * f));
        return new int[]{Math.max(1, Math.min(context - gs, (int) Math.floor(p * f))), gs};
    }

    /** How the harness measures, in words, for the report. */
    public String measurement() {
        Workload w = run.config.workload();
        int[] pg = measuredLengths(w, run.parent.config().maxSeqLen());
        RunConfig.Compress cc = run.config.compress();
        String where = LlamaCppProfile.applies(run.config) ? "in real llama.cpp (one thread; each model's GGUF), " : "";
        return where + String.format(java.util.Locale.ROOT, "workload throughput = generated tokens / (prefill + decode) time of one sequence of the budgets' workload"
                        + " (prefill %d, generate %d; the CPU decoder runs the batch of %d one sequence after another, so the batch's rate is one sequence's),"
                        + " batch-1 prefill and decode on a prompt of %d and %d generated tokens; median [interquartile range] of %d rounds that each time"
                        + " every model once, in an order rotating by round (this machine's speed drifts over a run: interleaving puts the drift on every model"
                        + " alike), after the parent's time settled and an untimed round",
                pg[0], pg[1], w.batch(), cc.prompt(), cc.generate(), cc.reps());
    }

    /**
     * Every number the report shows for one model but its measured speeds (zero here), which {@link Timings} takes for
     * all models together, interleaved, so that this machine's drift over a run falls on every model alike.
     */
    public ReportModel.ModelResult measure(Plan p, Checkpoint ck, String modelPath, RealizeStage.GgufExport gguf) {
        RunConfig.Compress cc = run.config.compress();
        Workload w = run.config.workload();
        ModelConfig c = ck.config();
        Map<String, Double> m = Scorer.metrics(run.backend, reference, Scorer.run(run.backend, ck, held), held, c.vocabSize(), c.dim());
        Decoder d = new Decoder(ck, run.backend);
        double nll = Perplexity.meanNll(d, held, Integer.MAX_VALUE); // each sequence in one prefill
        String sample = sample(d);
        Run.TaskFile task = run.task();
        MultipleChoice.Result acc = task == null ? null : MultipleChoice.evaluate(d, run.tokenizer(), task.items(), null);
        double runtimeMs = fixed.getOrDefault(LibraryKeys.RUNTIME_MS, 0.0), memoryMib = fixed.getOrDefault(LibraryKeys.MEMORY_MIB, 0.0);
        List<Double> perLayer = new ArrayList<>();
        List<ReportModel.LayerBlock> blocks = new ArrayList<>();
        for (BlockLibrary.Replacement r : p.choice()) { // the very replacements the search budgeted; a fused run counts once, at its first layer
            double ms = r.values().getOrDefault(LibraryKeys.RUNTIME_MS, Double.NaN), mib = r.values().getOrDefault(LibraryKeys.MEMORY_MIB, Double.NaN);
            if (Double.isNaN(ms) || Double.isNaN(mib)) throw new PuzzleException(library.source() + ": " + r.layerKey() + " variant '" + r.name() + "' has no costs");
            runtimeMs += ms;
            memoryMib += mib;
            for (int l = r.first(); l <= r.last(); l++) {
                perLayer.add(l == r.first() ? ms : 0.0);
                blocks.add(ReportModel.LayerBlock.of(l, r));
            }
        }
        boolean gkd = cc.gkd() != null && p.kind() != Plan.Kind.PARENT && !Files.exists(RealizeStage.gkdDiverged(run, p.name()));
        return new ReportModel.ModelResult(p.name(), p.kind().label, p.target() == null ? null : p.target().label(),
                p.target() == null ? null : p.targetTokensPerSecond(), gkd, modelPath, p.solvedBy(),
                m.get(LibraryKeys.KL_DIV), m.get(LibraryKeys.TOP1_AGREEMENT), m.get(LibraryKeys.HIDDEN_COSINE), nll, Math.exp(nll),
                ck.parameterCount(), 0, 0, 0, null, null, // measured speeds: every model's together, interleaved (Timings)
                runtimeMs, memoryMib, TokenRate.tokensPerSecond(runtimeMs, w), perLayer, blocks, gguf.path(), gguf.refused(),
                gguf.hfArchitecture(), sample, acc == null ? null : acc.accuracy(), acc == null ? null : acc.accuracyNorm(), qad(p), llamaCpp(ck, gguf));
    }

    /** The child's GGUF decoded by real llama.cpp beside this toolkit, one thread each ({@code compress.llama_cpp}); null without either. */
    private ReportModel.LlamaCpp llamaCpp(Checkpoint ck, RealizeStage.GgufExport gguf) {
        RunConfig.LlamaCpp l = run.config.compress().llamaCpp();
        if (l == null || gguf.path() == null) return null;
        try {
            LlamaCppSpeed.Result r = LlamaCppSpeed.measure(l.dir(), java.nio.file.Path.of(gguf.path()), ck, run.tokenizer(), Math.min(l.steps(), ck.config().maxSeqLen()));
            return new ReportModel.LlamaCpp(r.llamaCppTokensPerS(), r.puzzleTokensPerS(), r.positions(), r.version());
        } catch (java.io.IOException e) {
            throw new PuzzleException(gguf.path() + ": cannot measure in llama.cpp: " + e.getMessage(), e);
        }
    }

    /** What QAD did to this child ({@code qad.json}), in words; null when it did not run. */
    private String qad(Plan p) {
        java.nio.file.Path f = run.dir.layout().childQad(p.name());
        if (!Files.exists(f)) return null;
        var j = dev.puzzle.core.config.Json.readObject(f, "the child's QAD record");
        return String.format(java.util.Locale.ROOT, "%d quantized matrices distilled quantization-aware; KL %.4g before, %.4g after (on %s): %s",
                j.path("quantized_matrices").asInt(), j.path("kl_before").asDouble(), j.path("kl_after").asDouble(), j.path("judged_on").asText(),
                j.path("kept").asText().equals("qad") ? dev.puzzle.pipeline.report.ReportModel.QAD_KEPT : "kept the child before QAD");
    }

    /** Tokens a sample continues the prompt by (greedy). */
    static final int SAMPLE_TOKENS = 48;

    /** The model's greedy continuation of {@link ReportModel#SAMPLE_PROMPT}, prompt included. */
    private String sample(Decoder d) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try {
            int promptTokens = run.tokenizer().encode(ReportModel.SAMPLE_PROMPT, true, false).length;
            Generator.generate(d, run.tokenizer(), ReportModel.SAMPLE_PROMPT, promptTokens + SAMPLE_TOKENS, new Sampler(run.backend, 0f, 1f, 0), out);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8).strip(); // the generator echoes the prompt
    }

    private Path evalFile(Plan p) {
        return run.dir.layout().childEval(p.name());
    }

    /** Whether a plan was evaluated by an earlier run. */
    public boolean done(Plan p) {
        return Files.exists(evalFile(p));
    }

    /** Realizes (unless done) and evaluates (unless done) one plan; its result is kept in eval.json. */
    public ReportModel.ModelResult run(Plan p, Listener listener) throws IOException {
        Path evalFile = evalFile(p);
        RealizeStage.forgetIfOther(run, p, listener);
        if (Files.exists(evalFile)) return ReportModel.read(evalFile, ReportModel.ModelResult.class, "a model evaluation");
        Checkpoint ck = RealizeStage.run(run, p, listener);
        String path = p.kind() == Plan.Kind.PARENT ? run.parent.source() : RealizeStage.modelDir(run, p).toString();
        RealizeStage.GgufExport gguf = RealizeStage.exportGguf(run, p, ck);
        ReportModel.ModelResult r = measure(p, ck, path, gguf);
        dev.puzzle.core.io.AtomicFiles.writeString(evalFile, ReportModel.json(r));
        return r;
    }
}
