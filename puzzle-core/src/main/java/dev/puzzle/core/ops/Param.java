package dev.puzzle.core.ops;

import dev.puzzle.core.tensor.Tensor;

/**
 * A tensor of a block op under its Hugging Face name: its value, and its gradient, allocated on first
 * use (inference never touches it, so a decoder holds no gradient memory). A value mapped from the
 * checkpoint stays mapped — inference reads it through {@link #value()} — and only a heap value is
 * trainable ({@link #w}); vectors (norms, biases) are small and always on the heap.
 */
public final class Param {
    public final String name;
    public final int[] shape;
    /** The FP32 values to train in place; null for a mapped matrix (not trainable). */
    public final float[] w;
    private final Tensor value;
    private float[] g;

    public Param(String name, Tensor value) {
        this.name = name;
        this.shape = value.shape();
        this.value = value.isMapped() && value.rank() == 1 ? value.copy() : value;
        this.w = this.value.isMapped() ? null : this.value.data();
    }

    /** The value as the kernels read it (heap, or mapped in its stored dtype). */
    public Tensor value() {
        return value;
    }

    /** The gradient, same length as the value, zero until a backward pass accumulates into it. */
    public float[] grad() {
        if (w == null) throw new IllegalStateException(name + " is mapped from the checkpoint and cannot be trained; train a heap copy");
        if (g == null) g = new float[w.length];
        return g;
    }

    public void zeroGrad() {
        if (g != null) java.util.Arrays.fill(g, 0f);
    }
}
