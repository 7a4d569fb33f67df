package dev.puzzle.core.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Off-heap buffers on transparent huge pages where Linux offers them (its madvise mode: only regions that ask get
 * them). A GEMM's packed B of 16 MiB spans 4096 pages of 4 KiB, more than the second-level TLB maps; every miss
 * is a page walk, two-dimensional under a hypervisor. The Java heap gets huge pages from
 * {@code -XX:+UseTransparentHugePages}; memory from an {@link Arena} does not, and cannot be asked afterwards:
 * the arena zeroes it, which faults in small pages first. So the region comes from mmap(2), untouched, and is
 * advised before its first use; munmap(2) returns it when the arena lets it go.
 */
final class HugePages {
    static final long SIZE = 2L << 20;
    private static final int PROT_READ_WRITE = 0x3, MAP_PRIVATE_ANONYMOUS = 0x22, MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null;
        try { // only on Linux, and only where this module may call native code (no warning printed otherwise)
            if (System.getProperty("os.name", "").startsWith("Linux") && HugePages.class.getModule().isNativeAccessEnabled()) {
                Linker linker = Linker.nativeLinker();
                var lib = linker.defaultLookup();
                mmap = linker.downcallHandle(lib.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                munmap = linker.downcallHandle(lib.find("munmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
                madvise = linker.downcallHandle(lib.find("madvise").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            }
        } catch (RuntimeException | LinkageError e) {
            mmap = null;
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
    }

    private HugePages() {
    }

    /** Whether {@link #allocate} can ask for huge pages here: mmap reachable, and Linux's THP mode madvise or always. */
    static final boolean AVAILABLE = MMAP != null && thpMode();

    private static boolean thpMode() {
        try {
            String mode = java.nio.file.Files.readString(java.nio.file.Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
            return mode.contains("[madvise]") || mode.contains("[always]");
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * At least {@code bytes} of zeroed memory that lives as long as {@code arena}, 64-byte aligned; from {@link #SIZE}
     * up, whole huge pages the kernel is asked to back with huge ones (a hint: where it declines, small pages, the
     * same memory). Falls back to the arena's own memory where mmap is not available or fails.
     */
    static MemorySegment allocate(Arena arena, long bytes) {
        if (MMAP == null || bytes < SIZE) return arena.allocate(bytes, 64);
        long size = (bytes + SIZE - 1) / SIZE * SIZE, total = size + SIZE; // room to align the start
        try {
            MemorySegment base = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, total, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
            if (base.address() == -1L) return arena.allocate(bytes, 64);
            long start = (base.address() + SIZE - 1) / SIZE * SIZE;
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), size, MADV_HUGEPAGE);
            long b = base.address();
            return MemorySegment.ofAddress(start).reinterpret(bytes, arena, s -> unmap(b, total));
        } catch (Throwable e) {
            return arena.allocate(bytes, 64);
        }
    }

    /** Bytes of one region {@link #slice} cuts into (a whole number of huge pages). */
    static final long REGION = 64L << 20;
    private static MemorySegment region; // the region slices are cut from now; earlier ones live while a slice of them does
    private static long regionUsed;

    /**
     * At least {@code bytes} of zeroed memory, 64-byte aligned, cut from a region of {@link #REGION} bytes on huge pages
     * that many callers share: a small matrix gets huge pages too, where {@link #allocate} of its size alone would not
     * (under {@link #SIZE}). A region is freed when none of its slices is reachable any more (it lives in an automatic
     * arena, and a slice keeps it alive); a request larger than half a region gets its own. Only the pages a slice
     * touches are backed (anonymous memory is faulted in on first touch), so a region's unused tail costs address space.
     */
    static synchronized MemorySegment slice(long bytes) {
        if (bytes > REGION / 2) return allocate(Arena.ofAuto(), bytes);
        long need = (bytes + 63) / 64 * 64;
        if (region == null || regionUsed + need > region.byteSize()) {
            region = allocate(Arena.ofAuto(), REGION);
            regionUsed = 0;
        }
        MemorySegment s = region.asSlice(regionUsed, bytes);
        regionUsed += need;
        return s;
    }

    private static void unmap(long address, long bytes) {
        try {
            int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), bytes);
        } catch (Throwable e) {
            // nothing to do: the process keeps the mapping
        }
    }
}
