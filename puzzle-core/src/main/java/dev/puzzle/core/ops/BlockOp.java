package dev.puzzle.core.ops;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.cuda.DeviceOps;
import java.util.List;

/**
 * One sub-block of a decoder layer — an attention variant or an FFN variant — as the one
 * implementation every path runs: the inference decoder ({@link #step}), the trainable model and
 * blockwise distillation ({@link #forward}/{@link #backward}) and the activation cache. The layer
 * adds the op's contribution f(x) to the residual stream x. Built by {@link BlockOps} from a
 * {@code BlockConfig}; {@code docs/adding-a-block-variant.md} says how to add one.
 *
 * Shapes: x holds S sequences × T tokens × D floats, row-major.
 */
public interface BlockOp {

    /** The trainable tensors under their Hugging Face names, in a fixed order (empty for a no-op). */
    List<Param> params();

    /** True for the no-op: f(x) = 0, so walkers skip it. */
    default boolean identity() {
        return false;
    }

    /**
     * Training forward over S sequences of T tokens, each at positions 0..T−1: f(x) and what
     * {@link #backward} needs. {@code x} is kept, not copied; the caller must not change it before backward.
     */
    Saved forward(float[] x, int S, int T);

    /** Backward from dOut = d loss / d f(x): accumulates the params' gradients and returns d loss / d x. */
    float[] backward(Saved saved, float[] dOut);

    /** A fresh per-sequence inference state (a KV cache) for up to {@code capacity} positions; null when the op keeps none. */
    default State newState(int capacity) {
        return null;
    }

    /**
     * Inference: x += f(x) for T tokens of one sequence at positions pos0..pos0+T−1, reading and
     * extending {@code state}. T > 1 is batched prefill, T = 1 the decode step; both give the same
     * result as {@link #forward} on the whole sequence.
     */
    void step(State state, float[] x, int T, int pos0);

    /** What forward keeps for backward; {@code out} is the contribution f(x), (S·T, D). */
    interface Saved {
        float[] out();
    }

    /** An op's inference state for one sequence (e.g. its KV cache). */
    interface State {}

    /**
     * This op's device twin: the same forward and backward on a GPU (its kernels beside this op's host ones),
     * its parameters uploaded, for up to {@code maxSeqs} sequences of T tokens. Ops without one refuse with the
     * reason (a BLD job of such a variant trains on the host and says so).
     */
    default DeviceBlock device(DeviceOps ops, ModelConfig cfg, int maxSeqs, int T) {
        throw new DeviceBlock.Unsupported(getClass().getSimpleName() + " has no device kernels");
    }

    default void zeroGrad() {
        for (Param p : params()) p.zeroGrad();
    }
}
