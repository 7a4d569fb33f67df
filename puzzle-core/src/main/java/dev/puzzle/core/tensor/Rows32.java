package dev.puzzle.core.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * A Q4_0, MXFP4 or Q8_0 matrix laid out for decode's integer dot products ({@link Kernels#dotQ4Rows32},
 * {@link Kernels#dotMxfp4Rows32}, {@link Kernels#dotQ8Rows32}): its rows in groups of 32, and inside a group, block by
 * block, the 32 rows' scales as floats (Q4_0's and Q8_0's FP16 scale; MXFP4's E8M0 scale halved, its values doubled to
 * the integers of llama.cpp's table) followed by the code bytes of each row interleaved (byte i of the 32 rows side by
 * side: 16 bytes a row for the 4-bit formats, 32 for Q8_0). One vector load then holds one element of 32 rows: the
 * 4-bit products with one activation code add up in 16-bit lanes, a row per lane, for the whole block; Q8_0's in float
 * lanes, where every partial sum of a block is an integer below 2^24 and so exact. That is the arithmetic of llama.cpp's
 * Q4_0 · Q8_0, MXFP4 · Q8_0 and Q8_0 · Q8_0 dots (integer sums per block, scaled by both blocks' scales), without
 * integer dot-product instructions, which JDK 25's Vector API does not offer, and without a scale or a horizontal sum
 * per row and block. Rows past the last whole group stay in the stored layout.
 *
 * Built once per weight tensor, on first use, off the heap on huge pages ({@link HugePages#slice}: freed with the
 * layouts that share its region), 20 bytes for each stored block of 18 (Q4_0) or 17 (MXFP4), 36 for each of 34 (Q8_0)
 * — beside the mapped file, whose pages the OS may then drop. On huge pages because decode reads every byte of it once
 * a token: on the file's 4 KiB pages each page is a TLB walk, two-dimensional under a hypervisor (110M Q4_0 model with
 * Q8_0 embeddings, one thread: 75-80 → 85-86 tok/s).
 */
public final class Rows32 {
    /** Rows per group: one per 16-bit lane of a 512-bit vector. */
    public static final int ROWS = 32;
    /** Bytes of one block of a 4-bit group: 32 scales (FP32) and 16 × 32 code bytes. */
    public static final int Q4_BLOCK_BYTES = 4 * ROWS + 16 * ROWS;
    /** Bytes of one block of a Q8_0 group: 32 scales (FP32) and 32 × 32 code bytes. */
    public static final int Q8_BLOCK_BYTES = 4 * ROWS + 32 * ROWS;

    private static final Map<Tensor, Rows32> MADE = new WeakHashMap<>(); // keys by identity (Tensor keeps Object's equals)

    private final MemorySegment data;
    private final int groups, blocks, blockBytes;

    private Rows32(MemorySegment data, int groups, int blocks, int blockBytes) {
        this.data = data;
        this.groups = groups;
        this.blocks = blocks;
        this.blockBytes = blockBytes;
    }

    /**
     * Whether decode lays Q4_0, MXFP4 and Q8_0 matrices out this way ({@code -Dpuzzle.decode_layout=false} turns it off: decode then reads
     * the stored blocks in place, with the float dot, and keeps no copy — for a machine short of memory).
     */
    static final boolean ENABLED = !"false".equals(System.getProperty("puzzle.decode_layout"));

    /** The stored dtypes with this layout. */
    public static boolean supports(DType t) {
        return t == DType.Q4_0 || t == DType.MXFP4 || t == DType.Q8_0;
    }

    /**
     * Whether decode reads {@code w} through its layout (on by default, a supported dtype, a matrix of at least 32 rows
     * and whole blocks): its stored bytes are then read only for the rows past the last group, prefill and lookups.
     */
    public static boolean decodesThrough(Tensor w) {
        return ENABLED && supports(w.dtype()) && w.shape().length == 2 && w.rows() >= ROWS && w.cols() % 32 == 0;
    }

    /** Bytes of one block of a group of t's rows. */
    static int blockBytes(DType t) {
        return t == DType.Q8_0 ? Q8_BLOCK_BYTES : Q4_BLOCK_BYTES;
    }

    /** The layout of a Q4_0, MXFP4 or Q8_0 tensor (at least 32 rows, columns a multiple of 32), made on first call and kept while w lives. */
    public static Rows32 of(Tensor w) {
        if (!supports(w.dtype())) throw new IllegalArgumentException("Rows32 of " + w.dtype() + " weights " + w);
        if (w.rows() < ROWS || w.cols() % 32 != 0) throw new IllegalArgumentException("Rows32 needs >= 32 rows and columns a multiple of 32: " + w);
        synchronized (MADE) {
            return MADE.computeIfAbsent(w, Rows32::make);
        }
    }

    private static Rows32 make(Tensor w) {
        DType t = w.dtype();
        boolean fp16 = t != DType.MXFP4; // Q4_0's and Q8_0's block scale; MXFP4's is E8M0
        int k = w.cols(), nb = k / 32, groups = w.rows() / ROWS, sb = t.blockBytes, codes = t == DType.Q8_0 ? 32 : 16;
        int rb = sb * nb, bb = blockBytes(t);
        MemorySegment seg = HugePages.slice((long) groups * nb * bb);
        // The groups in a few ranges at once (the common fork-join pool and this thread): a model's first decode step
        // makes all its layouts, 545 MB of the 1.1B Q4_0 model in 0.5-2.2 s on one thread
        int ranges = Math.min(groups, 2 * Runtime.getRuntime().availableProcessors());
        java.util.stream.IntStream.range(0, ranges).parallel().forEach(c -> {
            byte[] rows = new byte[ROWS * rb], group = new byte[nb * bb]; // a group built on the heap, then copied whole
            for (int g = (int) ((long) groups * c / ranges), end = (int) ((long) groups * (c + 1) / ranges); g < end; g++) {
                w.rawBytes(g * ROWS, ROWS, rows, 0);
                for (int b = 0; b < nb; b++) layoutBlock(rows, rb, sb * b, sb - codes, codes, fp16, group, b * bb);
                MemorySegment.copy(MemorySegment.ofArray(group), 0, seg, (long) g * group.length, group.length);
            }
        });
        return new Rows32(seg, groups, nb, bb);
    }

    private static final java.lang.invoke.VarHandle LONG_LE = java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    /**
     * One block of a group into {@code out} at {@code at}: the 32 rows' scales (stored at {@code off} of each row of
     * {@code rows}, {@code rb} bytes apart) as floats, then their {@code codes} code bytes (from {@code off + head})
     * interleaved, byte i of row r at {@code 4·ROWS + i·ROWS + r}. The codes move 8 rows × 8 bytes at a time, an 8×8
     * transpose of longs, rather than a load and a store a byte; and in a method of its own, called once a block, which
     * C2 compiles within the first matrix (the byte loop sat in the per-range lambda, called a few times a matrix, and
     * ran in C1's profiling code through whole models: 0.27 GB/s even after warm-up). The layouts of a fresh JVM's first
     * decode step, 2026-12-05 (Xeon, two threads): the 110M Q4_0 model's 48 MB 236 -> 145 ms, the 1.1B shape's 545 MB
     * 716 -> 403 ms (medians of five and six runs).
     */
    static void layoutBlock(byte[] rows, int rb, int off, int head, int codes, boolean fp16, byte[] out, int at) {
        for (int r = 0; r < ROWS; r++) {
            int o = r * rb + off;
            float d = fp16 ? Float.float16ToFloat(Quant.getShort(rows, o)) : Quant.e8m0Half(rows[o] & 0xff);
            Quant.putInt(out, at + 4 * r, Float.floatToRawIntBits(d));
        }
        int codesAt = at + 4 * ROWS;
        for (int r0 = 0; r0 < ROWS; r0 += 8) {
            int src = r0 * rb + off + head;
            for (int i0 = 0; i0 < codes; i0 += 8) {
                int s = src + i0;
                long x0 = (long) LONG_LE.get(rows, s), x1 = (long) LONG_LE.get(rows, s + rb);
                long x2 = (long) LONG_LE.get(rows, s + 2 * rb), x3 = (long) LONG_LE.get(rows, s + 3 * rb);
                long x4 = (long) LONG_LE.get(rows, s + 4 * rb), x5 = (long) LONG_LE.get(rows, s + 5 * rb);
                long x6 = (long) LONG_LE.get(rows, s + 6 * rb), x7 = (long) LONG_LE.get(rows, s + 7 * rb);
                // byte j of xr is code i0 + j of row r0 + r; swap bytes, then pairs, then quads across the rows
                long t;
                t = ((x0 >>> 8) ^ x1) & 0x00FF00FF00FF00FFL; x1 ^= t; x0 ^= t << 8;
                t = ((x2 >>> 8) ^ x3) & 0x00FF00FF00FF00FFL; x3 ^= t; x2 ^= t << 8;
                t = ((x4 >>> 8) ^ x5) & 0x00FF00FF00FF00FFL; x5 ^= t; x4 ^= t << 8;
                t = ((x6 >>> 8) ^ x7) & 0x00FF00FF00FF00FFL; x7 ^= t; x6 ^= t << 8;
                t = ((x0 >>> 16) ^ x2) & 0x0000FFFF0000FFFFL; x2 ^= t; x0 ^= t << 16;
                t = ((x1 >>> 16) ^ x3) & 0x0000FFFF0000FFFFL; x3 ^= t; x1 ^= t << 16;
                t = ((x4 >>> 16) ^ x6) & 0x0000FFFF0000FFFFL; x6 ^= t; x4 ^= t << 16;
                t = ((x5 >>> 16) ^ x7) & 0x0000FFFF0000FFFFL; x7 ^= t; x5 ^= t << 16;
                t = ((x0 >>> 32) ^ x4) & 0x00000000FFFFFFFFL; x4 ^= t; x0 ^= t << 32;
                t = ((x1 >>> 32) ^ x5) & 0x00000000FFFFFFFFL; x5 ^= t; x1 ^= t << 32;
                t = ((x2 >>> 32) ^ x6) & 0x00000000FFFFFFFFL; x6 ^= t; x2 ^= t << 32;
                t = ((x3 >>> 32) ^ x7) & 0x00000000FFFFFFFFL; x7 ^= t; x3 ^= t << 32;
                // now byte r of xj is code i0 + j of row r0 + r
                int d = codesAt + i0 * ROWS + r0;
                LONG_LE.set(out, d, x0);
                LONG_LE.set(out, d + ROWS, x1);
                LONG_LE.set(out, d + 2 * ROWS, x2);
                LONG_LE.set(out, d + 3 * ROWS, x3);
                LONG_LE.set(out, d + 4 * ROWS, x4);
                LONG_LE.set(out, d + 5 * ROWS, x5);
                LONG_LE.set(out, d + 6 * ROWS, x6);
                LONG_LE.set(out, d + 7 * ROWS, x7);
            }
        }
    }

    /** The layout's bytes: group g's block b at {@link #offset}. */
    public MemorySegment data() {
        return data;
    }

    /** Whole groups of 32 rows (the rows past them are not in this layout). */
    public int groups() {
        return groups;
    }

    /** Byte offset of group g (its first block). */
    public long offset(int g) {
        return (long) g * blocks * blockBytes;
    }

    /** The integer value of each Q4_0 code (q − 8) and of each MXFP4 code (llama.cpp's E2M1 table, doubled). */
    static final int[] Q4_0_VALUES = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};
    static final int[] MXFP4_VALUES = new int[16];

    static {
        for (int i = 0; i < 16; i++) MXFP4_VALUES[i] = Quant.MXFP4_VALUES[i];
    }

    /**
     * The scalar reference of {@link Kernels#dotQ4Rows32} and {@link Kernels#dotMxfp4Rows32}: for each row r of the
     * group at {@code groupOff}, block by block in order, the exact integer Σ value(code)·xcode and then
     * {@code a = fma(float(Σ) · scale, dx, a)}, over the first half of the blocks into one sum and the rest into
     * another (the vector kernels read the halves as two streams); out[outOff + r] (+)= the first + the second.
     */
    static void scalarProduct(int[] values, short[] xq, int xqOff, float[] dx, int dOff, MemorySegment rep, long groupOff, int blocks,
                              float[] out, int outOff, boolean accumulate) {
        scalarProduct(Q4_BLOCK_BYTES, (b, codes, r) -> {
            int sum = 0;
            for (int i = 0; i < 16; i++) {
                int v = rep.get(ValueLayout.JAVA_BYTE, codes + (long) i * ROWS + r) & 0xff;
                sum += values[v & 15] * xq[xqOff + 32 * b + i] + values[v >>> 4] * xq[xqOff + 32 * b + i + 16];
            }
            return sum;
        }, dx, dOff, rep, groupOff, blocks, out, outOff, accumulate);
    }

    /**
     * The scalar reference of {@link Kernels#dotQ8Rows32}: {@link #scalarProduct}'s order over a Q8_0 group, the block
     * sums Σ q·xcode over its 32 code bytes (exact integers, however a kernel adds them up).
     */
    static void scalarProductQ8(float[] xq, int xqOff, float[] dx, int dOff, MemorySegment rep, long groupOff, int blocks,
                                float[] out, int outOff, boolean accumulate) {
        scalarProduct(Q8_BLOCK_BYTES, (b, codes, r) -> {
            int sum = 0;
            for (int i = 0; i < 32; i++) sum += rep.get(ValueLayout.JAVA_BYTE, codes + (long) i * ROWS + r) * (int) xq[xqOff + 32 * b + i];
            return sum;
        }, dx, dOff, rep, groupOff, blocks, out, outOff, accumulate);
    }

    /** The exact integer sum of block b of row r, its code bytes at {@code codes} (the group's first row's). */
    private interface BlockSum {
        int of(int b, long codes, int r);
    }

    private static void scalarProduct(int blockBytes, BlockSum sum, float[] dx, int dOff, MemorySegment rep, long groupOff, int blocks,
                                      float[] out, int outOff, boolean accumulate) {
        for (int r = 0; r < ROWS; r++) {
            float a = 0f, first = 0f;
            for (int b = 0; b < blocks; b++) {
                if (b == blocks / 2) {
                    first = a;
                    a = 0f;
                }
                long base = groupOff + (long) b * blockBytes;
                a = Math.fma((float) sum.of(b, base + 4L * ROWS, r) * rep.get(ValueLayout.JAVA_FLOAT_UNALIGNED, base + 4L * r), dx[dOff + b], a);
            }
            a = first + a;
            out[outOff + r] = accumulate ? out[outOff + r] + a : a;
        }
    }

    /**
     * Input rows as llama.cpp's Q8_0 codes for these products: per row of k, k codes (as shorts, and as floats for Q8_0's
     * float lanes), k/32 block scales and k/32 values of 8 × (the block's sum of codes), Q4_0's offset of 8 taken out of
     * its sums once per block. The codes and scales are {@link Quant#roundToQ8_0}'s (code × scale is the value it rounds to).
     */
    public record Codes(short[] codes, float[] values, float[] scales, short[] offsets) {
        private static final ThreadLocal<Codes> SCRATCH = ThreadLocal.withInitial(() -> sized(0));

        private static Codes sized(int n) {
            return new Codes(new short[n], new float[n], new float[n / 32], new short[n / 32]);
        }

        public static Codes of(float[] x, int xOff, int m, int k) {
            return fill(sized(m * k), x, xOff, m, k, null);
        }

        /**
         * {@link #of} into this thread's scratch arrays (grown as needed, longer than m·k): decode allocates nothing per
         * token. Only what weights of type t read is filled: the offsets for Q4_0, the float codes for Q8_0.
         */
        static Codes scratch(float[] x, int xOff, int m, int k, DType t) {
            Codes c = SCRATCH.get();
            if (c.codes.length < m * k) SCRATCH.set(c = sized(m * k));
            return fill(c, x, xOff, m, k, t);
        }

        /** Codes and scales of the m rows, and the offsets and float codes where t (null: any type) reads them. */
        private static Codes fill(Codes into, float[] x, int xOff, int m, int k, DType t) {
            int nb = k / 32;
            short[] c = into.codes, o = into.offsets;
            float[] d = into.scales, v = into.values;
            for (int i = 0; i < m; i++) {
                Quant.q8_0Codes(x, xOff + i * k, k, c, i * k, d, i * nb);
                for (int b = 0; b < nb && (t == null || t == DType.Q4_0); b++) {
                    int s = 0;
                    for (int j = 0; j < 32; j++) s += c[i * k + 32 * b + j];
                    o[i * nb + b] = (short) (8 * s); // |8 · s| <= 8 · 32 · 127 = 32512: a short
                }
            }
            if (t == null || t == DType.Q8_0) for (int j = 0; j < m * k; j++) v[j] = c[j];
            return into;
        }
    }
}
