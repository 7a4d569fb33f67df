package dev.puzzle.core.train;

import java.util.List;

/**
 * A trainable sub-block of a decoder layer: it maps the residual stream x (S sequences × T tokens ×
 * D, positions 0..T−1 in each sequence) to its contribution f(x), which the layer adds to x. Forward
 * returns what backward needs; backward takes d f(x), accumulates parameter gradients and returns dx.
 */
public interface SubBlock {
    List<Param> params();

    /** Forward over x (S·T rows of D). */
    Saved forward(float[] x, int S, int T);

    /** Backward from dOut (the gradient of the contribution); accumulates into params' g, returns dx. */
    float[] backward(Saved saved, float[] dOut);

    /** What forward keeps for backward; {@code out} is the contribution f(x). */
    interface Saved {
        float[] out();
    }

    default void zeroGrad() {
        for (Param p : params()) p.zeroGrad();
    }
}
