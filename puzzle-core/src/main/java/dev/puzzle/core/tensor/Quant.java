package dev.puzzle.core.tensor;

/**
 * Round-to-nearest quantizers and decoders of the quantized {@link DType}s, one row at a time, in the
 * layouts {@link DType} describes. {@code Q8_0}, {@code Q4_0} and {@code MXFP4} follow llama.cpp's
 * reference quantizers ({@code quantize_row_*_ref} in ggml-quants.c: the same scale, the same rounding), so
 * a tensor quantized here is the tensor {@code llama-quantize} would write. Scalar code: the kernels decode
 * with vectors ({@link Kernels#dotQuant}); this is their reference and the writers' quantizer.
 * <p>
 * Error of one element x of a block (or row) with absolute maximum a — what the tests check:
 * <ul>
 * <li>Q8_0: d = a/127 rounded to FP16; |x − x̂| ≤ d/2 + a·2⁻¹¹ (the FP16 rounding of d, times |q| ≤ 127).</li>
 * <li>Q4_0: d = m/−8 for the element m of largest magnitude; |x − x̂| ≤ |d|/2 + a·2⁻¹⁰, and up to |d| for
 *     the elements near −m (the code 16 does not exist: 15 is the top).</li>
 * <li>MXFP4: scale 2^⌊log2 a⌋⁻², codes ±{0, ½, 1, 1½, 2, 3, 4, 6}: half the local grid step, and up to
 *     2 scales above 6 scales (a reaches 8 scales).</li>
 * <li>NVFP4: g = a_tensor/(6·448), block scale s = e4m3(a_block/(6g)); half the local E2M1 step of g·s, and
 *     the saturation above 6·g·s (s rounded down by at most 2⁻⁴ relative).</li>
 * <li>FP8: c = a_row/448; E4M3's half ulp of x/c, times c.</li>
 * </ul>
 */
public final class Quant {
    private Quant() {}

