package dev.puzzle.core.tensor;

import java.util.Arrays;

/**
 * A dense row-major FP32 tensor over a {@code float[]}. Weights of any stored dtype are widened to
 * FP32 when loaded; the shape travels with the data so every field can state it.
 */
public final class Tensor {
    private final float[] data;
    private final int[] shape;

    public Tensor(float[] data, int... shape) {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n
                    + " elements, data has " + data.length);
        }
        this.data = data;
        this.shape = shape.clone();
    }

    public static Tensor zeros(int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " is too large for one array");
        }
        return new Tensor(new float[(int) n], shape);
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= d;
        }
        return n;
    }

    public float[] data() {
        return data;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int size() {
        return data.length;
    }

    /** Rows of a matrix view: the product of all dimensions but the last. */
    public int rows() {
        return shape.length == 0 ? 1 : data.length / Math.max(1, shape[shape.length - 1]);
    }

    public int cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    public Tensor reshape(int... newShape) {
        return new Tensor(data, newShape);
    }

    public Tensor copy() {
        return new Tensor(data.clone(), shape);
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }
}
