package dev.puzzle.core.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The quantized formats element by element against the error each format's definition allows (derived
 * in {@link Quant}'s javadoc from the scale rule and the code grid, not from this code's output), their
 * fixed points, the kernels against the scalar decode, and a quantized linear layer against the same
 * layer over the decoded FP32 weights. ggml's own quantizers are the bit-exact reference in the examples
 * module (GgmlQuantTest), where llama.cpp's library is installed.
 */
class QuantTest {
    static final DType[] QUANTIZED = {DType.Q8_0, DType.Q4_0, DType.MXFP4, DType.NVFP4, DType.FP8};
    final Random rnd = new Random(42);

    /** Rows of Gaussians with an outlier row, a zero block, a tiny block and a huge one. */
    float[] data(int rows, int cols) {
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int j = 0; j < cols; j++) x[cols + j] *= 30f;           // row 1: large
        for (int j = 0; j < Math.min(32, cols); j++) x[2 * cols + j] = 0f; // row 2 starts with a zero block
        for (int j = 0; j < cols; j++) x[3 * cols + j] *= 1e-6f;     // row 3: tiny
        x[4 * cols + 5] = 500f;                                      // an outlier
        return x;
    }

    static float amax(float[] x, int off, int n) {
        float a = 0;
        for (int i = off; i < off + n; i++) a = Math.max(a, Math.abs(x[i]));
        return a;
    }

    /** Half the distance to the neighbouring E2M1 grid values around magnitude y (in units of the scale). */
    static float halfStepE2m1(float y) {
        float a = Math.abs(y);
        return a <= 2f ? 0.25f : a <= 4f ? 0.5f : 1f;
    }

    @Test
    void everyElementIsWithinItsFormatsBound() {
        int rows = 6, cols = 128;
        float[] x = data(rows, cols);
        for (DType t : QUANTIZED) {
            float[] y = Quant.roundTrip(t, x, rows, cols);
            float tensorAmax = amax(x, 0, x.length);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < cols; j++) {
                    int i = r * cols + j;
                    float err = Math.abs(x[i] - y[i]), bound;
                    switch (t) {
                        case Q8_0 -> {
                            // the scale is stored in FP16: its rounding (relative 2^-11, or flushed to 0 below FP16's range) times |q| <= 127
                            float a = amax(x, r * cols + j / 32 * 32, 32), d = a / 127f;
                            bound = d / 2 + 127 * Math.abs(Float.float16ToFloat(Float.floatToFloat16(d)) - d) * 1.0001f + 1e-12f;
                        }
                        case Q4_0 -> {
                            float a = amax(x, r * cols + j / 32 * 32, 32), d = a / 8f;
                            // the element at −max would need code 16: 15 is the top, one step short
                            boolean clipped = false;
                            for (int k = r * cols + j / 32 * 32; k < r * cols + j / 32 * 32 + 32; k++) {
                                if (Math.abs(x[k]) == a) clipped = Math.signum(x[k]) == -Math.signum(x[i]) && Math.abs(x[i]) > 7.5f * d;
                            }
                            bound = (clipped ? d : d / 2) + 8 * Math.abs(Float.float16ToFloat(Float.floatToFloat16(d)) - d) * 1.0001f + 1e-12f;
                        }
                        case MXFP4 -> {
                            float a = amax(x, r * cols + j / 32 * 32, 32);
                            float s = a == 0 ? 0 : Math.scalb(1f, Math.getExponent(a) - 2);
                            float v = s == 0 ? 0 : Math.abs(x[i]) / s;
                            bound = s == 0 ? 0 : v > 6f ? (v - 6f) * s + 1e-6f * a : halfStepE2m1(v) * s * 1.0001f;
                        }
                        case NVFP4 -> {
                            float g = tensorAmax / (6f * 448f);
                            float a = amax(x, r * cols + j / 16 * 16, 16);
                            float s = Fp8E4M3.round(a / 6f / g) * g;
                            float v = s == 0 ? 0 : Math.abs(x[i]) / s;
                            // blocks whose scale falls below E4M3's range round to 0: everything is lost (≤ the block max)
                            bound = s == 0 ? a : v > 6f ? (v - 6f) * s * 1.0001f + 1e-7f * a : halfStepE2m1(v) * s * 1.0001f;
                        }
                        case FP8 -> {
                            float a = amax(x, r * cols, cols), c = a / 448f, v = Math.abs(x[i]) / c;
                            bound = (v >= 0x1p-6f ? 0x1p-4f * Math.abs(x[i]) : 0x1p-10f * c) * 1.0001f;
                        }
                        default -> throw new AssertionError(t);
                    }
                    assertTrue(err <= bound, t + " row " + r + " col " + j + ": x " + x[i] + " -> " + y[i] + ", error " + err + " > bound " + bound);
                }
            }
            // A zero block stays zero; the format is a fixed point of itself (decoded values quantize to the same bytes)
            // except in the tiny row, whose FP16 scales lie below FP16's normal range.
            for (int j = 0; j < 32; j++) assertEquals(0f, Math.abs(y[2 * cols + j]), t + " zero block");
            byte[] q = Quant.quantize(t, x, rows, cols), again = Quant.quantize(t, y, rows, cols);
            int rb = (int) t.rowBytes(cols);
            for (int r = 0; r < rows; r++) {
                if (r == 3 && (t == DType.Q8_0 || t == DType.Q4_0)) continue;
                for (int b = r * rb; b < (r + 1) * rb; b++) assertEquals(q[b], again[b], t + ": row " + r + " re-quantizes to the same bytes, byte " + b);
            }
        }
    }

    @Test
    void gridValuesAreExact() {
        // Values on each format's grid come back exactly: k·d for Q8_0 with d a power of two, E2M1 points for MXFP4 and NVFP4.
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) x[j] = (j - 16) * 0.25f;
        x[0] = -127 * 0.25f;
        assertArrayEquals(x, Quant.roundTrip(DType.Q8_0, x, 1, 32));
        float[] e2m1 = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.5f, -1, -1.5f, -2, -3, -4, -6, 6};
        float[] m = new float[32];
        for (int j = 0; j < 32; j++) m[j] = e2m1[j % 16] * 0.125f;
        assertArrayEquals(m, Quant.roundTrip(DType.MXFP4, m, 1, 32));
        assertArrayEquals(m, Quant.roundTrip(DType.NVFP4, m, 1, 32));
        // Q4_0: the block maximum −8·d with d = 0.5: codes 0..15 are −4 … 3.5
        float[] q4 = new float[32];
        for (int j = 0; j < 32; j++) q4[j] = ((j % 16) - 8) * 0.5f;
        assertArrayEquals(q4, Quant.roundTrip(DType.Q4_0, q4, 1, 32));
    }

    @Test
    void fp8BitPatternsRoundTrip() {
        for (int b = 0; b < 256; b++) {
            float v = Fp8E4M3.decode((byte) b);
            if (Float.isNaN(v)) continue;
            byte back = Fp8E4M3.encode(v);
            assertEquals(v, Fp8E4M3.decode(back), "0x" + Integer.toHexString(b));
            if (v != 0) assertEquals((byte) b, back, "0x" + Integer.toHexString(b));
        }
        assertEquals(448f, Fp8E4M3.decode((byte) 0x7e));
        assertEquals(0x1p-9f, Fp8E4M3.decode((byte) 0x01));
        assertEquals(-1.375f, Fp8E4M3.decode((byte) 0xbb)); // sign, exponent 7 (2^0), mantissa 3/8
    }

    @Test
    void vectorDotsEqualTheScalarDecode() {
        Kernels vec = new VectorKernels(new Parallel(1)), sca = new ScalarKernels(new Parallel(1));
        for (DType t : QUANTIZED) {
            for (int n : new int[]{32, 64, 96, 768}) {
                float[] w = data(5, n), x = new float[n + 3];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                byte[] q = Quant.quantize(t, w, 5, n);
                float[] dec = Quant.roundTrip(t, w, 5, n);
                int rb = (int) t.rowBytes(n);
                for (int r = 0; r < 5; r++) {
                    double want = 0;
                    for (int i = 0; i < n; i++) want += (double) x[3 + i] * dec[r * n + i];
                    double tol = 1e-5 * (1 + amax(dec, r * n, n) * Math.sqrt(n) * 4);
                    assertEquals(want, vec.dotQuant(t, x, 3, q, r * rb, n), tol, t + " vector n=" + n + " row " + r);
                    assertEquals(want, sca.dotQuant(t, x, 3, q, r * rb, n), tol, t + " scalar n=" + n + " row " + r);
                    float[] a = new float[n], b = new float[n];
                    vec.widenQuant(t, q, r * rb, a, 0, n);
                    sca.widenQuant(t, q, r * rb, b, 0, n);
                    assertArrayEquals(b, a, t + " widen");
                }
            }
        }
    }

    /** One-hot inputs pick single weights out of the vector dots: each must be the scalar decode's, to the last bit. */
    @Test
    void everyWeightOfEveryFormatDecodesInTheVectorDotAsInTheScalarOne() {
        Kernels vec = new VectorKernels(new Parallel(1));
        for (DType t : QUANTIZED) {
            int n = 128, rb = (int) t.rowBytes(n);
            byte[] q = Quant.quantize(t, data(5, n), 5, n);
            float[] dec = new float[n];
            for (int r = 0; r < 5; r++) {
                Quant.dequantizeRow(t, q, r * rb, n, dec, 0);
                for (int i = 0; i < n; i++) {
                    float[] x = new float[n];
                    x[i] = 1f;
                    assertEquals(dec[i], vec.dotQuant(t, x, 0, q, r * rb, n), Math.ulp(dec[i]), t + " row " + r + " weight " + i);
                }
            }
        }
    }

    @Test
    void everyFp8CodeDecodesInTheVectorKernelAsInTheTable() {
        byte[] row = new byte[4 + 256];
        java.nio.ByteBuffer.wrap(row).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(0, 1f);
        for (int b = 0; b < 256; b++) row[4 + b] = (byte) ((b & 0x7f) == 0x7f ? 0 : b);
        Kernels vec = new VectorKernels(new Parallel(1));
        for (int b = 0; b < 256; b++) {
            float[] x = new float[256];
            x[b] = 1f;
            assertEquals(Fp8E4M3.decode(row[4 + b]), vec.dotQuant(DType.FP8, x, 0, row, 0, 256), 0f, "code 0x" + Integer.toHexString(b));
        }
    }

    @Test
    void aQuantizedLinearLayerEqualsTheLayerOverItsDecodedWeights() {
        Kernels vec = new VectorKernels(new Parallel(2));
        int n = 300, k = 256;
        for (DType t : QUANTIZED) {
            float[] w = data(n, k);
            Tensor q = new Tensor(w, n, k).quantized(t);
            assertEquals(t, q.dtype());
            assertEquals(t.byteSize(n, k), q.storedBytes());
            Tensor dec = new Tensor(q.data(), n, k);
            for (int m : new int[]{1, 3, 9}) {
                float[] x = new float[m * k];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                float[] want = new float[m * n], got = new float[m * n], xr = x.clone();
                // llama.cpp's formats: the input rounded to Q8_0 blocks first, as llama.cpp computes
                if (Quant.roundsInputs(t)) for (int i = 0; i < m; i++) Quant.roundToQ8_0(xr, i * k, k);
                vec.linear(xr, 0, m, k, dec, want, 0, false);
                vec.linear(x, 0, m, k, q, got, 0, false);
                for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 2e-4 * (1 + Math.abs(want[i])), t + " m=" + m + " at " + i);
            }
        }
    }

    @Test
    void inputsRoundToQ8_0WithinHalfAStep() {
        float[] x = data(6, 64), r = x.clone();
        Quant.roundToQ8_0(r, 0, r.length);
        for (int b = 0; b < 12; b++) {
            float a = amax(x, 32 * b, 32), d = Float.float16ToFloat(Float.floatToFloat16(a / 127f));
            for (int j = 32 * b; j < 32 * b + 32; j++) {
                if (d == 0) {
                    assertEquals(0f, Math.abs(r[j]), "a block below FP16's range rounds to zero");
                    continue;
                }
                assertEquals(0f, Math.abs(r[j] / d - Math.rint(r[j] / d)), 1e-3f, "a multiple of the FP16 scale");
                assertTrue(Math.abs(x[j] - r[j]) <= d / 2 + 127 * Math.abs(d - a / 127f) + 1e-6f * a, "within half a step at " + j);
            }
        }
    }

    @Test
    void rowsOfWholeBlocksOnly() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Tensor(new float[2 * 40], 2, 40).quantized(DType.Q8_0));
        assertTrue(e.getMessage().contains("32"), e.getMessage());
        assertTrue(DType.FP8.fits(7));
        assertEquals(4 + 7, DType.FP8.rowBytes(7));
        assertEquals(4 + 2 * 9, DType.NVFP4.rowBytes(32));
        assertEquals(DType.Q4_0, DType.fromName("Q4_0"));
        assertNull(DType.fromName("q5_k"));
    }

    @Test
    void permutedQuantizedRowsMoveAsBytes() {
        float[] w = data(6, 64);
        Tensor q = new Tensor(w, 6, 64).quantized(DType.Q4_0);
        Tensor p = q.permuteRows(new int[]{5, 4, 3, 2, 1, 0});
        float[] a = q.data(), b = p.data();
        for (int r = 0; r < 6; r++) for (int j = 0; j < 64; j++) assertEquals(a[(5 - r) * 64 + j], b[r * 64 + j]);
        assertEquals(DType.Q4_0, p.dtype());
    }

    /**
     * A stored tensor's scales are checked where they lie (a heap tensor's bytes and a file mapping alike, as the
     * readers call it): every FP16 scale with all exponent bits set (NaN either sign, ±infinity) and MXFP4's E8M0 0xff
     * is found in the row and block it is in, with the message the row check gives; the largest finite FP16 scale
     * (65504) and E8M0 0xfe pass.
     */
    @Test
    void badScalesAreFoundInPlaceInTheirRowAndBlock(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws java.io.IOException {
        int rows = 70, k = 96;
        float[] w = new float[rows * k];
        Random rnd = new Random(5);
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        for (DType t : new DType[]{DType.Q4_0, DType.Q8_0, DType.MXFP4}) {
            byte[] good = Quant.quantize(t, w, rows, k);
            int rb = (int) t.rowBytes(k);
            assertNull(Quant.badScale(Tensor.packed(t, good, rows, k)), t + ": a quantized tensor's scales are finite");
            short[] bad = t == DType.MXFP4 ? new short[]{0xff} : new short[]{0x7e00, (short) 0xfe00, 0x7c00, (short) 0xfc00, 0x7c01};
            short ok = t == DType.MXFP4 ? (short) 0xfe : 0x7bff;
            for (short v : bad) {
                for (int[] at : new int[][]{{0, 0}, {37, 2}, {69, 1}}) {
                    byte[] b = good.clone();
                    int o = at[0] * rb + t.blockBytes * at[1];
                    b[o] = (byte) v;
                    if (t != DType.MXFP4) b[o + 1] = (byte) (v >> 8);
                    String want = "row " + at[0] + ": " + Quant.badScale(t, b, at[0] * rb, k);
                    assertTrue(want.contains("block " + at[1]), want);
                    assertEquals(want, Quant.badScale(Tensor.packed(t, b, rows, k)), t + " on the heap");
                    java.nio.file.Path f = tmp.resolve("w.bin");
                    java.nio.file.Files.write(f, b);
                    try (var ch = java.nio.channels.FileChannel.open(f)) {
                        assertEquals(want, Quant.badScale(Tensor.mapped(ch, 0, t, rows, k)), t + " mapped");
                    }
                }
            }
            byte[] b = good.clone();
            b[5 * rb + t.blockBytes] = (byte) ok;
            if (t != DType.MXFP4) b[5 * rb + t.blockBytes + 1] = (byte) (ok >> 8);
            assertNull(Quant.badScale(Tensor.packed(t, b, rows, k)), t + ": the largest finite scale passes");
        }
    }
}
