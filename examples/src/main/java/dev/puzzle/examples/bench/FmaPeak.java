package dev.puzzle.examples.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Locale;

/**
 * The FP32 multiply-add ceiling of this machine as the JVM reaches it: THREADS threads at once, each running 12
 * independent chains of fused multiply-adds on the widest vectors the JIT uses (no loads, no stores), counted as two
 * FLOPs a lane. Twelve chains cover the FMA units' latency times their count on every x86 core with AVX2 or AVX-512
 * (at most 10 needed) and fit the 16 vector registers of AVX2. bench/gemm.sh prints it beside the GEMM figures, so a
 * ratio between two libraries reads against how far either is from what the cores can do. Prints the best of five
 * runs of ~0.3 s each after a warm-up, as {@code GFLOPS}. Usage: FmaPeak THREADS
 */
public final class FmaPeak {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private FmaPeak() {}

    public static void main(String[] args) throws InterruptedException {
        int threads = Integer.parseInt(args[0]);
        for (int w = 0; w < 3; w++) chains(20_000_000L);
        long iters = 50_000_000L;
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
            Thread[] th = new Thread[threads];
            float[] sink = new float[threads];
            long t0 = System.nanoTime();
            for (int i = 0; i < threads; i++) {
                int id = i;
                th[i] = new Thread(() -> sink[id] = chains(iters));
                th[i].start();
            }
            for (Thread t : th) t.join();
            double s = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, threads * iters * 12.0 * S.length() * 2 / s / 1e9);
            if (Float.isNaN(sink[0])) System.err.println(); // keeps the chains' results live
        }
        System.out.printf(Locale.ROOT, "%.1f%n", best);
    }

    /** {@code iters} turns of 12 independent FMA chains; returns their sum (so that the JIT keeps them). */
    static float chains(long iters) {
        FloatVector a = FloatVector.broadcast(S, 0.999f), b = FloatVector.broadcast(S, 1e-6f);
        FloatVector c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b, c8 = b, c9 = b, c10 = b, c11 = b;
        for (long i = 0; i < iters; i++) {
            c0 = c0.fma(a, b);
            c1 = c1.fma(a, b);
            c2 = c2.fma(a, b);
            c3 = c3.fma(a, b);
            c4 = c4.fma(a, b);
            c5 = c5.fma(a, b);
            c6 = c6.fma(a, b);
            c7 = c7.fma(a, b);
            c8 = c8.fma(a, b);
            c9 = c9.fma(a, b);
            c10 = c10.fma(a, b);
            c11 = c11.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(VectorOperators.ADD);
    }
}
