package dev.puzzle.core;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Once compiled, decode allocates only its per-call arrays (the logits, the embedded token, the parallel sections'
 * small objects): ~10 KB a token for stories260K. Two bugs made it allocate far more for the rest of a run, each time
 * because the Vector API fell back to its Java implementation in C2-compiled code: the Rows32 kernels' store helper
 * past C2's inlining cutoff (both sums boxed on every call) and VectorKernels.max inlined before it had a profile (its
 * running maximum's calls left virtual), besides the steps' own arrays: 66 KB a token (Q4_0) and 45 KB (F32) before,
 * measured. The check waits for the JIT (rounds of 255 tokens until one allocates under the limit, at most 60 s), so a
 * slow machine only takes longer; a fallback that never goes away fails it.
 */
class DecodeAllocationTest {
    static final long LIMIT = 24 * 1024; // bytes a token

    @Test
    void decodeOnceCompiledAllocatesOnlyItsSmallArrays() {
        Checkpoint ck = Checkpoints.load(Shared.require("models/stories260K/stories260K.bin"));
        for (DType dt : new DType[]{null, DType.Q4_0}) {
            Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
            if (dt != null) t.replaceAll((n, w) -> w.shape().length == 2 && w.rows() >= 32 && w.cols() % 32 == 0 ? w.quantized(dt) : w);
            Decoder dec = new Decoder(new Checkpoint(ck.config(), t, ck.storedTypes(), ck.tokenizer(), ck.source()), Backend.cpu("vector", 2));
            var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            long least = Long.MAX_VALUE, deadline = System.nanoTime() + 60_000_000_000L;
            while (least > LIMIT && System.nanoTime() < deadline) {
                Decoder.State st = dec.newState(256);
                int[] one = {1};
                long before = mx.getTotalThreadAllocatedBytes();
                for (int i = 0; i < 255; i++) {
                    float[] l = dec.forward(st, one, 0, 1, false);
                    int best = 0;
                    for (int j = 1; j < l.length; j++) if (l[j] > l[best]) best = j;
                    one[0] = best;
                }
                least = Math.min(least, (mx.getTotalThreadAllocatedBytes() - before) / 255);
            }
            assertTrue(least <= LIMIT, (dt == null ? "F32" : dt) + " decode allocates " + least + " bytes a token at best (limit " + LIMIT + ")");
        }
    }
}
