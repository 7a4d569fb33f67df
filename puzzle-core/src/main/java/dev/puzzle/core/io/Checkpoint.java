package dev.puzzle.core.io;

import dev.puzzle.core.tensor.DType;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model as this toolkit holds it: its config, its tensors under Hugging Face names (widened to
 * FP32), the dtype each was stored in, and the tokenizer that came embedded, if any.
 *
 * @param config      architecture and per-layer blocks
 * @param tensors     named weights, FP32
 * @param storedTypes the dtype each tensor had on disk
 * @param tokenizer   an embedded tokenizer (GGUF), or null
 * @param source      where it came from, for messages
 */
public record Checkpoint(ModelConfig config, Map<String, Tensor> tensors, Map<String, DType> storedTypes,
                         Tokenizer tokenizer, String source) {

    public Checkpoint {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        storedTypes = Collections.unmodifiableMap(new LinkedHashMap<>(storedTypes));
    }

    /** The named tensor, checked against the expected shape; a clear error when missing or mis-shaped. */
    public Tensor require(String name, int... shape) {
        Tensor t = tensors.get(name);
        if (t == null) throw new PuzzleException(source + ": missing tensor '" + name + "'");
        if (!Arrays.equals(t.shape(), shape)) {
            throw new PuzzleException(source + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(shape));
        }
        return t;
    }

    public long parameterCount() {
        long n = 0;
        for (Tensor t : tensors.values()) n += t.size();
        return n;
    }

    /** Bytes on disk by stored dtype. */
    public Map<DType, Long> bytesByDType() {
        Map<DType, Long> m = new LinkedHashMap<>();
        tensors.forEach((name, t) -> {
            DType d = storedTypes.getOrDefault(name, DType.F32);
            m.merge(d, d.fits(t.cols()) ? d.byteSize(t.shape()) : t.size() * 4L, Long::sum);
        });
        return m;
    }

    /**
     * The element dtype (F32, F16, BF16) most of the parameters were stored in, the default for writing
     * children; quantized tensors do not count (they keep their own type, see {@link Checkpoints#writeHfDir}).
     */
    public DType dominantDType() {
        Map<DType, Long> count = new LinkedHashMap<>();
        tensors.forEach((name, t) -> {
            DType d = storedTypes.getOrDefault(name, DType.F32);
            if (!d.isQuantized()) count.merge(d, (long) t.size(), Long::sum);
        });
        return count.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(DType.F32);
    }

    public Checkpoint withTokenizer(Tokenizer tok) {
        return new Checkpoint(config, tensors, storedTypes, tok, source);
    }
}
