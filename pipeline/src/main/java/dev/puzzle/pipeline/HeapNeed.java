package dev.puzzle.pipeline;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;

import java.util.Locale;

/**
 * The heap a stage needs, from the parent's shape and the run's settings, stated before any work: the
 * parent's weights stay mapped in the checkpoint file (outside the heap), so what the heap holds is one
 * layer's activations on the calibration or held-out tokens, one layer's tensors widened to FP32, the
 * training state of the jobs running at once, and the logits the scorer compares. The figures are
 * upper estimates of the largest arrays alive together, plus a fixed share for the JVM and libraries.
 */
public final class HeapNeed {
    private HeapNeed() {}

    /** JVM, classes, OR-Tools, tokenizer, caches: what a run on the smallest model takes. */
    static final long BASE = 320L << 20;

    public enum Stage { LIBRARY, DISTILL, SCORE, COMPRESS }

    /**
     * @param seqLen        tokens per calibration sequence
     * @param evalContext   tokens per held-out sequence
     * @param calibration   calibration sequences
     * @param heldout       held-out sequences
     * @param batch         BLD batch (sequences per step)
     * @param threads       BLD jobs trained at once
     */
    public record Settings(int seqLen, int evalContext, int calibration, int heldout, int batch, int threads) {}

    /** Bytes of heap {@code stage} needs. */
    public static long bytes(ModelConfig c, Settings s, Stage stage) {
        if (stage == Stage.COMPRESS) { // the stages run one after another
            return Math.max(Math.max(bytes(c, s, Stage.LIBRARY), bytes(c, s, Stage.DISTILL)), bytes(c, s, Stage.SCORE));
        }
        long D = c.dim(), HE = c.qDim(), H = c.numHeads(), V = c.vocabSize(), T = s.seqLen();
        long F = 0, GE = 0, layerParams = 0;
        for (BlockConfig b : c.blocks()) {
            long f = width(b.ffn(), D);
            long ge = (long) b.attention().kvHeads() * c.headDim();
            F = Math.max(F, f);
            GE = Math.max(GE, ge);
            layerParams = Math.max(layerParams, 2 * D * HE + 2 * D * ge + 3 * D * f + 2 * D);
        }
        // Floats alive per row of tokens in one forward with its saved state: attention, then FFN.
        long attnRow = 2 * D + 2 * HE + 2 * GE + H * T, ffnRow = 2 * D + 3 * F;
        long perRow = 5 * D + Math.max(attnRow, ffnRow);
        long floats = switch (stage) {
            // Activation cache (input, mid, output and their sums) with one forward's state, then one layer's
            // tensors widened to initialize its candidates, beside the channel scores of the calibration rows.
            case LIBRARY -> s.calibration() * T * Math.max(perRow, 3 * D + 3 * F) + 2 * layerParams;
            // Each job: its layer's cached rows, input and target, the part's weights, gradients and Adam
            // moments, and a batch's forward state and backward temporaries.
            case DISTILL -> s.threads() * (5 * s.calibration() * T * D + 4 * layerParams + 2 * s.batch() * T * perRow);
            // The parent's logits and hidden states on the held-out tokens and a child's beside them, the
            // candidate's tensors (initialized and trained), and one sequence's forward.
            case SCORE -> {
                long E = s.evalContext(), scoreRow = 5 * D + Math.max(2 * D + 2 * HE + 2 * GE + H * E, ffnRow);
                yield 2 * s.heldout() * E * (V + D) + 2 * layerParams + E * (scoreRow + V);
            }
            case COMPRESS -> throw new AssertionError("handled above");
        };
        return BASE + floats * Float.BYTES;
    }

    /** The settings of a run, with {@code threads} BLD jobs at once. */
    public static Settings settings(Run run, int threads) {
        RunConfig rc = run.config;
        RunConfig.Data d = rc.data();
        return new Settings(d.seqLen(), run.evalContext(), d.calibrationSequences(), d.heldoutSequences(), rc.distill().batchSequences(), threads);
    }

    /** Refuses to start {@code stage} when this JVM's heap is smaller than it needs, naming both and the fix. */
    public static void check(Run run, Stage stage, int threads) {
        long need = bytes(run.parent.config(), settings(run, threads), stage), have = Runtime.getRuntime().maxMemory();
        if (need > have) throw new PuzzleException(refusal(run.config.file.toString(), stage, need, have));
    }

    static String refusal(String file, Stage stage, long need, long have) {
        return String.format(Locale.ROOT,
                "%s: %s needs about %s of heap for this parent and these settings (data.seq_len, data.eval_context, data.*.sequences, distill.batch_sequences, threads), "
                        + "but this JVM has %s; run with PUZZLE_JAVA_OPTS=-Xmx%dm, or use fewer or shorter sequences",
                file, stage.name().toLowerCase(Locale.ROOT), gib(need), gib(have), (need >> 20) + 1);
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }

    /** An FFN's width for the parameters (heap copies are FP32 whatever the stored format); rows of activations use the active width. */
    private static long width(FfnConfig f, long D) {
        return switch (f) {
            case FfnConfig.Dense d -> d.intermediateSize();
            case FfnConfig.Relu2 r -> r.intermediateSize();
            case FfnConfig.Moe m -> (long) m.numExperts() * m.expertIntermediate() + m.sharedIntermediate() + m.numExperts();
            case FfnConfig.Linear l -> D;
            case FfnConfig.NoOp n -> 0;
            case FfnConfig.Quantized q -> width(q.base(), D);
        };
    }
}
