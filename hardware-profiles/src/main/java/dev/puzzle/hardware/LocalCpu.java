package dev.puzzle.hardware;

import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;

import java.lang.management.ManagementFactory;
import java.util.Map;

/**
 * The {@code local-cpu} profile, measured now on this machine with the run's backend's kernels and threads: FP32
 * GEMM throughput (best of several 512³ products), memory bandwidth (large array copies, read +
 * write bytes), and the overhead of one parallel section. Efficiencies are 1: these are achieved rates.
 */
final class LocalCpu {
    private LocalCpu() {}

    static HardwareProfile measure(Kernels k) {
        Parallel parallel = k.parallel();
        int n = 512;
        float[] a = new float[n * n], b = new float[n * n], c = new float[n * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (i % 7) * 0.1f;
            b[i] = (i % 5) * 0.1f;
        }
        double best = Double.MAX_VALUE;
        for (int r = 0; r < 12; r++) {
            long t0 = System.nanoTime();
            k.gemm(false, true, n, n, n, a, 0, n, b, 0, n, c, 0, n, false);
            if (r >= 4) best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        double tflops = 2.0 * n * n * n / best / 1e12;
        float[] src = new float[1 << 25], dst = new float[1 << 25]; // 128 MiB each
        double bestCopy = Double.MAX_VALUE;
        for (int r = 0; r < 5; r++) {
            long t0 = System.nanoTime();
            System.arraycopy(src, 0, dst, 0, src.length);
            if (r >= 1) bestCopy = Math.min(bestCopy, (System.nanoTime() - t0) / 1e9);
        }
        double gbs = 2.0 * src.length * Float.BYTES / bestCopy / 1e9;
        int reps = 2000;
        long t0 = System.nanoTime();
        for (int r = 0; r < reps; r++) parallel.forEach(parallel.threads(), i -> { });
        double overheadUs = (System.nanoTime() - t0) / 1e3 / reps;
        double memGib = 16;
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            memGib = os.getTotalMemorySize() / (1024.0 * 1024 * 1024);
        }
        // Compute is FP32 whatever the stored dtype: every dtype gets the FP32 rate.
        return new HardwareProfile("local-cpu (" + parallel.threads() + " threads)",
                Map.of("fp32", tflops, "bf16", tflops, "fp16", tflops, "fp8", tflops), gbs, memGib, overheadUs, 1, 1, 1);
    }
}
