package dev.puzzle.core.train;

import dev.puzzle.core.tensor.Tensor;

/** A trainable tensor: its value and its gradient, under a Hugging Face name. */
public final class Param {
    public final String name;
    public final int[] shape;
    public final float[] w;
    public final float[] g;

    public Param(String name, Tensor value) {
        this.name = name;
        this.shape = value.shape();
        this.w = value.data();
        this.g = new float[w.length];
    }

    public Tensor tensor() {
        return new Tensor(w, shape);
    }

    public void zeroGrad() {
        java.util.Arrays.fill(g, 0f);
    }
}
