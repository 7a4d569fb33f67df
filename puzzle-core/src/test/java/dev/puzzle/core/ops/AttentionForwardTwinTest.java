package dev.puzzle.core.ops;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Kernels;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Inference's attention (probabilities in one scratch row, the output scaled by 1/Σ instead of the row) against
 * training's (every probability kept, normalized), for one query at a time (decode) and for many (the blocked
 * path), windows and sinks; and the kept probabilities against a softmax computed here in double precision.
 */
class AttentionForwardTwinTest {
    @Test
    void scratchProbabilitiesGiveTheOutputsOfKeptOnes() {
        Kernels K = Backend.cpu().kernels();
        for (int E : new int[]{8, 48}) {
            for (int T : new int[]{1, 5, 8, 37}) {
                for (int window : new int[]{0, 6}) {
                    for (float sink : new float[]{Attention.NO_SINK, 0.7f}) {
                        Random r = new Random(E * 131L + T * 17L + window);
                        int pos0 = 3, kStart = 0, keys = pos0 + T; // three cached positions, then T new queries
                        float[] q = AttentionBackwardTwinTest.gauss(r, T * E), k = AttentionBackwardTwinTest.gauss(r, keys * E),
                                v = AttentionBackwardTwinTest.gauss(r, keys * E);
                        float[] kept = new float[T * E], scratch = new float[T * E], p = new float[T * keys];
                        Attention.head(K, q, 0, E, k, v, 0, E, kept, 0, E, p, 0, keys, T, pos0, kStart, E, window, sink);
                        Attention.head(K, q, 0, E, k, v, 0, E, scratch, 0, E, new float[keys], 0, 0, T, pos0, kStart, E, window, sink);
                        String what = "E " + E + ", T " + T + ", window " + window + ", sink " + sink;
                        assertArrayEquals(kept, scratch, 1e-5f, what);
                        for (int t = 0; t < T; t++) { // the kept row is the softmax of the scaled scores (and the sink)
                            int pos = pos0 + t, lo = window > 0 ? Math.max(0, pos - window + 1) : 0;
                            double[] s = new double[pos - lo + 1];
                            double mx = sink, sum = 0;
                            for (int j = lo; j <= pos; j++) {
                                double d = 0;
                                for (int e = 0; e < E; e++) d += (double) q[t * E + e] * k[j * E + e];
                                s[j - lo] = d / Math.sqrt(E);
                                mx = Math.max(mx, s[j - lo]);
                            }
                            for (double x : s) sum += Math.exp(x - mx);
                            if (sink != Attention.NO_SINK) sum += Math.exp(sink - mx);
                            for (int j = lo; j <= pos; j++) assertEquals(Math.exp(s[j - lo] - mx) / sum, p[t * keys + j], 2e-6, what + ": p at " + t + ", " + j);
                        }
                    }
                }
            }
        }
    }
}
