package dev.puzzle.core.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class HugePagesTest {

    @Test
    void smallBuffersAreOrdinaryAlignedMemory() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = HugePages.allocate(arena, 1000);
            assertEquals(1000, s.byteSize());
            assertEquals(0, s.address() % 64);
            s.set(ValueLayout.JAVA_FLOAT, 996, 1.5f);
            assertEquals(1.5f, s.get(ValueLayout.JAVA_FLOAT, 996));
        }
    }

    /** The kernel's own account (/proc/self/smaps) says the buffer's mapping is backed by huge pages once touched. */
    @Test
    void largeBuffersLandOnHugePagesWhereLinuxOffersThem() throws Exception {
        assumeHugePages();
        try (Arena arena = Arena.ofConfined()) {
            long bytes = 5 * HugePages.SIZE + 12345;
            MemorySegment s = HugePages.allocate(arena, bytes);
            assertEquals(bytes, s.byteSize());
            assertEquals(0, s.address() % HugePages.SIZE);
            for (long o = 0; o < bytes; o += 4096) {
                assertEquals(0, s.get(ValueLayout.JAVA_BYTE, o), "fresh memory is zero");
                s.set(ValueLayout.JAVA_BYTE, o, (byte) 1);
            }
            assertTrue(anonHugeKb(s.address()) >= 2048, "no huge page backs the buffer at 0x" + Long.toHexString(s.address()));
            for (long o = 0; o < bytes; o += 4096) assertEquals(1, s.get(ValueLayout.JAVA_BYTE, o));
        }
    }

    /** Small requests are cut from shared regions: each its own 64-byte-aligned zeroed bytes, none overlapping. */
    @Test
    void slicesOfARegionAreDisjointAlignedAndZeroed() {
        long[] sizes = {1000, 1, 4096, 12345, 64};
        MemorySegment[] s = new MemorySegment[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            s[i] = HugePages.slice(sizes[i]);
            assertEquals(sizes[i], s[i].byteSize());
            assertEquals(0, s[i].address() % 64, "slice " + i);
            for (long o = 0; o < sizes[i]; o++) assertEquals(0, s[i].get(ValueLayout.JAVA_BYTE, o), "fresh memory is zero");
            s[i].fill((byte) (i + 1));
        }
        for (int i = 0; i < sizes.length; i++) {
            for (long o = 0; o < sizes[i]; o++) assertEquals(i + 1, s[i].get(ValueLayout.JAVA_BYTE, o), "slice " + i + " was written over by another");
        }
        MemorySegment big = HugePages.slice(HugePages.REGION / 2 + 1); // its own allocation
        assertEquals(HugePages.REGION / 2 + 1, big.byteSize());
        big.set(ValueLayout.JAVA_BYTE, big.byteSize() - 1, (byte) 7);
        assertEquals(7, big.get(ValueLayout.JAVA_BYTE, big.byteSize() - 1));
    }

    /** A slice of a few KiB, touched, lies on a huge page (the point of sharing regions): smaps says so. */
    @Test
    void aSmallSliceLiesOnAHugePage() throws Exception {
        assumeHugePages();
        MemorySegment s = HugePages.slice(8192);
        s.fill((byte) 1);
        assertTrue(anonHugeKb(s.address()) >= 2048, "no huge page backs the slice at 0x" + Long.toHexString(s.address()));
    }

    /** Skips a test where this system offers no transparent huge pages, or this JVM may not ask for them. */
    private static void assumeHugePages() {
        assumeTrue(HugePages.AVAILABLE, "no transparent huge pages here (THP off, not Linux), or run without --enable-native-access");
    }

    /** AnonHugePages (kB) of the mapping of /proc/self/smaps that holds {@code address}. */
    private static long anonHugeKb(long address) throws Exception {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        boolean inside = false;
        for (String line : lines) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                inside = Long.compareUnsigned(Long.parseUnsignedLong(range[0], 16), address) <= 0
                        && Long.compareUnsigned(address, Long.parseUnsignedLong(range[1], 16)) < 0;
            } else if (inside && line.startsWith("AnonHugePages:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        fail("no mapping holds 0x" + Long.toHexString(address));
        return 0;
    }
}
