package dev.puzzle.core.tensor;

import dev.puzzle.core.tensor.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;

/**
 * A dense row-major tensor, held one of two ways:
 * <ul>
 * <li><b>on the heap</b>, FP32 over a {@code float[]} — activations, trained weights, anything written;</li>
 * <li><b>stored</b> ({@link #isMapped}): read-only bytes in the dtype the weights are stored in (F32, F16,
 * BF16, or a quantized {@link DType} such as Q8_0), never widened as a whole — a view of a checkpoint file
 * ({@link #mapped}), or bytes on the heap ({@link #packed}, {@link #quantized}: a quantized child before it is
 * written). Kernels read it a block of rows at a time ({@link #rows}, {@link Kernels#linear}), so a parent
 * larger than the heap runs in bounded memory.</li>
 * </ul>
 * The shape travels with the data so every field can state it.
 */
public final class Tensor {
    /** Mapped data is cut into buffers of whole rows below this many bytes (a Java buffer holds < 2 GiB). */
    static final long CHUNK_BYTES = 1L << 30;

    private final float[] data;   // heap storage, or null when mapped
    private final Mapped mapped;  // mapped storage, or null on the heap
    private final int[] shape;

    /**
     * Rows [k·rowsPerChunk, (k+1)·rowsPerChunk) of a mapped tensor live in chunk k; or, with a {@code source}, rows are read
     * from storage in another layout as they are needed ({@link #view}).
     */
    private record Mapped(DType dtype, int cols, int rowsPerChunk, ByteBuffer[] chunks, ShortBuffer[] shorts, FloatBuffer[] floats, RowSource source) {
        Mapped(DType dtype, int cols, int rowsPerChunk, ByteBuffer[] chunks, ShortBuffer[] shorts, FloatBuffer[] floats) {
            this(dtype, cols, rowsPerChunk, chunks, shorts, floats, null);
        }
    }

    /** Fills rows [r0, r0+n) of a quantized tensor, in its dtype's row layout, into dst at off; safe to call from several threads. */
    @FunctionalInterface
    public interface RowSource {
        void read(int r0, int n, byte[] dst, int off);
    }

    /**
     * A stored tensor of a quantized dtype whose rows {@code source} produces when read — a view of a file that holds them
     * in another layout (gpt-oss's MXFP4 blocks and scales, reordered a row at a time), never copied whole.
     */
    public static Tensor view(DType dtype, RowSource source, int... shape) {
        if (!dtype.isQuantized()) throw new IllegalArgumentException(dtype + ": a row source holds a quantized type");
        int cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        requireWholeBlocks(dtype, cols, shape);
        return new Tensor(new Mapped(dtype, cols, Math.max(1, (int) (numel(shape) / cols)), new ByteBuffer[0], new ShortBuffer[0], new FloatBuffer[0],
                java.util.Objects.requireNonNull(source, "source")), shape);
    }

