package dev.puzzle.core.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.function.IntConsumer;

/**
 * The worker pool every kernel shares. The thread count is configurable (system property
 * {@code puzzle.threads}, or {@link #setThreads}) and defaults to the available cores.
 */
public final class Parallel {
    private static volatile ForkJoinPool pool;
    private static volatile int threads = defaultThreads();

    private Parallel() {}

    private static int defaultThreads() {
        String p = System.getProperty("puzzle.threads");
        if (p != null && !p.isBlank()) {
            int t = Integer.parseInt(p.trim());
            if (t < 1) throw new IllegalArgumentException("puzzle.threads must be >= 1, got " + t);
            return t;
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public static int threads() {
        return threads;
    }

    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("thread count must be >= 1, got " + n);
        if (n != threads) {
            threads = n;
            ForkJoinPool old = pool;
            pool = null;
            if (old != null) old.shutdown();
        }
    }

    private static ForkJoinPool pool() {
        ForkJoinPool p = pool;
        if (p == null) {
            synchronized (Parallel.class) {
                if (pool == null) pool = new ForkJoinPool(threads);
                p = pool;
            }
        }
        return p;
    }

    /** Runs {@code body(i)} for i in [0, n), spread over the pool; returns when all are done. */
    public static void forEach(int n, IntConsumer body) {
        if (n <= 0) return;
        if (n == 1 || threads == 1 || ForkJoinTask.inForkJoinPool() && ForkJoinTask.getPool() == pool) {
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        List<ForkJoinTask<?>> tasks = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            final int idx = i;
            tasks.add(ForkJoinTask.adapt(() -> body.accept(idx)));
        }
        ForkJoinPool p = pool();
        p.invoke(ForkJoinTask.adapt(() -> ForkJoinTask.invokeAll(tasks)));
    }

    /** Splits [0, n) into at most {@code threads()} contiguous ranges and runs {@code body(from, to)} on each. */
    public static void forRange(int n, int minChunk, RangeBody body) {
        if (n <= 0) return;
        int chunks = Math.max(1, Math.min(threads, n / Math.max(1, minChunk)));
        if (chunks == 1) {
            body.run(0, n);
            return;
        }
        forEach(chunks, c -> body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks)));
    }

    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }
}
