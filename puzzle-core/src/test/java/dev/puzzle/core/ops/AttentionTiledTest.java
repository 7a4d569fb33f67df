package dev.puzzle.core.ops;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.tensor.ScalarKernels;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Attention over many queries at head dimensions that take the tiled path (tiles of queries, scores and outputs as
 * GEMMs): outputs and kept probabilities against attention computed here in double precision from its definition
 * (softmax(q·kᵀ/√E) over each query's keys, with the sink as one more logit) — several tiles, cached positions before
 * the queries, keys that start past position 0 (a ring buffer's), long windows, sinks, and outputs added to what the
 * output rows held.
 */
class AttentionTiledTest {
    @Test
    void tiledAttentionMatchesItsDefinitionInDoublePrecision() {
        for (Kernels K : new Kernels[]{Backend.cpu().kernels(), new ScalarKernels(new Parallel(1))}) {
            for (int E : new int[]{16, 64}) {
                for (int[] tw : new int[][]{{8, 0}, {150, 0}, {200, 130}, {97, 1000}}) {
                    for (float sink : new float[]{Attention.NO_SINK, 0.4f}) {
                        for (boolean kept : new boolean[]{false, true}) {
                            check(K, E, tw[0], tw[1], sink, kept);
                        }
                    }
                }
            }
        }
    }

    private static void check(Kernels K, int E, int T, int window, float sink, boolean kept) {
        Random r = new Random(E * 7919L + T * 31L + window + (kept ? 1 : 0));
        int kStart = 5, pos0 = 40, keys = pos0 + T - kStart, H = 2, stride = H * E; // two heads interleaved in each row
        float[] q = AttentionBackwardTwinTest.gauss(r, T * stride), k = AttentionBackwardTwinTest.gauss(r, keys * stride),
                v = AttentionBackwardTwinTest.gauss(r, keys * stride), out = AttentionBackwardTwinTest.gauss(r, T * stride);
        float[] before = out.clone();
        float[] p = kept ? new float[T * keys] : new float[keys];
        int h = 1; // the second head: every offset and stride in play
        Attention.head(K, q, h * E, stride, k, v, h * E, stride, out, h * E, stride, p, 0, kept ? keys : 0, T, pos0, kStart, E, window, sink);
        String what = K.getClass().getSimpleName() + " E " + E + ", T " + T + ", window " + window + ", sink " + sink + (kept ? ", kept" : ", scratch");
        for (int t = 0; t < T; t++) {
            int pos = pos0 + t, lo = window > 0 ? Math.max(kStart, pos - window + 1) : kStart;
            double[] s = new double[pos - lo + 1];
            double mx = sink, sum = 0;
            for (int j = lo; j <= pos; j++) {
                double d = 0;
                for (int e = 0; e < E; e++) d += (double) q[t * stride + h * E + e] * k[(j - kStart) * stride + h * E + e];
                s[j - lo] = d / Math.sqrt(E);
                mx = Math.max(mx, s[j - lo]);
            }
            for (double x : s) sum += Math.exp(x - mx);
            if (sink != Attention.NO_SINK) sum += Math.exp(sink - mx);
            for (int e = 0; e < E; e++) {
                double o = 0;
                for (int j = lo; j <= pos; j++) o += Math.exp(s[j - lo] - mx) / sum * v[(j - kStart) * stride + h * E + e];
                assertEquals(before[t * stride + h * E + e] + o, out[t * stride + h * E + e], 2e-5, what + ": output " + t + ", " + e);
                assertEquals(before[t * stride + e], out[t * stride + e], 0f, what + ": the other head's output row is untouched");
            }
            if (kept) {
                for (int j = kStart; j < kStart + keys; j++) {
                    double want = j >= lo && j <= pos ? Math.exp(s[j - lo] - mx) / sum : 0;
                    assertEquals(want, p[t * keys + j - kStart], 2e-6, what + ": p at " + t + ", " + j);
                }
            }
        }
    }
}
