package dev.puzzle.core.tensor;

import dev.puzzle.core.backend.Backend;

import dev.puzzle.core.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Mapped tensors read back what was stored, in every dtype and across buffer boundaries, and feed the linear kernel. */
class MappedTensorTest {
    static final int ROWS = 37, COLS = 29, OFFSET = 24;

    /** Writes values in dtype after OFFSET bytes of padding; returns the values as stored (rounded). */
    static float[] write(Path f, DType dt, long seed) throws Exception {
        Random r = new Random(seed);
        ByteBuffer b = ByteBuffer.allocate(OFFSET + ROWS * (int) dt.rowBytes(COLS)).order(ByteOrder.LITTLE_ENDIAN);
        b.position(OFFSET);
        float[] stored = new float[ROWS * COLS];
        for (int i = 0; i < stored.length; i++) {
            float v = (float) r.nextGaussian();
            switch (dt) {
                case F32 -> { b.putFloat(v); stored[i] = v; }
                case F16 -> { short s = Float.floatToFloat16(v); b.putShort(s); stored[i] = Float.float16ToFloat(s); }
                case BF16 -> { short s = DType.floatToBf16(v); b.putShort(s); stored[i] = DType.bf16ToFloat(s); }
            }
        }
        Files.write(f, b.array());
        return stored;
    }

    @Test
    void everyDtypeReadsBackAsStoredAcrossChunks(@TempDir Path tmp) throws Exception {
        for (DType dt : new DType[]{DType.F32, DType.F16, DType.BF16}) {
            Path f = tmp.resolve(dt + ".bin");
            float[] stored = write(f, dt, dt.ordinal());
            for (long chunk : new long[]{Tensor.CHUNK_BYTES, 5L * (int) dt.rowBytes(COLS), 1}) { // one buffer; 5 rows each; one row each
                Tensor t;
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    t = Tensor.mapped(ch, OFFSET, dt, chunk, ROWS, COLS);
                }
                assertTrue(t.isMapped());
                assertEquals(dt, t.dtype());
                assertArrayEquals(stored, t.data(), dt + " chunk " + chunk);
                float[] part = new float[9 * COLS];
                t.rows(3, 9, part, 0); // crosses the 5-row buffers
                for (int i = 0; i < part.length; i++) assertEquals(stored[3 * COLS + i], part[i]);
                ByteBuffer raw = ByteBuffer.allocate(9 * (int) dt.rowBytes(COLS));
                t.rawRows(3, 9, raw);
                byte[] file = Files.readAllBytes(f);
                for (int i = 0; i < raw.capacity(); i++) assertEquals(file[OFFSET + 3 * (int) dt.rowBytes(COLS) + i], raw.get(i));
                assertFalse(t.copy().isMapped());
                assertArrayEquals(stored, t.copy().data());
            }
        }
    }

    @Test
    void linearOverMappedWeightsEqualsTheHeapGemm(@TempDir Path tmp) throws Exception {
        for (DType dt : new DType[]{DType.BF16, DType.F32, DType.F16}) {
            Path f = tmp.resolve("w-" + dt + ".bin");
            float[] stored = write(f, dt, 7);
            // One buffer: decode reads BF16 and F32 rows in place from the mapping. Three-row buffers: each thread's
            // range of rows straddles them, so it goes block by block through copies.
            for (long chunk : new long[]{Tensor.CHUNK_BYTES, 3L * dt.rowBytes(COLS)}) {
                Tensor w;
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    w = Tensor.mapped(ch, OFFSET, dt, chunk, ROWS, COLS);
                }
                for (int threads : new int[]{1, 3}) {
                    Kernels k = Backend.cpu("vector", threads).kernels();
                    Random r = new Random(3);
                    for (int m : new int[]{1, 4, 70}) {
                        float[] x = new float[m * COLS];
                        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                        float[] want = new float[m * ROWS], got = new float[m * ROWS];
                        for (int i = 0; i < m; i++) {
                            for (int n = 0; n < ROWS; n++) {
                                double s = 0;
                                for (int j = 0; j < COLS; j++) s += (double) x[i * COLS + j] * stored[n * COLS + j];
                                want[i * ROWS + n] = (float) s;
                            }
                        }
                        String what = dt + " chunk " + chunk + " threads " + threads + " m " + m;
                        k.linear(x, 0, m, COLS, w, got, 0, false);
                        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4 * (1 + Math.abs(want[i])), what + " element " + i);
                        k.linear(x, 0, m, COLS, w, got, 0, true); // accumulates
                        for (int i = 0; i < want.length; i++) assertEquals(2 * want[i], got[i], 2e-4 * (1 + Math.abs(want[i])), what);
                    }
                }
            }
        }
    }
}
