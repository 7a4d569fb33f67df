package dev.puzzle.core.ops;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Kernels;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The blocked attention backward (keys and values transposed, products along the positions) against the one it
 * replaced for many queries, one (query, key) pair at a time: the same dQ, dK, dV and sink gradients, for small and
 * large head dimensions, grouped heads, windows and sinks. (The per-pair one is itself checked against PyTorch and
 * finite differences through {@code GoldenBackwardTest} and {@code FiniteDifferenceTest}.)
 */
class AttentionBackwardTwinTest {
    @Test
    void blockedEqualsPerKeyPair() {
        check(new int[]{8, 48}, 21, new int[]{0, 7}, false);
    }

    /**
     * The tiled backward (a tile of queries at a time, every product a GEMM over the tile's rectangle of keys) against
     * the per-pair one: several tiles, a window longer than two tiles, heads of 16 and 48.
     */
    @Test
    void tiledEqualsPerKeyPair() {
        check(new int[]{16, 48}, 300, new int[]{0, 130}, true);
    }

    private static void check(int[] heads, int T, int[] windows, boolean tiled) {
        Kernels K = Backend.cpu().kernels();
        for (int E : heads) {
            for (int window : windows) {
                for (boolean sinks : new boolean[]{false, true}) {
                    int S = 2, H = 4, G = 2;
                    Random r = new Random(E * 31L + window * 7L + (sinks ? 1 : 0));
                    float[] q = gauss(r, S * T * H * E), k = gauss(r, S * T * G * E), v = gauss(r, S * T * G * E), dOut = gauss(r, S * T * H * E);
                    float[] p = new float[S * H * T * T];
                    for (int row = 0; row < S * H * T; row++) {
                        int t = row % T, lo = window > 0 ? Math.max(0, t - window + 1) : 0;
                        double sum = 0;
                        for (int j = lo; j <= t; j++) sum += p[row * T + j] = (float) Math.exp(r.nextGaussian());
                        double total = sum + (sinks ? Math.exp(r.nextGaussian()) : 0);
                        for (int j = lo; j <= t; j++) p[row * T + j] /= (float) total;
                    }
                    float[][] a = grads(S, T, H, G, E), b = grads(S, T, H, G, E);
                    float[] sa = sinks ? new float[H] : null, sb = sinks ? new float[H] : null;
                    if (tiled) Attention.tiledBackward(K, a[0], a[1], a[2], dOut, p, q, k, v, S, T, H, G, E, window, sa);
                    else Attention.blockedBackward(K, a[0], a[1], a[2], dOut, p, q, k, v, S, T, H, G, E, window, sa);
                    Attention.perKeyBackward(K, b[0], b[1], b[2], dOut, p, q, k, v, S, T, H, G, E, window, sb);
                    String what = (tiled ? "tiled" : "blocked") + ", E " + E + ", window " + window + ", sinks " + sinks;
                    for (int i = 0; i < 3; i++) assertArrayEquals(b[i], a[i], 2e-5f, what + ": " + "qkv".charAt(i));
                    if (sinks) assertArrayEquals(sb, sa, 2e-5f, what + ": sinks");
                    assertTrue(java.util.Arrays.stream(box(a[1])).anyMatch(x -> Math.abs(x) > 1e-3), "dK is not all zero");
                }
            }
        }
    }

    static float[][] grads(int S, int T, int H, int G, int E) {
        return new float[][]{new float[S * T * H * E], new float[S * T * G * E], new float[S * T * G * E]};
    }

    static float[] gauss(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static Double[] box(float[] x) {
        Double[] d = new Double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = (double) x[i];
        return d;
    }
}
