package dev.puzzle.examples.bench;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.ops.Attention;
import dev.puzzle.core.tensor.Kernels;

import java.util.Locale;
import java.util.Random;

/**
 * Causal attention over a whole sequence at once (prefill, scoring, evaluation): H heads of E over T positions, every
 * head its own keys and values, the probabilities not kept (inference), the heads spread over the threads as
 * {@code GqaAttentionOp} spreads them. Median of 15 timed runs after at least 3 runs and 1 s of warm-up, in ms; one
 * line per shape, {@code H T E ms}. bench/attention.sh runs PyTorch's scaled_dot_product_attention on the same shapes.
 * Usage: AttentionBench THREADS H,T,E...
 */
public final class AttentionBench {
    public static void main(String[] args) {
        Kernels k = Backend.cpu("vector", Integer.parseInt(args[0])).kernels();
        for (int a = 1; a < args.length; a++) {
            String[] s = args[a].split(",");
            int H = Integer.parseInt(s[0]), T = Integer.parseInt(s[1]), E = Integer.parseInt(s[2]), HE = H * E;
            Random r = new Random(1);
            float[] q = new float[T * HE], key = new float[T * HE], v = new float[T * HE], out = new float[T * HE];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) r.nextGaussian();
                key[i] = (float) r.nextGaussian();
                v[i] = (float) r.nextGaussian();
            }
            Runnable run = () -> {
                java.util.Arrays.fill(out, 0f);
                k.parallel().forEach(H, h -> Attention.head(k, q, h * E, HE, key, v, h * E, HE, out, h * E, HE, new float[T], 0, 0,
                        T, 0, 0, E, 0));
            };
            long start = System.nanoTime();
            for (int warm = 0; warm < 3 || System.nanoTime() - start < 1_000_000_000L; warm++) run.run();
            double[] ms = new double[15];
            for (int i = 0; i < ms.length; i++) {
                long t0 = System.nanoTime();
                run.run();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            java.util.Arrays.sort(ms);
            System.out.printf(Locale.ROOT, "%d %d %d %.3f%n", H, T, E, ms[ms.length / 2]);
        }
    }
}
