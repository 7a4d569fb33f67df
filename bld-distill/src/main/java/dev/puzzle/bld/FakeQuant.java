package dev.puzzle.bld;

import dev.puzzle.core.ops.Param;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Quant;

import java.util.List;
import java.util.Map;

/**
 * Quantization-aware training by the straight-through estimator: the params named in {@code formats} keep FP32
 * master weights; each step computes with the masters rounded to their format (round to nearest, as stored),
 * and the gradient with respect to those rounded values updates the masters. Per step: {@link #round()} before the
 * forward pass, {@link #restore()} after the backward pass (the optimizer steps the masters), {@link #keep()} after
 * the optimizer. QAD (whole model, {@link Gkd}) and BLD of a quantized candidate ({@link BldTrainer}) train this way.
 */
final class FakeQuant {
    private final List<Param> params;
    private final DType[] formats;
    private final float[][] masters;

    FakeQuant(List<Param> all, Map<String, DType> formats) {
        this.params = all.stream().filter(p -> formats.containsKey(p.name)).toList();
        this.formats = new DType[params.size()];
        this.masters = new float[params.size()][];
        for (int i = 0; i < masters.length; i++) {
            Param p = params.get(i);
            if (p.w == null) throw new IllegalArgumentException(p.name + " is not trainable (stored, not on the heap)");
            this.formats[i] = formats.get(p.name);
            masters[i] = p.w.clone();
        }
    }

    boolean isEmpty() {
        return params.isEmpty();
    }

    /** The params hold their masters rounded to their formats: the values the quantized model computes with. */
    void round() {
        for (int i = 0; i < masters.length; i++) {
            Param p = params.get(i);
            int cols = p.shape[p.shape.length - 1];
            System.arraycopy(Quant.roundTrip(formats[i], masters[i], masters[i].length / cols, cols), 0, p.w, 0, p.w.length);
        }
    }

    /** The params hold their masters again (the gradients, taken at the rounded values, pass straight through). */
    void restore() {
        for (int i = 0; i < masters.length; i++) System.arraycopy(masters[i], 0, params.get(i).w, 0, masters[i].length);
    }

    /** The masters take the params' values (after the optimizer stepped them). */
    void keep() {
        for (int i = 0; i < masters.length; i++) System.arraycopy(params.get(i).w, 0, masters[i], 0, masters[i].length);
    }
}
