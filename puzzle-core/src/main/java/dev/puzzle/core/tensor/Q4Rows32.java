package dev.puzzle.core.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * A Q4_0 matrix laid out for decode's integer dot products ({@link Kernels#dotQ4Rows32}): its rows in groups of 32,
 * and inside a group, block by block, the 32 rows' FP16 scales as floats followed by the 16 code bytes of each row
 * interleaved (byte i of the 32 rows side by side). One vector load then holds one element of 32 rows, and the products
 * with one activation code add up in 16-bit lanes, a row per lane, for the whole block — the arithmetic of llama.cpp's
 * Q4_0 · Q8_0 dot (integer sums per block, scaled by both blocks' scales), without integer dot-product instructions,
 * which JDK 25's Vector API does not offer. Rows past the last whole group stay in the stored layout.
 *
 * Built once per weight tensor, on first use, off the heap (an automatic arena: freed with the layout), 20 bytes for
 * each stored block of 18 — beside the mapped file, whose pages the OS may then drop.
 */
public final class Q4Rows32 {
    /** Rows per group: one per 16-bit lane of a 512-bit vector. */
    public static final int ROWS = 32;
    /** Bytes of one block of a group: 32 scales (FP32) and 16 × 32 code bytes. */
    public static final int GROUP_BLOCK_BYTES = 4 * ROWS + 16 * ROWS;

    private static final Map<Tensor, Q4Rows32> MADE = new WeakHashMap<>(); // keys by identity (Tensor keeps Object's equals)

    private final MemorySegment data;
    private final int groups, blocks;

    private Q4Rows32(MemorySegment data, int groups, int blocks) {
        this.data = data;
        this.groups = groups;
        this.blocks = blocks;
    }

    /** The layout of a Q4_0 tensor (at least 32 rows, columns a multiple of 32), made on first call and kept while w lives. */
    public static Q4Rows32 of(Tensor w) {
        if (w.dtype() != DType.Q4_0) throw new IllegalArgumentException("Q4Rows32 of " + w.dtype() + " weights " + w);
        if (w.rows() < ROWS || w.cols() % 32 != 0) throw new IllegalArgumentException("Q4Rows32 needs >= 32 rows and columns a multiple of 32: " + w);
        synchronized (MADE) {
            return MADE.computeIfAbsent(w, Q4Rows32::make);
        }
    }

    private static Q4Rows32 make(Tensor w) {
        int k = w.cols(), nb = k / 32, groups = w.rows() / ROWS, rb = 18 * nb;
        MemorySegment seg = Arena.ofAuto().allocate((long) groups * nb * GROUP_BLOCK_BYTES, 64);
        byte[] rows = new byte[ROWS * rb];
        for (int g = 0; g < groups; g++) {
            w.rawBytes(g * ROWS, ROWS, rows, 0);
            for (int b = 0; b < nb; b++) {
                long base = ((long) g * nb + b) * GROUP_BLOCK_BYTES;
                for (int r = 0; r < ROWS; r++) {
                    int o = r * rb + 18 * b;
                    seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, base + 4L * r, Float.float16ToFloat(Quant.getShort(rows, o)));
                    for (int i = 0; i < 16; i++) seg.set(ValueLayout.JAVA_BYTE, base + 4L * ROWS + (long) i * ROWS + r, rows[o + 2 + i]);
                }
            }
        }
        return new Q4Rows32(seg, groups, nb);
    }

    /** The layout's bytes: group g's block b at {@link #offset}. */
    public MemorySegment data() {
        return data;
    }

    /** Whole groups of 32 rows (the rows past them are not in this layout). */
    public int groups() {
        return groups;
    }

    /** Blocks of 32 per row. */
    public int blocks() {
        return blocks;
    }

    /** Byte offset of group g (its first block). */
    public long offset(int g) {
        return (long) g * blocks * GROUP_BLOCK_BYTES;
    }

    /**
     * Input rows as llama.cpp's Q8_0 codes for these products: per row of k, k codes (as shorts), k/32 block scales
     * and k/32 values of 8 × (the block's sum of codes), Q4_0's offset of 8 taken out of the sums once per block.
     * The codes and scales are {@link Quant#roundToQ8_0}'s (code × scale is the value it rounds to).
     */
    public record Codes(short[] codes, float[] scales, short[] offsets) {
        public static Codes of(float[] x, int xOff, int m, int k) {
            int nb = k / 32;
            short[] c = new short[m * k];
            float[] d = new float[m * nb];
            short[] o = new short[m * nb];
            for (int i = 0; i < m; i++) {
                Quant.q8_0Codes(x, xOff + i * k, k, c, i * k, d, i * nb);
                for (int b = 0; b < nb; b++) {
                    int s = 0;
                    for (int j = 0; j < 32; j++) s += c[i * k + 32 * b + j];
                    o[i * nb + b] = (short) (8 * s); // |8 · s| <= 8 · 32 · 127 = 32512: a short
                }
            }
            return new Codes(c, d, o);
        }
    }
}
