package dev.puzzle.core.ops;

import dev.puzzle.core.tensor.Tensor;

/**
 * A trainable tensor under its Hugging Face name: its value, and its gradient, allocated on first use
 * (inference never touches it, so a decoder holds no gradient memory).
 */
public final class Param {
    public final String name;
    public final int[] shape;
    public final float[] w;
    private float[] g;

    public Param(String name, Tensor value) {
        this.name = name;
        this.shape = value.shape();
        this.w = value.data();
    }

    /** The gradient, same length as the value, zero until a backward pass accumulates into it. */
    public float[] grad() {
        if (g == null) g = new float[w.length];
        return g;
    }

    public Tensor tensor() {
        return new Tensor(w, shape);
    }

    public void zeroGrad() {
        if (g != null) java.util.Arrays.fill(g, 0f);
    }
}
