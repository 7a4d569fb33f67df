package dev.puzzle.core.io;

import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The weights of a sub-block stored in a quantized format ({@code AttentionConfig.Quantized}, {@code FfnConfig.Quantized}):
 * which of its tensors take the format, and the part's tensors in it. One rule for every place that stores a quantized
 * part — the ops that score it, the child that realize writes, random test weights.
 */
public final class PartWeights {
    private PartWeights() {}

    /**
     * The type tensor {@code name} is stored in when its part's weights are in {@code format}: the format for a
     * {@link TensorNames#quantizable} matrix whose rows are whole blocks of it, else null (the tensor keeps its type:
     * norms, biases, routers, scales, and rows llama.cpp also leaves unquantized).
     */
    public static DType quantizedType(String name, Tensor t, DType format) {
        return t.rank() == 2 && TensorNames.quantizable(name) && format.fits(t.cols()) ? format : null;
    }

    /**
     * {@code w} with layer l's attention part ({@code attention} true) or FFN part stored in {@code format} where
     * {@link #quantizedType} says so (a tensor already stored in it is kept as it is); every other tensor as it was.
     */
    public static Map<String, Tensor> quantized(Map<String, Tensor> w, int l, boolean attention, DType format) {
        Map<String, Tensor> out = new LinkedHashMap<>(w);
        w.forEach((name, t) -> {
            if (TensorNames.inPart(name, l, attention) && quantizedType(name, t, format) != null) out.put(name, t.quantized(format));
        });
        return out;
    }
}