    public Tensor(float[] data, int... shape) {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n
                    + " elements, data has " + data.length);
        }
        this.data = data;
        this.mapped = null;
        this.shape = shape.clone();
    }

    private Tensor(Mapped m, int[] shape) {
        this.data = null;
        this.mapped = m;
        this.shape = shape.clone();
    }

    /**
     * A read-only view of {@code shape} elements of {@code dtype} (little endian) at byte {@code offset} of
     * {@code ch}. The mapping stays valid after the channel is closed.
     */
    public static Tensor mapped(FileChannel ch, long offset, DType dtype, int... shape) throws IOException {
        return mapped(ch, offset, dtype, CHUNK_BYTES, shape);
    }

    /** {@link #mapped} with buffers of at most {@code chunkBytes} (whole rows; tests use small ones). */
    static Tensor mapped(FileChannel ch, long offset, DType dtype, long chunkBytes, int... shape) throws IOException {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " is too large");
        int cols = shape.length == 0 ? 1 : Math.max(1, shape[shape.length - 1]);
        long rows = n / cols;
        requireWholeBlocks(dtype, cols, shape);
        long rowBytes = dtype.rowBytes(cols);
        int rowsPerChunk = (int) Math.max(1, Math.min(rows, chunkBytes / rowBytes));
        int chunks = rows == 0 ? 0 : (int) ((rows + rowsPerChunk - 1) / rowsPerChunk);
        ByteBuffer[] bufs = new ByteBuffer[chunks];
        ShortBuffer[] shorts = new ShortBuffer[chunks];
        FloatBuffer[] floats = new FloatBuffer[chunks];
        for (int c = 0; c < chunks; c++) {
            long r0 = (long) c * rowsPerChunk, nr = Math.min(rowsPerChunk, rows - r0);
            bufs[c] = ch.map(FileChannel.MapMode.READ_ONLY, offset + r0 * rowBytes, nr * rowBytes).order(ByteOrder.LITTLE_ENDIAN);
            if (dtype == DType.F32) floats[c] = bufs[c].asFloatBuffer();
            else if (!dtype.isQuantized()) shorts[c] = bufs[c].asShortBuffer();
        }
        return new Tensor(new Mapped(dtype, cols, rowsPerChunk, bufs, shorts, floats), shape);
    }

    private static void requireWholeBlocks(DType dtype, int cols, int[] shape) {
        if (!dtype.fits(cols)) throw new IllegalArgumentException(dtype + " stores rows of whole " + dtype.blockValues + "-element blocks; a row of " + Arrays.toString(shape) + " has " + cols);
    }

    /** Stored bytes on the heap: {@code bytes} hold the tensor in {@code dtype}'s layout, row after row. */
    public static Tensor packed(DType dtype, byte[] bytes, int... shape) {
        int cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        requireWholeBlocks(dtype, cols, shape);
        if (dtype.byteSize(shape) != bytes.length) throw new IllegalArgumentException(dtype + " " + Arrays.toString(shape) + " needs " + dtype.byteSize(shape) + " bytes, not " + bytes.length);
        long rows = numel(shape) / cols;
        if (rows > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " is too large");
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        return new Tensor(new Mapped(dtype, cols, (int) Math.max(1, rows), new ByteBuffer[]{bb},
                new ShortBuffer[]{dtype.isQuantized() || dtype == DType.F32 ? null : bb.asShortBuffer()},
                new FloatBuffer[]{dtype == DType.F32 ? bb.asFloatBuffer() : null}), shape);
    }

    /** This matrix stored in a quantized dtype (round to nearest, {@link Quant}); rows of whole blocks only. */
    public Tensor quantized(DType dtype) {
        if (!dtype.isQuantized()) throw new IllegalArgumentException(dtype + " is not a quantized type");
        if (isMapped() && mapped.dtype() == dtype) return this;
        float[] f = data();
        return packed(dtype, Quant.quantize(dtype, f, rows(), cols()), shape);
    }

    /** Bytes of the elements as held: FP32 on the heap, the stored size otherwise. */
    public long storedBytes() {
        return dtype().byteSize(shape);
    }

    public static Tensor zeros(int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " is too large for one array");
        }
        return new Tensor(new float[(int) n], shape);
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= d;
        }
        return n;
    }

    /** Whether this is a view of a mapped file (read-only, in its stored dtype). */
    public boolean isMapped() {
        return mapped != null;
    }

    /** The dtype the elements are held in: F32 on the heap, the stored dtype when mapped. */
    public DType dtype() {
        return mapped == null ? DType.F32 : mapped.dtype();
    }

    /**
     * The elements as FP32. On the heap: the backing array itself (writes go to the tensor). Mapped: a
     * fresh widened copy, as large as the tensor in FP32 — for one tensor at a time, never for a whole model.
     */
    public float[] data() {
        if (mapped == null) return data;
        float[] out = new float[size()];
        rows(0, rows(), out, 0);
        return out;
    }

    /** Rows [r0, r0+n) as FP32 into dst at dstOff (a matrix view: rows × {@link #cols}). */
    public void rows(int r0, int n, float[] dst, int dstOff) {
        int cols = cols();
        if (r0 < 0 || n < 0 || r0 + n > rows()) throw new IndexOutOfBoundsException("rows [" + r0 + ", " + (r0 + n) + ") of " + rows());
        if (mapped == null) {
            System.arraycopy(data, r0 * cols, dst, dstOff, n * cols);
            return;
        }
        Mapped m = mapped;
        if (m.source() != null) {
            int rb = (int) m.dtype().rowBytes(cols);
            byte[] b = byteScratch(n * rb);
            m.source().read(r0, n, b, 0);
            for (int r = 0; r < n; r++) Quant.dequantizeRow(m.dtype(), b, r * rb, cols, dst, dstOff + r * cols);
            return;
        }
        forChunks(r0, n, (c, within, take, done) -> {
            int idx = within * cols, len = take * cols, at = dstOff + done * cols;
            switch (m.dtype()) {
                case F32 -> m.floats()[c].get(idx, dst, at, len);
                case BF16 -> {
                    short[] s = scratch(len);
                    m.shorts()[c].get(idx, s, 0, len);
                    for (int i = 0; i < len; i++) dst[at + i] = Float.intBitsToFloat(s[i] << 16);
                }
                case F16 -> {
                    short[] s = scratch(len);
                    m.shorts()[c].get(idx, s, 0, len);
                    for (int i = 0; i < len; i++) dst[at + i] = Float.float16ToFloat(s[i]);
                }
                default -> {
                    int rb = (int) m.dtype().rowBytes(cols);
                    byte[] b = byteScratch(take * rb);
                    m.chunks()[c].get(within * rb, b, 0, take * rb);
                    for (int r = 0; r < take; r++) Quant.dequantizeRow(m.dtype(), b, r * rb, cols, dst, at + r * cols);
                }
            }
        });
    }

    /** Part of a row range that lies in one buffer: {@code take} rows from row {@code within} of chunk c, after {@code done} rows. */
    private interface ChunkRange {
        void accept(int c, int within, int take, int done);
    }

    /** Walks rows [r0, r0+n) of a mapped tensor buffer by buffer. */
    private void forChunks(int r0, int n, ChunkRange body) {
        int per = mapped.rowsPerChunk();
        for (int done = 0; done < n; ) {
            int r = r0 + done, c = r / per, within = r - c * per, take = Math.min(n - done, per - within);
            body.accept(c, within, take, done);
            done += take;
        }
    }

    private static final ThreadLocal<byte[]> BYTES = ThreadLocal.withInitial(() -> new byte[0]);

    private static byte[] byteScratch(int n) {
        byte[] b = BYTES.get();
        if (b.length < n) {
            b = new byte[Math.max(n, 1 << 16)];
            BYTES.set(b);
        }
        return b;
    }

    private static final ThreadLocal<short[]> SCRATCH = ThreadLocal.withInitial(() -> new short[0]);

    private static short[] scratch(int n) {
        short[] s = SCRATCH.get();
        if (s.length < n) {
            s = new short[Math.max(n, 1 << 16)];
            SCRATCH.set(s);
        }
        return s;
    }

    /**
     * Rows [r0, r0+n) of a stored tensor as one read-only memory segment over its mapping (or its heap bytes), row after
     * row in the dtype's layout, for kernels to read in place; null when the rows straddle two chunks of the mapping or the
     * tensor is a view produced row by row.
     */
    public java.lang.foreign.MemorySegment rowSegment(int r0, int n) {
        if (mapped == null || mapped.source() != null || mapped.chunks().length == 0) return null;
        int per = mapped.rowsPerChunk(), c = r0 / per, within = r0 - c * per;
        if (within + n > per) return null;
        long rowBytes = mapped.dtype().rowBytes(mapped.cols());
        java.lang.foreign.MemorySegment[] segs = segments;
        if (segs == null) { // made once: a segment over a buffer is not free (a racing thread makes the same ones)
            segs = new java.lang.foreign.MemorySegment[mapped.chunks().length];
            for (int i = 0; i < segs.length; i++) segs[i] = java.lang.foreign.MemorySegment.ofBuffer(mapped.chunks()[i]);
            segments = segs;
        }
        return segs[c].asSlice(within * rowBytes, n * rowBytes);
    }

    private volatile java.lang.foreign.MemorySegment[] segments; // the chunks as segments, for rowSegment

    /** The stored 16-bit patterns of rows [r0, r0+n) of a mapped F16 or BF16 tensor into dst at dstOff. */
    public void rawShorts(int r0, int n, short[] dst, int dstOff) {
        if (mapped == null || (mapped.dtype() != DType.F16 && mapped.dtype() != DType.BF16)) throw new IllegalStateException("rawShorts of " + this);
        int cols = mapped.cols();
        forChunks(r0, n, (c, within, take, done) -> mapped.shorts()[c].get(within * cols, dst, dstOff + done * cols, take * cols));
    }

    /**
     * The stored bytes of rows [r0, r0+n), little endian, into dst (for copying a mapped tensor to a file in
     * its own dtype without widening). Mapped tensors only.
     */
    public void rawRows(int r0, int n, ByteBuffer dst) {
        if (mapped == null) throw new IllegalStateException("rawRows of a heap tensor");
        long rowBytes = mapped.dtype().rowBytes(mapped.cols());
        if (mapped.source() != null) {
            byte[] b = new byte[Math.toIntExact(n * rowBytes)];
            mapped.source().read(r0, n, b, 0);
            dst.put(b);
            return;
        }
        forChunks(r0, n, (c, within, take, done) -> dst.put(mapped.chunks()[c].slice((int) (within * rowBytes), (int) (take * rowBytes))));
    }

    /**
     * The bytes of a stored tensor held on the heap ({@link #packed}), row after row, for kernels to read in
     * place (not to write); null for a file mapping, whose rows are copied out ({@link #rawBytes}).
     */
    public byte[] packedBytes() {
        if (mapped == null || mapped.chunks().length != 1 || !mapped.chunks()[0].hasArray() || mapped.chunks()[0].arrayOffset() != 0) return null;
        return mapped.chunks()[0].array();
    }

    /** The stored bytes of rows [r0, r0+n) into dst at dstOff (a stored tensor; rowBytes of its dtype a row). */
    public void rawBytes(int r0, int n, byte[] dst, int dstOff) {
        if (mapped == null) throw new IllegalStateException("rawBytes of a heap tensor");
        if (mapped.source() != null) {
            mapped.source().read(r0, n, dst, dstOff);
            return;
        }
        int rowBytes = (int) mapped.dtype().rowBytes(mapped.cols());
        forChunks(r0, n, (c, within, take, done) -> mapped.chunks()[c].get(within * rowBytes, dst, dstOff + done * rowBytes, take * rowBytes));
    }

    /**
     * A matrix whose row i is row perm[i] of this one, in the same storage: a heap copy, or the stored bytes
     * moved row by row (exact in every dtype: a row's blocks and scales travel with it).
     */
    public Tensor permuteRows(int[] perm) {
        int rows = rows(), cols = cols();
        if (perm.length != rows) throw new IllegalArgumentException(perm.length + " indices for " + rows + " rows");
        if (mapped == null) {
            float[] out = new float[data.length];
            for (int i = 0; i < rows; i++) System.arraycopy(data, perm[i] * cols, out, i * cols, cols);
            return new Tensor(out, shape);
        }
        int rb = (int) mapped.dtype().rowBytes(cols);
        byte[] out = new byte[Math.multiplyExact(rows, rb)];
        for (int i = 0; i < rows; i++) rawBytes(perm[i], 1, out, i * rb);
        return packed(mapped.dtype(), out, shape);
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int size() {
        return (int) numel(shape);
    }

    /** Rows of a matrix view: the product of all dimensions but the last. */
    public int rows() {
        return shape.length == 0 ? 1 : size() / Math.max(1, shape[shape.length - 1]);
    }

    public int cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** The same elements under another shape; a mapped tensor keeps the last dimension. */
    public Tensor reshape(int... newShape) {
        if (mapped == null) return new Tensor(data, newShape);
        if (numel(newShape) != size() || (newShape.length == 0 ? 1 : newShape[newShape.length - 1]) != cols()) {
            throw new IllegalArgumentException("cannot view mapped " + Arrays.toString(shape) + " as " + Arrays.toString(newShape));
        }
        return new Tensor(mapped, newShape);
    }

    /** A heap FP32 copy (a mapped tensor is widened). */
    public Tensor copy() {
        return new Tensor(mapped == null ? data.clone() : data(), shape);
    }

    /** This tensor on the heap: itself, or a widened copy of a mapped one. */
    public Tensor onHeap() {
        return mapped == null ? this : copy();
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + (mapped == null ? "" : " mapped " + mapped.dtype());
    }
}