    /** E2M1 (FP4) values by code: sign bit 3, then exponent and mantissa. */
    static final float[] E2M1 = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};
    /** llama.cpp's kvalues_mxfp4: E2M1 doubled, paired with a halved E8M0 scale. */
    static final byte[] MXFP4_VALUES = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    /** llama.cpp's GGML_E8M0_TO_FP32_HALF: 2^(e−128) (exact for every e, subnormal below 2⁻¹²⁶). */
    public static float e8m0Half(int e) {
        int bits = e < 2 ? 0x00200000 << e : (e - 1) << 23;
        return Float.intBitsToFloat(bits);
    }

    /** C's roundf: to nearest, halves away from zero. */
    static float roundAway(float x) {
        return (float) Math.copySign(Math.floor(Math.abs((double) x) + 0.5), x);
    }

    /** The tensor-level FP32 scale of NVFP4 over n values: max|x| / (6·448), or 1 when all are zero. */
    public static float nvfp4TensorScale(float[] x, int off, int n) {
        float a = 0;
        for (int i = off; i < off + n; i++) a = Math.max(a, Math.abs(x[i]));
        return nvfp4Scale(a);
    }

    /** NVFP4's tensor scale for a tensor whose largest magnitude is amax: the largest block scale then is E4M3's 448. */
    public static float nvfp4Scale(float amax) {
        return amax > 0 ? amax / (6f * Fp8E4M3.MAX) : 1f;
    }

    /**
     * Quantizes one row of {@code cols} values from x[off..] into out[outOff..] (rowBytes(cols) bytes).
     * {@code tensorScale}: NVFP4's per-tensor scale ({@link #nvfp4TensorScale} over the whole tensor), else unused.
     */
    public static void quantizeRow(DType t, float[] x, int off, int cols, float tensorScale, byte[] out, int outOff) {
        if (!t.fits(cols)) throw new IllegalArgumentException(t + " needs rows of whole " + t.blockValues + "-element blocks, not " + cols);
        switch (t) {
            case Q8_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    int x0 = off + 32 * b, o = outOff + 34 * b;
                    float amax = 0;
                    for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[x0 + j]));
                    float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
                    putShort(out, o, Float.floatToFloat16(d));
                    for (int j = 0; j < 32; j++) out[o + 2 + j] = (byte) (int) roundAway(x[x0 + j] * id);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    int x0 = off + 32 * b, o = outOff + 18 * b;
                    float amax = 0, max = 0;
                    for (int j = 0; j < 32; j++) {
                        float v = x[x0 + j];
                        if (amax < Math.abs(v)) {
                            amax = Math.abs(v);
                            max = v;
                        }
                    }
                    float d = max / -8f, id = d != 0 ? 1f / d : 0f;
                    putShort(out, o, Float.floatToFloat16(d));
                    for (int j = 0; j < 16; j++) {
                        int q0 = Math.min(15, (byte) (int) (x[x0 + j] * id + 8.5f));
                        int q1 = Math.min(15, (byte) (int) (x[x0 + 16 + j] * id + 8.5f));
                        out[o + 2 + j] = (byte) (q0 | q1 << 4);
                    }
                }
            }
            case MXFP4 -> {
                for (int b = 0; b < cols / 32; b++) {
                    int x0 = off + 32 * b, o = outOff + 17 * b;
                    float amax = 0;
                    for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[x0 + j]));
                    int e = amax > 0 ? Math.max(0, Math.min(254, Math.getExponent(amax) - 2 + 127)) : 0;
                    float d = e8m0Half(e);
                    out[o] = (byte) e;
                    for (int j = 0; j < 16; j++) {
                        out[o + 1 + j] = (byte) (nearestMxfp4(x[x0 + j], d) | nearestMxfp4(x[x0 + 16 + j], d) << 4);
                    }
                }
            }
            case NVFP4 -> {
                putInt(out, outOff, Float.floatToRawIntBits(tensorScale));
                float g = tensorScale;
                for (int b = 0; b < cols / 16; b++) {
                    int x0 = off + 16 * b, o = outOff + 4 + 9 * b;
                    float amax = 0;
                    for (int j = 0; j < 16; j++) amax = Math.max(amax, Math.abs(x[x0 + j]));
                    byte sb = Fp8E4M3.encode(amax / 6f / g);
                    float s = Fp8E4M3.decode(sb) * g, inv = s > 0 ? 1f / s : 0f;
                    out[o] = sb;
                    for (int j = 0; j < 8; j++) {
                        out[o + 1 + j] = (byte) (nearestE2m1(x[x0 + 2 * j] * inv) | nearestE2m1(x[x0 + 2 * j + 1] * inv) << 4);
                    }
                }
            }
            case FP8 -> {
                float amax = 0;
                for (int j = 0; j < cols; j++) amax = Math.max(amax, Math.abs(x[off + j]));
                float c = amax > 0 ? amax / Fp8E4M3.MAX : 1f, inv = 1f / c;
                putInt(out, outOff, Float.floatToRawIntBits(c));
                for (int j = 0; j < cols; j++) out[outOff + 4 + j] = Fp8E4M3.encode(x[off + j] * inv);
            }
            default -> throw new IllegalArgumentException(t + " is not a quantized type");
        }
    }

    /** Decodes one row of {@code cols} values stored in t at src[off..] into dst[dstOff..]. */
    public static void dequantizeRow(DType t, byte[] src, int off, int cols, float[] dst, int dstOff) {
        switch (t) {
            case Q8_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    int o = off + 34 * b, y = dstOff + 32 * b;
                    float d = Float.float16ToFloat(getShort(src, o));
                    for (int j = 0; j < 32; j++) dst[y + j] = src[o + 2 + j] * d;
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    int o = off + 18 * b, y = dstOff + 32 * b;
                    float d = Float.float16ToFloat(getShort(src, o));
                    for (int j = 0; j < 16; j++) {
                        int q = src[o + 2 + j] & 0xff;
                        dst[y + j] = ((q & 0xf) - 8) * d;
                        dst[y + 16 + j] = ((q >>> 4) - 8) * d;
                    }
                }
            }
            case MXFP4 -> {
                for (int b = 0; b < cols / 32; b++) {
                    int o = off + 17 * b, y = dstOff + 32 * b;
                    float d = e8m0Half(src[o] & 0xff);
                    for (int j = 0; j < 16; j++) {
                        int q = src[o + 1 + j] & 0xff;
                        dst[y + j] = MXFP4_VALUES[q & 0xf] * d;
                        dst[y + 16 + j] = MXFP4_VALUES[q >>> 4] * d;
                    }
                }
            }
            case NVFP4 -> {
                float g = Float.intBitsToFloat(getInt(src, off));
                for (int b = 0; b < cols / 16; b++) {
                    int o = off + 4 + 9 * b, y = dstOff + 16 * b;
                    float s = Fp8E4M3.decode(src[o]) * g;
                    for (int j = 0; j < 8; j++) {
                        int q = src[o + 1 + j] & 0xff;
                        dst[y + 2 * j] = E2M1[q & 0xf] * s;
                        dst[y + 2 * j + 1] = E2M1[q >>> 4] * s;
                    }
                }
            }
            case FP8 -> {
                float c = Float.intBitsToFloat(getInt(src, off));
                for (int j = 0; j < cols; j++) dst[dstOff + j] = Fp8E4M3.decode(src[off + 4 + j]) * c;
            }
            default -> throw new IllegalArgumentException(t + " is not a quantized type");
        }
    }

    /**
     * Whether a product with weights stored in t rounds its input to Q8_0 first, as llama.cpp's CPU backend
     * does (Q8_0 is the vec_dot type of Q8_0, Q4_0 and MXFP4): so the toolkit computes what the runtime the
     * child is deployed on computes, and its scores are that runtime's.
     */
    public static boolean roundsInputs(DType t) {
        return t == DType.Q8_0 || t == DType.Q4_0 || t == DType.MXFP4;
    }

    /**
     * x[off..off+n) rounded to Q8_0 in place, as llama.cpp's quantize_row_q8_0 rounds activations (its SIMD
     * version: scale amax/127 stored in FP16, codes rint(x·127/amax)): x ← fp16(d)·q.
     */
    public static void roundToQ8_0(float[] x, int off, int n) {
        for (int b = off; b < off + n; b += 32) {
            float amax = 0;
            for (int j = b; j < b + 32; j++) amax = Math.max(amax, Math.abs(x[j]));
            float d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f)), id = amax != 0 ? 127f / amax : 0f;
            for (int j = b; j < b + 32; j++) x[j] = (int) Math.rint(x[j] * id) * d; // an int code: a zero is +0, as ggml decodes it
        }
    }

    /**
     * The codes and scales {@link #roundToQ8_0} rounds x[off..off+n) with, the input left as it is: codes[cOff..+n)
     * in [-127, 127], scales[sOff..+n/32) (FP16 values); codes[j] · scales[j / 32] is what roundToQ8_0 writes.
     */
    public static void q8_0Codes(float[] x, int off, int n, short[] codes, int cOff, float[] scales, int sOff) {
        for (int b = 0; b < n; b += 32) {
            float amax = 0;
            for (int j = off + b; j < off + b + 32; j++) amax = Math.max(amax, Math.abs(x[j]));
            float d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f)), id = amax != 0 ? 127f / amax : 0f;
            scales[sOff + b / 32] = d;
            for (int j = 0; j < 32; j++) codes[cOff + b + j] = (short) (int) Math.rint(x[off + b + j] * id);
        }
    }

    /** A whole row-major [rows, cols] matrix quantized to t (NVFP4's tensor scale taken over all of it). */
    public static byte[] quantize(DType t, float[] x, int rows, int cols) {
        int rb = (int) t.rowBytes(cols);
        byte[] out = new byte[Math.multiplyExact(rows, rb)];
        float g = t == DType.NVFP4 ? nvfp4TensorScale(x, 0, rows * cols) : 0f;
        for (int r = 0; r < rows; r++) quantizeRow(t, x, r * cols, cols, g, out, r * rb);
        return out;
    }

    /** The quantize-dequantize of a [rows, cols] matrix: the values a model stored in t computes with. */
    public static float[] roundTrip(DType t, float[] x, int rows, int cols) {
        float[] out = new float[rows * cols];
        byte[] q = quantize(t, x, rows, cols);
        int rb = (int) t.rowBytes(cols);
        for (int r = 0; r < rows; r++) dequantizeRow(t, q, r * rb, cols, out, r * cols);
        return out;
    }

    /**
     * What is wrong with a stored quantized tensor's scales (NaN or infinite, in which row), or null; readers
     * refuse such a tensor rather than compute NaN logits with it.
     */
    public static String badScale(Tensor t) {
        DType d = t.dtype();
        int cols = t.cols(), rb = (int) d.rowBytes(cols), rows = t.rows(), block = Math.max(1, (1 << 20) / rb);
        boolean inPlace = d == DType.Q8_0 || d == DType.Q4_0 || d == DType.MXFP4;
        byte[] buf = null;
        for (int r0 = 0; r0 < rows; r0 += block) {
            int n = Math.min(block, rows - r0);
            java.lang.foreign.MemorySegment seg = inPlace ? t.rowSegment(r0, n) : null;
            if (seg != null) { // the scales read where they lie: the codes, 16 or 32 bytes of every 17-34, are not copied
                int r = 0;
                while (r < n && !badScaleAt(d, seg, (long) r * rb, cols)) r++;
                if (r == n) continue;
                byte[] row = new byte[rb];
                java.lang.foreign.MemorySegment.copy(seg, (long) r * rb, java.lang.foreign.MemorySegment.ofArray(row), 0, rb);
                return "row " + (r0 + r) + ": " + badScale(d, row, 0, cols);
            }
            if (buf == null) buf = new byte[Math.min(rows, block) * rb];
            t.rawBytes(r0, n, buf, 0);
            for (int r = 0; r < n; r++) {
                String bad = badScale(d, buf, r * rb, cols);
                if (bad != null) return "row " + (r0 + r) + ": " + bad;
            }
        }
        return null;
    }

    private static final java.lang.foreign.ValueLayout.OfShort SCALE16 = java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /**
     * Whether the Q8_0, Q4_0 or MXFP4 row at {@code off} of {@code seg} has a NaN or infinite scale: an FP16 scale with
     * every exponent bit set, or MXFP4's E8M0 0xff — what {@link #badScale(DType, byte[], int, int)} reports, tested on
     * the bits, and one call a row, so that C2 compiles it within the first tensor. Loads of a fresh JVM, 2026-12-05
     * (Xeon, medians of four), against copying every row out first: 110M Q4_0 403 -> 344 ms, the 1.1B shape's Q4_0 (45
     * million scales) 659 -> 517 ms and Q8_0 722 -> 555 ms.
     */
    private static boolean badScaleAt(DType t, java.lang.foreign.MemorySegment seg, long off, int cols) {
        int blocks = cols / 32;
        if (t == DType.MXFP4) {
            for (int b = 0; b < blocks; b++) if (seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 17L * b) == (byte) 0xff) return true;
            return false;
        }
        long step = t.blockBytes;
        for (int b = 0; b < blocks; b++) if ((seg.get(SCALE16, off + step * b) & 0x7C00) == 0x7C00) return true;
        return false;
    }

    /**
     * What is wrong with the scales of a quantized row (a NaN or infinite scale), or null. Readers check every
     * row of a file's quantized tensors with this before the kernels see them.
     */
    public static String badScale(DType t, byte[] src, int off, int cols) {
        switch (t) {
            case Q8_0, Q4_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    float d = Float.float16ToFloat(getShort(src, off + t.blockBytes * b));
                    if (!Float.isFinite(d)) return "block " + b + " has scale " + d;
                }
            }
            case MXFP4 -> {
                for (int b = 0; b < cols / 32; b++) if ((src[off + 17 * b] & 0xff) == 0xff) return "block " + b + " has the E8M0 NaN scale (0xff)";
            }
            case NVFP4 -> {
                float g = Float.intBitsToFloat(getInt(src, off));
                if (!Float.isFinite(g)) return "tensor scale " + g;
                for (int b = 0; b < cols / 16; b++) if ((src[off + 4 + 9 * b] & 0x7f) == 0x7f) return "block " + b + " has the E4M3 NaN scale";
            }
            case FP8 -> {
                float c = Float.intBitsToFloat(getInt(src, off));
                if (!Float.isFinite(c)) return "row scale " + c;
            }
            default -> {
            }
        }
        return null;
    }

    /** llama.cpp's best_index_mxfp4: the code whose value (kvalues·d) is nearest x, the first on a tie. */
    private static int nearestMxfp4(float x, float d) {
        int best = 0;
        float bestErr = Math.abs(MXFP4_VALUES[0] * d - x);
        for (int i = 1; i < 16; i++) {
            float err = Math.abs(MXFP4_VALUES[i] * d - x);
            if (err < bestErr) {
                best = i;
                bestErr = err;
            }
        }
        return best;
    }

    /** The E2M1 code nearest y (ties to the even code), saturating at ±6. */
    static int nearestE2m1(float y) {
        float a = Math.abs(y);
        int code;
        if (!(a < 6f)) {
            code = 7; // also NaN: the largest magnitude, as saturating hardware converts
        } else {
            code = 0;
            for (int i = 1; i < 8; i++) {
                float mid = (E2M1[i - 1] + E2M1[i]) / 2;
                if (a > mid || (a == mid && (i & 1) == 0)) code = i;
                else break;
            }
        }
        return (y < 0 || (y == 0 && Float.floatToRawIntBits(y) < 0)) && code != 0 ? code | 8 : code;
    }

    /** Little-endian views of a byte array: one 16- or 32-bit load where C2 compiles them (byte by byte, each block's scale took ~8 instructions of decode's Q8_0 dot). */
    private static final java.lang.invoke.VarHandle SHORT_LE = java.lang.invoke.MethodHandles.byteArrayViewVarHandle(short[].class, java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.invoke.VarHandle INT_LE = java.lang.invoke.MethodHandles.byteArrayViewVarHandle(int[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    static short getShort(byte[] b, int o) {
        return (short) SHORT_LE.get(b, o);
    }

    static int getInt(byte[] b, int o) {
        return (int) INT_LE.get(b, o);
    }

    private static void putShort(byte[] b, int o, short v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >> 8);
    }

    static void putInt(byte[] b, int o, int v) {
        INT_LE.set(b, o, v);
    }
}
