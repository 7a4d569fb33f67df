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
        Path thp = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        assumeTrue(Files.isReadable(thp), "no transparent huge pages on this system");
        String mode = Files.readString(thp);
        assumeTrue(mode.contains("[madvise]") || mode.contains("[always]"), "transparent huge pages are off here: " + mode.strip());
        assumeTrue(HugePages.class.getModule().isNativeAccessEnabled(), "run without --enable-native-access: madvise is not called");
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
