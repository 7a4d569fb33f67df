package dev.puzzle.core.tensor;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.backend.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Decode's copy of a mapped BF16 matrix on huge pages: the file's bytes, made once, read as the mapping is. */
class ResidentTest {
    static final int ROWS = MappedTensorTest.ROWS, COLS = MappedTensorTest.COLS, OFFSET = MappedTensorTest.OFFSET;

    static Tensor map(Path f, DType dt, long chunk) throws Exception {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            return Tensor.mapped(ch, OFFSET, dt, chunk, ROWS, COLS);
        }
    }

    @Test
    void theCopyHoldsTheFilesBytesAndIsMadeOnce(@TempDir Path tmp) throws Exception {
        assumeTrue(HugePages.AVAILABLE, "no huge pages here (THP off or no native access): no copies are made");
        Path f = tmp.resolve("w.bin");
        MappedTensorTest.write(f, DType.BF16, 5);
        byte[] file = Files.readAllBytes(f);
        Tensor w = map(f, DType.BF16, 3L * DType.BF16.rowBytes(COLS)); // buffers of 3 rows: the copy crosses them
        MemorySegment seg = Resident.awaitCopy(w);
        assertNotNull(seg);
        assertEquals((long) ROWS * COLS * 2, seg.byteSize());
        for (int i = 0; i < seg.byteSize(); i++) assertEquals(file[OFFSET + i], seg.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
        assertSame(seg, Resident.of(w), "made on the first call, kept after");

        Path g = tmp.resolve("f32.bin");
        MappedTensorTest.write(g, DType.F32, 5);
        assertNull(Resident.awaitCopy(map(g, DType.F32, Tensor.CHUNK_BYTES)), "F32 rows are read from the mapping");
        byte[] bf16 = java.util.Arrays.copyOfRange(file, OFFSET, file.length);
        assertNull(Resident.awaitCopy(Tensor.packed(DType.BF16, bf16, ROWS, COLS)), "heap bytes are read where they are");
    }

    /**
     * linear's decode equals the BF16 dot over the mapped rows themselves, bit for bit, on 1 and 3 threads: on the first
     * call (the copy not yet made: the mapping is read) and on the later ones (the copy is).
     */
    @Test
    void decodeFromTheCopyIsTheDotOverTheMapping(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("w.bin");
        MappedTensorTest.write(f, DType.BF16, 11);
        Tensor w = map(f, DType.BF16, Tensor.CHUNK_BYTES);
        MemorySegment rows = w.rowSegment(0, ROWS);
        for (int round = 0; round < 2; round++) {
            if (round == 1) assertEquals(HugePages.AVAILABLE, Resident.awaitCopy(w) != null, "a copy exactly where huge pages are to be had");
            for (int threads : new int[]{1, 3}) {
            Kernels k = Backend.cpu("vector", threads).kernels();
            Random r = new Random(threads);
            for (int m : new int[]{1, 3}) {
                float[] x = new float[m * COLS], got = new float[m * ROWS];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                k.linear(x, 0, m, COLS, w, got, 0, false);
                for (int i = 0; i < m; i++) {
                    for (int n = 0; n < ROWS; n++) {
                        float want = k.dotBf16(x, i * COLS, rows, (long) n * COLS * 2, COLS);
                        assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[i * ROWS + n]), "round " + round + " threads " + threads + " m " + m + " input " + i + " row " + n);
                    }
                }
            }
            }
        }
    }

    /** A collected tensor gives its copy's bytes back to the budget (a process that decodes model after model). */
    @Test
    void aCollectedTensorGivesItsBytesBack(@TempDir Path tmp) throws Exception {
        assumeTrue(HugePages.AVAILABLE, "no huge pages here (THP off or no native access): no copies are made");
        Path f = tmp.resolve("w.bin");
        MappedTensorTest.write(f, DType.BF16, 17);
        long before = Resident.used(), bytes = (long) ROWS * COLS * 2;
        Tensor w = map(f, DType.BF16, Tensor.CHUNK_BYTES);
        assertNotNull(Resident.awaitCopy(w));
        assertEquals(before + bytes, Resident.used());
        java.lang.ref.WeakReference<Tensor> gone = new java.lang.ref.WeakReference<>(w);
        w = null;
        for (int i = 0; i < 100 && (gone.get() != null || Resident.used() > before); i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertNull(gone.get(), "the tensor was not collected");
        assertTrue(Resident.used() <= before, "its bytes are still counted: " + Resident.used() + " > " + before); // other tests' tensors may go too
    }

    @Test
    void theBudgetIsReadFromItsProperty() {
        assertEquals(0, Resident.budget("0"));
        assertEquals(16L << 20, Resident.budget(" 16 "));
        long total = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        assertEquals(total / 4, Resident.budget(null), total / 64.0, "a quarter of physical memory by default");
        for (String bad : new String[]{"abc", "-1", "1.5"}) {
            PuzzleException e = assertThrows(PuzzleException.class, () -> Resident.budget(bad));
            assertTrue(e.getMessage().contains("-Dpuzzle.resident_mib=" + bad), e.getMessage());
        }
    }

    @Test
    void withABudgetOfNothingDecodeReadsTheMapping() throws Exception {
        Path bin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(bin.toString(), "--add-modules", "jdk.incubator.vector", "-Dpuzzle.resident_mib=0",
                "-cp", System.getProperty("java.class.path"), ResidentTest.class.getName()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("no copy; " + ROWS + " rows as the dot over the mapping computes them"), out);
    }

    /** Run with -Dpuzzle.resident_mib=0: no copy is made, and linear's decode reads the mapped rows (the same sums). */
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("resident");
        try {
            Path f = dir.resolve("w.bin");
            MappedTensorTest.write(f, DType.BF16, 13);
            Tensor w = map(f, DType.BF16, Tensor.CHUNK_BYTES);
            Kernels k = Backend.cpu("vector", 2).kernels();
            float[] x = new float[COLS], out = new float[ROWS];
            for (int i = 0; i < COLS; i++) x[i] = (float) Math.sin(i);
            k.linear(x, 0, 1, COLS, w, out, 0, false);
            int same = 0;
            for (int n = 0; n < ROWS; n++) if (out[n] == k.dotBf16(x, 0, w.rowSegment(0, ROWS), (long) n * COLS * 2, COLS)) same++;
            MemorySegment copy = Resident.awaitCopy(w);
            System.out.println((copy == null ? "no copy; " : "a copy; ") + same + " rows as the dot over the mapping computes them");
            System.exit(copy == null && same == ROWS ? 0 : 1);
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) Files.delete(p);
            }
            Files.delete(dir);
        }
    }
}
