package dev.puzzle.core.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * A worker pool: {@code threads − 1} persistent helper threads plus the calling thread, which takes its
 * share of the work. Decode issues dozens of small parallel sections per token, so helpers spin (up to 2 ms)
 * after each job before parking: the next job starts in microseconds, not after a thread wake-up. The
 * helpers start on the first parallel section. Each {@link Kernels} provider owns one, so a backend's
 * thread count travels with the backend (no process-wide setting). Nested or concurrent calls run
 * sequentially on their own thread.
 */
public final class Parallel implements AutoCloseable {
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> Boolean.FALSE);
    private final int threads;
    private volatile Pool pool;

    /** A pool of {@code threads} threads (the caller's included). */
    public Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("thread count must be >= 1, got " + threads);
        this.threads = threads;
    }

    /** As many threads as the machine has cores. */
    public static Parallel allCores() {
        return new Parallel(Runtime.getRuntime().availableProcessors());
    }

    public int threads() {
        return threads;
    }

    private Pool pool() {
        Pool p = pool;
        if (p == null && threads > 1) {
            synchronized (this) {
                if (pool == null) pool = new Pool(threads - 1);
                p = pool;
            }
        }
        return p;
    }

    /** Stops the helper threads (a later parallel section starts new ones). */
    @Override
    public synchronized void close() {
        Pool p = pool;
        pool = null;
        if (p != null) p.shutdown();
    }

    /** Runs {@code body(i)} for i in [0, n), spread over the pool; returns when all are done. */
    public void forEach(int n, IntConsumer body) {
        if (n <= 0) return;
        Pool p = n == 1 || INSIDE.get() ? null : pool();
        if (p == null || !p.lock.tryLock()) {
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        try {
            p.run(n, body);
        } finally {
            p.lock.unlock();
        }
    }

    /** Splits [0, n) into at most {@code threads()} contiguous ranges of at least minChunk and runs {@code body(from, to)} on each. */
    public void forRange(int n, int minChunk, RangeBody body) {
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

    private static final class Pool {
        /**
         * How long an idle helper spins before it parks. Long enough to span what decode does between two matrix
         * products (norms, residuals, sampling): with a count of 2^15 pauses instead, the 110M model's helpers had
         * parked before most sections, and waking them cost 3.5 µs of the caller's time a section plus the wake-up
         * latency during which the caller worked alone.
         */
        private static final long SPIN_NANOS = 2_000_000;
        final ReentrantLock lock = new ReentrantLock();
        private final Thread[] helpers;
        /** Per helper: 1 while it is parked or about to park (the caller unparks only those). */
        private final AtomicIntegerArray sleeping;
        private volatile Job current;
        private volatile boolean stopped;

        /**
         * One parallel section, published whole: items are claimed from {@code next}; the caller returns when
         * {@code done} reaches n. A helper that wakes late finds nothing left to claim and delays no one.
         */
        private static final class Job {
            final IntConsumer body;
            final int n;
            final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
            volatile Throwable failure;

            Job(IntConsumer body, int n) {
                this.body = body;
                this.n = n;
            }
        }

        Pool(int n) {
            helpers = new Thread[n];
            sleeping = new AtomicIntegerArray(n);
            for (int i = 0; i < n; i++) {
                int id = i;
                helpers[i] = new Thread(() -> helperLoop(id), "puzzle-worker-" + (i + 1));
                helpers[i].setDaemon(true);
                helpers[i].start();
            }
        }

        void run(int n, IntConsumer body) {
            Job j = new Job(body, n);
            current = j; // publishes the job
            for (int h = 0; h < helpers.length; h++) if (sleeping.get(h) != 0) LockSupport.unpark(helpers[h]);
            work(j);
            while (j.done.get() < n) Thread.onSpinWait();
            current = null; // let the job's captured arrays go
            Throwable f = j.failure;
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            if (f != null) throw new RuntimeException(f);
        }

        private static void work(Job j) {
            INSIDE.set(Boolean.TRUE);
            try {
                for (int i = j.next.getAndIncrement(); i < j.n; i = j.next.getAndIncrement()) {
                    try {
                        if (j.failure == null) j.body.accept(i); // after a failure the rest are only counted
                    } catch (Throwable t) {
                        j.failure = t;
                    } finally {
                        j.done.incrementAndGet();
                    }
                }
            } finally {
                INSIDE.set(Boolean.FALSE);
            }
        }

        private void helperLoop(int id) {
            Job seen = null;
            while (!stopped) {
                long idleSince = System.nanoTime();
                int spins = 0;
                Job j;
                while ((j = current) == seen || j == null) {
                    if (stopped) return;
                    if ((++spins & 255) != 0 || System.nanoTime() - idleSince < SPIN_NANOS) {
                        // Every 8th turn a yield: on a machine with as many threads as cores, the JIT's compiler
                        // threads get the core a spinning helper would hold (stories15M decode, 256 tokens on two
                        // cores: 352 -> 397 tok/s, mean of five; the kernels reach C2 sooner).
                        if ((spins & 7) == 0) Thread.yield(); else Thread.onSpinWait();
                        continue;
                    }
                    // Announce the park, then look once more: a caller that published before seeing the flag is
                    // caught here, one that publishes after it sees the flag and unparks (both sides are volatile).
                    sleeping.set(id, 1);
                    if ((j = current) == seen || j == null) LockSupport.park(this);
                    sleeping.set(id, 0);
                }
                seen = j;
                work(j);
            }
        }

        void shutdown() {
            stopped = true; // every helper, parked or not: one spinning sees the flag, one parked is woken to see it
            for (Thread h : helpers) LockSupport.unpark(h);
        }
    }
}
