package dev.puzzle.bld;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Quantization-aware distillation (QAD; NVIDIA's report on recovering NVFP4 accuracy by distilling the
 * full-precision teacher into the quantized student): the parent, in full precision, distilled into a child
 * whose matrices are stored quantized — KL on the logits (and the hidden-state cosine of {@link Gkd}), the
 * quantized matrices trained through the straight-through estimator on FP32 masters and re-quantized at the
 * end (round to nearest, in each matrix's own dtype). The child is judged before and after by KL(parent ‖
 * child) on held-out text with the real quantized forward; QAD's result is kept only when it is lower, else
 * the pre-QAD child is.
 */
public final class Qad {
    private Qad() {}

    /**
     * @param child       the child as it was (kept when QAD does not lower its KL)
     * @param klBefore    its KL(parent ‖ child) on the held-out sequences
     * @param klAfter     the KL after QAD and re-quantization
     * @param kept        whether the QAD result was kept
     * @param quantized   how many matrices were trained quantization-aware
     */
    public record Result(Checkpoint child, double klBefore, double klAfter, boolean kept, int quantized, double[] losses) {
        /** The record written beside the result ({@code qad.json}): the matrices, both KLs, which child was kept, and the settings. */
        public com.fasterxml.jackson.databind.node.ObjectNode json(Gkd.Settings st) {
            com.fasterxml.jackson.databind.node.ObjectNode j = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
            return j.put("quantized_matrices", quantized).put("kl_before", klBefore).put("kl_after", klAfter).put("kept", kept ? "qad" : "pre-qad")
                    .put("tokens", st.tokens()).put("lr", st.lr());
        }
    }

    /** The quantized matrices of a checkpoint by name, with their dtype. */
    public static Map<String, DType> quantizedMatrices(Checkpoint ck) {
        Map<String, DType> q = new LinkedHashMap<>();
        ck.tensors().forEach((name, t) -> {
            if (t.dtype().isQuantized()) q.put(name, t.dtype());
        });
        return q;
    }

    public static Result run(Backend backend, Checkpoint parent, Checkpoint child, int[][] train, int[][] heldOut, Gkd.Settings st,
                             Path checkpoint, IntConsumer progress) throws IOException {
        Map<String, DType> types = quantizedMatrices(child);
        if (types.isEmpty()) {
            throw new PuzzleException(child.source() + ": no quantized weights to train quantization-aware (quantize it first: puzzle convert --dtype q4_0 ...)");
        }
        int V = child.config().vocabSize(), D = child.config().dim();
        Scorer.Reference ref = Scorer.run(backend, parent, heldOut);
        double before = Scorer.metrics(backend, ref, Scorer.run(backend, child, heldOut), heldOut, V, D).get(LibraryKeys.KL_DIV);
        Gkd.Result r = Gkd.train(backend, parent, child, train, st, checkpoint, progress, types);
        Map<String, Tensor> t = new LinkedHashMap<>(r.child().tensors());
        types.forEach((name, dt) -> t.put(name, t.get(name).quantized(dt)));
        Checkpoint trained = new Checkpoint(child.config(), t, child.storedTypes(), child.tokenizer(), child.source());
        double after = Scorer.metrics(backend, ref, Scorer.run(backend, trained, heldOut), heldOut, V, D).get(LibraryKeys.KL_DIV);
        boolean keep = after < before;
        return new Result(keep ? trained : child, before, after, keep, types.size(), r.losses());
    }
}
