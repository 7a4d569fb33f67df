package dev.puzzle.core.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A file-mapped BF16 matrix's stored bytes, copied onto huge pages ({@link HugePages#slice}) for decode to read in
 * place. Decode reads every weight once a token, and on the mapping's 4 KiB pages every page is a TLB miss and a page
 * walk (two-dimensional under a hypervisor); from huge pages the same BF16 dot runs a third faster end to end (a 110M
 * BF16 model, one thread: 34-37 → 46-51 tok/s; two: 58-60 → 78). F32 rows gain nothing from it (their dot spends
 * fewer instructions a cache line, and the walks overlap with more loads in flight), and Q8_0 rows gained nothing
 * measurable either way (in place from a copy, or block copies from the mapping as now), so only BF16 is made resident.
 * <p>
 * The copy is made by one background thread, asked on a matrix's first use; until it is done decode reads the rows
 * block by block as stored ({@link #enabled}), with the same dot over the same values, so the results do not depend on
 * when it lands. In the background because first-touching huge pages is slow on some machines (on this project's VMs
 * 2.7 ms for each 2 MiB page, 0.5 s for a 110M BF16 model, which would otherwise delay the first token).
 * <p>
 * The trade is memory: the copy is anonymous memory beside the file's cached pages (which the OS may then drop), so
 * copies stop at a budget — by default a quarter of the machine's physical memory, {@code -Dpuzzle.resident_mib=N} to
 * set it, 0 for none (decode then reads every BF16 matrix in place from the mapping, as before; so where huge pages
 * cannot be had, THP off or no native access) — and a matrix past it is read block by block. Kept while the tensor lives.
 */
public final class Resident {
    private static final Map<Tensor, Future<MemorySegment>> MADE = new WeakHashMap<>(); // keys by identity, as Rows32's
    private static long budget = -1, used; // budget: most bytes of copies at once, read on first use (see the class comment)
    private static ExecutorService copier;
    private static final java.lang.ref.Cleaner CLEANER = java.lang.ref.Cleaner.create();

    private Resident() {
    }

    /**
     * The stored bytes of w (a file-mapped BF16 tensor) on huge pages, row after row as in the file, once its copy is
     * made: the first call asks for it and returns null, as does every call until it is done. Null for every other
     * kind of tensor, and where the copy would pass the budget.
     */
    public static MemorySegment of(Tensor w) {
        if (w.dtype() != DType.BF16 || !w.isMapped() || w.packedBytes() != null) return null;
        Future<MemorySegment> f;
        synchronized (MADE) {
            f = MADE.get(w);
            if (f == null) {
                long bytes = w.dtype().rowBytes(w.cols()) * w.rows();
                if (used + bytes > budget()) f = CompletableFuture.completedFuture(null); // past the budget: read block by block
                else {
                    used += bytes;
                    CLEANER.register(w, () -> release(bytes)); // the tensor collected, its copy goes with it: the budget back
                    if (copier == null) copier = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("puzzle-resident").unstarted(r));
                    f = copier.submit(() -> copy(w, bytes));
                }
                MADE.put(w, f);
            }
        }
        return f.state() == Future.State.SUCCESS ? f.resultNow() : null; // a failed copy (the file gone?): block by block, as while pending
    }

    /**
     * Whether this process makes copies at all (a budget above 0). Where it does, decode reads a BF16 matrix whose copy
     * is not there (not made yet, or past the budget) a block of rows at a time into the heap, never in place from the
     * mapping: the BF16 dot over segments then sees one kind of segment only. Fed both, the mapping's and the copies'
     * (the mapping until a copy lands), C2 compiles its loads for two receiver types, and the 110M BF16 model decoded at
     * 39-43 tok/s on one thread and 57-72 on two, against 49-51 and 80-85 with one kind (measured side by side).
     */
    public static boolean enabled() {
        synchronized (MADE) {
            return budget() > 0;
        }
    }

    /**
     * The budget, read on first use (holding MADE's lock). No huge pages to be had (THP off, or no native access): a copy
     * would cost the memory and gain nothing, so the budget is 0 — a bad property value is reported either way.
     */
    private static long budget() {
        if (budget < 0) {
            long b = budget(System.getProperty("puzzle.resident_mib"));
            budget = HugePages.AVAILABLE ? b : 0;
        }
        return budget;
    }

    private static void release(long bytes) {
        synchronized (MADE) {
            used -= bytes;
        }
    }

    /** Bytes of copies now counted against the budget: for tests. */
    static long used() {
        synchronized (MADE) {
            return used;
        }
    }

    /** {@link #of} once w's copy is made (waiting for it): for tests. */
    static MemorySegment awaitCopy(Tensor w) throws Exception {
        of(w);
        Future<MemorySegment> f;
        synchronized (MADE) {
            f = MADE.get(w);
        }
        return f == null ? null : f.get();
    }

    private static MemorySegment copy(Tensor w, long bytes) {
        MemorySegment seg = HugePages.slice(bytes), whole = w.rowSegment(0, w.rows());
        if (whole != null) { // the tensor in one buffer of the mapping (the usual case): one copy
            MemorySegment.copy(whole, 0, seg, 0, bytes);
            return seg;
        }
        long rowBytes = bytes / w.rows();
        int step = (int) Math.max(1, (1 << 20) / rowBytes);
        byte[] buf = new byte[(int) (step * rowBytes)];
        for (int r = 0; r < w.rows(); r += step) {
            int n = Math.min(step, w.rows() - r);
            w.rawBytes(r, n, buf, 0);
            MemorySegment.copy(MemorySegment.ofArray(buf), 0, seg, r * rowBytes, n * rowBytes);
        }
        return seg;
    }

    /** Bytes the copies may take: {@code mib} MiB where given (a whole number, 0 for none), else a quarter of physical memory. */
    static long budget(String mib) {
        if (mib != null) {
            try {
                long v = Long.parseLong(mib.trim());
                if (v >= 0) return v << 20;
            } catch (NumberFormatException e) {
                // falls through to the message below
            }
            throw new dev.puzzle.core.PuzzleException("-Dpuzzle.resident_mib=" + mib + ": expected a whole number of MiB (0 for no copies)");
        }
        long total = physicalMemory();
        return total > 0 ? total / 4 : 1L << 30;
    }

    /** The machine's memory in bytes: /proc/meminfo's MemTotal where there is one (the management beans cost ~35 ms to start), else theirs. */
    private static long physicalMemory() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux, or not readable: ask the JVM
        }
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getTotalMemorySize() : 0;
    }
}
