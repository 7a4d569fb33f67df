package dev.puzzle.examples.bench;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Kernels;

import java.util.Locale;
import java.util.Random;

/**
 * FP32 GEMM throughput of this toolkit's kernel, C[M,N] = A[M,K]·B[K,N], as GFLOP/s (2·M·N·K per
 * product), the best of repetitions timed for a second after a second of warm-up (gemm_numpy.py times its
 * peer the same way: both sides get the same number of chances on a noisy machine, and the JIT has compiled the
 * kernels before the clock counts, as a native library's are before it loads). Prints one line per shape:
 * {@code M N K layout GFLOPS}. bench/gemm.sh runs it beside numpy/OpenBLAS and prints the ratio.
 * Usage: GemmBench THREADS M,N,K [M,N,K ...]
 */
public final class GemmBench {
    public static void main(String[] args) {
        Kernels k = Backend.cpu("vector", Integer.parseInt(args[0])).kernels();
        for (int a = 1; a < args.length; a++) {
            String[] s = args[a].split(",");
            int m = Integer.parseInt(s[0]), n = Integer.parseInt(s[1]), kk = Integer.parseInt(s[2]);
            Random r = new Random(1);
            float[] x = new float[m * kk], w = new float[kk * n], c = new float[m * n];
            for (int i = 0; i < x.length; i++) x[i] = r.nextFloat() - 0.5f;
            for (int i = 0; i < w.length; i++) w[i] = r.nextFloat() - 0.5f;
            double flops = 2.0 * m * n * kk;
            double nn = best(() -> k.gemm(false, false, m, n, kk, x, 0, kk, w, 0, n, c, 0, n, false));
            System.out.printf(Locale.ROOT, "%d %d %d NN %.2f%n", m, n, kk, flops / nn / 1e9);
            // The weight layout used by every linear layer, x·Wᵀ.
            double nt = best(() -> k.gemm(false, true, m, n, kk, x, 0, kk, w, 0, kk, c, 0, n, false));
            System.out.printf(Locale.ROOT, "%d %d %d NT %.2f%n", m, n, kk, flops / nt / 1e9);
        }
    }

    /** The best time of {@code op}, in seconds: repeated for at least 1 s (and 3 times) after at least 1 s (and 3 times) of warm-up. */
    static double best(Runnable op) {
        for (long end = System.nanoTime() + 1_000_000_000L, reps = 0; reps < 3 || System.nanoTime() < end; reps++) op.run();
        double best = Double.MAX_VALUE;
        for (long end = System.nanoTime() + 1_000_000_000L, reps = 0; reps < 3 || System.nanoTime() < end; reps++) {
            long t0 = System.nanoTime();
            op.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }
}
