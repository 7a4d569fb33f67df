package dev.puzzle.core.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Decode's integer Q4_0, MXFP4 and Q8_0 products ({@link Kernels#dotQ4Rows32}, {@link Kernels#dotMxfp4Rows32},
 * {@link Kernels#dotQ8Rows32} over a {@link Rows32} layout): the vector form against the scalar one bit for bit, both
 * against sums taken here in exact integers and doubles from the stored bytes (the llama.cpp arithmetic: per block
 * Σ (q − 8)·code, Σ v(q)·code with llama.cpp's doubled E2M1 values and the halved E8M0 scale, or Σ q·code, times the
 * input's scale), the 16-bit lanes and Q8_0's float lanes at the extremes of their range, and {@link Kernels#linear}
 * with rows past the last group of 32.
 */
class Rows32Test {
    private final Kernels vec = new VectorKernels(new Parallel(2)), sca = new ScalarKernels(new Parallel(1));

    /** Σ_b dw·dx·Σ_e (q − 8)·code for row r, in doubles from the stored Q4_0 bytes and the input's codes. */
    /** llama.cpp's kvalues_mxfp4: E2M1 values doubled. */
    private static final int[] MXFP4 = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    private static double reference(DType t, byte[] w, int r, int k, Rows32.Codes c, int i) {
        boolean q4 = t == DType.Q4_0, q8 = t == DType.Q8_0;
        int nb = k / 32, sb = t.blockBytes, rb = sb * nb;
        double s = 0;
        for (int b = 0; b < nb; b++) {
            int o = r * rb + sb * b;
            double dw = q4 || q8 ? Float.float16ToFloat((short) ((w[o] & 0xff) | (w[o + 1] << 8))) : Math.scalb(1.0, (w[o] & 0xff) - 128);
            long sum = 0;
            if (q8) {
                for (int e = 0; e < 32; e++) sum += (long) w[o + 2 + e] * c.codes()[i * k + 32 * b + e];
            }
            for (int e = 0; e < 16 && !q8; e++) {
                int v = w[o + sb - 16 + e] & 0xff;
                long lo = q4 ? (v & 15) - 8 : MXFP4[v & 15], hi = q4 ? (v >>> 4) - 8 : MXFP4[v >>> 4];
                sum += lo * c.codes()[i * k + 32 * b + e] + hi * c.codes()[i * k + 32 * b + e + 16];
            }
            s += dw * c.scales()[i * nb + b] * sum;
        }
        return s;
    }

    private static void product(Kernels kern, DType t, Rows32.Codes c, int i, int k, Rows32 rep, int g, float[] out, boolean acc) {
        int nb = k / 32;
        if (t == DType.Q4_0) kern.dotQ4Rows32(c.codes(), i * k, c.scales(), c.offsets(), i * nb, rep.data(), rep.offset(g), nb, out, 0, acc);
        else if (t == DType.Q8_0) kern.dotQ8Rows32(c.values(), i * k, c.scales(), i * nb, rep.data(), rep.offset(g), nb, out, 0, acc);
        else kern.dotMxfp4Rows32(c.codes(), i * k, c.scales(), i * nb, rep.data(), rep.offset(g), nb, out, 0, acc);
    }

    @Test
    void vectorAndScalarAgreeBitForBitAndMatchExactBlockSums() {
        // 24 blocks a row (two streams of 12), 25 (12 and 13) and 1 (the second stream alone)
        for (int k : new int[]{768, 800, 32})
        for (DType t : new DType[]{DType.Q4_0, DType.MXFP4, DType.Q8_0}) {
            Random rnd = new Random(11);
            int rows = 96, m = 3;
            float[] wf = new float[rows * k], x = new float[m * k];
            for (int i = 0; i < wf.length; i++) wf[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (i % 97 == 0 ? 40 : 1)); // some large entries: small codes elsewhere
            byte[] w = Quant.quantize(t, wf, rows, k);
            Tensor tensor = Tensor.packed(t, w, rows, k);
            Rows32 rep = Rows32.of(tensor);
            assertSame(rep, Rows32.of(tensor), "made once per tensor");
            assertEquals(3, rep.groups());
            Rows32.Codes c = Rows32.Codes.of(x, 0, m, k);
            for (int i = 0; i < m; i++) {
                for (int g = 0; g < rep.groups(); g++) {
                    float[] a = new float[32], b = new float[32];
                    product(sca, t, c, i, k, rep, g, a, false);
                    product(vec, t, c, i, k, rep, g, b, false);
                    assertArrayEquals(a, b, t + " group " + g + " input " + i);
                    for (int r = 0; r < 32; r++) {
                        double want = reference(t, w, 32 * g + r, k, c, i);
                        assertEquals(want, a[r], 1e-5 * (1 + Math.abs(want)), t + " row " + (32 * g + r) + " input " + i);
                    }
                    float[] acc = new float[32];
                    java.util.Arrays.fill(acc, 0.25f);
                    product(vec, t, c, i, k, rep, g, acc, true);
                    for (int r = 0; r < 32; r++) assertEquals(0.25f + a[r], acc[r], "accumulates onto out");
                }
            }
        }
    }

    @Test
    void mxfp4BlockSumsAtTheirLargestAreExact() {
        // E8M0 127 (a scale of 1: the layout's halved scale 1/2 undoes the table's doubling), input scale 1: out = Σ v·code / 2
        // exactly, v the doubled value. Codes 7 (E2M1 6, doubled 12) and 15 (−12) against ±127: each half of a block sums to
        // 16 · 12 · 127 = 24384 in its 16-bit lanes.
        int k = 64, rows = 32, rb = 34;
        byte[] w = new byte[rows * rb];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < 2; b++) {
                int o = r * rb + 17 * b;
                w[o] = (byte) 127;
                byte v = (byte) (r % 3 == 0 ? 0x77 : r % 3 == 1 ? 0xff : (r * 37 + b * 11) & 0xff);
                for (int e = 0; e < 16; e++) w[o + 1 + e] = v;
            }
        }
        Rows32 rep = Rows32.of(Tensor.packed(DType.MXFP4, w, rows, k));
        for (int sign : new int[]{-1, 1}) {
            short[] codes = new short[k];
            java.util.Arrays.fill(codes, (short) (127 * sign));
            float[] a = new float[32], b = new float[32];
            sca.dotMxfp4Rows32(codes, 0, new float[]{1f, 1f}, 0, rep.data(), 0, 2, a, 0, false);
            vec.dotMxfp4Rows32(codes, 0, new float[]{1f, 1f}, 0, rep.data(), 0, 2, b, 0, false);
            for (int r = 0; r < rows; r++) {
                long want = 0;
                for (int blk = 0; blk < 2; blk++) {
                    int byt = w[r * rb + 17 * blk + 1] & 0xff;
                    want += 16L * (MXFP4[byt & 15] + MXFP4[byt >>> 4]) * 127 * sign;
                }
                assertEquals(want / 2f, a[r], "scalar, row " + r + " sign " + sign);
                assertEquals(want / 2f, b[r], "vector, row " + r + " sign " + sign);
            }
            assertEquals(2 * 2 * 24384 / 2f * sign, a[0], "row 0: every value 12 (doubled) times 127");
        }
    }

    @Test
    void sixteenBitLanesHoldEveryBlockSumAtTheEndsOfTheRange() {
        // Scales of 1: the output is the exact integer sum. Nibble 0 (q − 8 = −8) times code −127 is the largest block sum
        // (32512); nibble 15 (7) times 127 needs the wrap-around (15·127·32 = 60960 overflows 16 bits before the offset).
        int k = 64, rows = 32, rb = 36;
        byte[] w = new byte[rows * rb];
        short one = Float.floatToFloat16(1f);
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < 2; b++) {
                int o = r * rb + 18 * b;
                w[o] = (byte) one;
                w[o + 1] = (byte) (one >> 8);
                byte v = (byte) (r % 3 == 0 ? 0x00 : r % 3 == 1 ? 0xff : (r * 37 + b * 11) & 0xff);
                for (int e = 0; e < 16; e++) w[o + 2 + e] = v;
            }
        }
        Rows32 rep = Rows32.of(Tensor.packed(DType.Q4_0, w, rows, k));
        for (int sign : new int[]{-1, 1}) {
            short[] codes = new short[k];
            java.util.Arrays.fill(codes, (short) (127 * sign));
            float[] dx = {1f, 1f};
            short[] x8 = {(short) (8 * 32 * 127 * sign), (short) (8 * 32 * 127 * sign)};
            float[] a = new float[32], b = new float[32];
            sca.dotQ4Rows32(codes, 0, dx, x8, 0, rep.data(), 0, 2, a, 0, false);
            vec.dotQ4Rows32(codes, 0, dx, x8, 0, rep.data(), 0, 2, b, 0, false);
            for (int r = 0; r < rows; r++) {
                int v = r % 3 == 0 ? 0x00 : r % 3 == 1 ? 0xff : -1;
                long want = 0;
                for (int blk = 0; blk < 2; blk++) {
                    int byt = v >= 0 ? v : (r * 37 + blk * 11) & 0xff;
                    want += 16L * (((byt & 15) - 8) + ((byt >>> 4) - 8)) * 127 * sign;
                }
                assertEquals((float) want, a[r], "scalar, row " + r + " sign " + sign);
                assertEquals((float) want, b[r], "vector, row " + r + " sign " + sign);
            }
        }
        assertEquals(65024f, 2 * 32 * 8 * 127f, "the largest case above: two blocks of 32512");
    }

    @Test
    void q8BlockSumsAtTheirLargestAreExactInFloatLanes() {
        // Scales of 1: the output is the exact integer sum. Codes ±127 (and −128, which llama.cpp's quantizer never writes
        // but a file may hold) against input codes ±127: a block sums to 32 · 128 · 127 = 520192, past 16 bits and below
        // 2^24, where every partial sum of a float lane is still exact.
        int k = 96, rows = 64, nb = 3, rb = 34 * nb;
        byte[] w = new byte[rows * rb];
        short one = Float.floatToFloat16(1f);
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < nb; b++) {
                int o = r * rb + 34 * b;
                w[o] = (byte) one;
                w[o + 1] = (byte) (one >> 8);
                for (int e = 0; e < 32; e++) w[o + 2 + e] = (byte) (r % 4 == 0 ? -128 : r % 4 == 1 ? 127 : r % 4 == 2 ? -127 : (r * 31 + b * 7 + e * 13) & 0xff);
            }
        }
        Rows32 rep = Rows32.of(Tensor.packed(DType.Q8_0, w, rows, k));
        for (int sign : new int[]{-1, 1}) {
            float[] codes = new float[k];
            java.util.Arrays.fill(codes, 127 * sign);
            float[] dx = {1f, 1f, 1f};
            for (int g = 0; g < 2; g++) {
                float[] a = new float[32], b = new float[32];
                sca.dotQ8Rows32(codes, 0, dx, 0, rep.data(), rep.offset(g), nb, a, 0, false);
                vec.dotQ8Rows32(codes, 0, dx, 0, rep.data(), rep.offset(g), nb, b, 0, false);
                for (int r = 0; r < 32; r++) {
                    long want = 0;
                    for (int e = 0; e < nb * 32; e++) want += (long) w[(32 * g + r) * rb + 34 * (e / 32) + 2 + e % 32] * 127 * sign;
                    assertEquals((float) want, a[r], "scalar, row " + (32 * g + r) + " sign " + sign);
                    assertEquals((float) want, b[r], "vector, row " + (32 * g + r) + " sign " + sign);
                }
            }
            float[] a = new float[32];
            vec.dotQ8Rows32(codes, 0, dx, 0, rep.data(), 0, nb, a, 0, false);
            assertEquals(-3 * 520192f * sign, a[0], "row 0: every code −128 times 127");
        }
    }

    @Test
    void codesAreWhatRoundToQ8_0RoundsWith() {
        Random rnd = new Random(3);
        float[] x = new float[256];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i < 32 ? 0 : 1); // a block of zeros too
        float[] r = x.clone();
        Quant.roundToQ8_0(r, 0, 256);
        short[] c = new short[256];
        float[] d = new float[8];
        Quant.q8_0Codes(x, 0, 256, c, 0, d, 0);
        for (int i = 0; i < 256; i++) {
            assertEquals(r[i], c[i] * d[i / 32], "element " + i);
            assertTrue(Math.abs(c[i]) <= 127);
        }
    }

    @Test
    void linearTakesTheGroupsAndTheRowsPastThem() {
        for (DType t : new DType[]{DType.Q4_0, DType.MXFP4, DType.Q8_0}) {
            Random rnd = new Random(5);
            int rows = 75, k = 96, m = 2; // two groups of 32 and 11 rows in the stored layout
            float[] wf = new float[rows * k], x = new float[1 + m * k];
            for (int i = 0; i < wf.length; i++) wf[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            byte[] w = Quant.quantize(t, wf, rows, k);
            Tensor tensor = Tensor.packed(t, w, rows, k);
            Rows32.Codes c = Rows32.Codes.of(x, 1, m, k);
            float[] xr = java.util.Arrays.copyOfRange(x, 1, 1 + m * k);
            for (int i = 0; i < m; i++) Quant.roundToQ8_0(xr, i * k, k);
            int rb = (int) t.rowBytes(k);
            for (Kernels kern : new Kernels[]{vec, sca}) {
                float[] out = new float[3 + m * rows];
                out[0] = 9f;
                kern.linear(x, 1, m, k, tensor, out, 3, false);
                assertEquals(9f, out[0], "nothing written before outOff");
                for (int i = 0; i < m; i++) {
                    for (int r = 0; r < rows; r++) {
                        double want = r < 64 ? reference(t, w, r, k, c, i) : kern.dotQuant(t, xr, i * k, w, r * rb, k);
                        assertEquals(want, out[3 + i * rows + r], 1e-5 * (1 + Math.abs(want)), t + " " + kern.getClass().getSimpleName() + " input " + i + " row " + r);
                    }
                }
            }
        }
    }

    @Test
    void withTheLayoutOffDecodeReadsTheStoredBlocksInPlace() throws Exception {
        java.nio.file.Path bin = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(bin.toString(), "--add-modules", "jdk.incubator.vector", "-Dpuzzle.decode_layout=false",
                "-cp", System.getProperty("java.class.path"), Rows32Test.class.getName()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("in place: 192 rows as the float dot computes them"), out);
    }

    /** Run with -Dpuzzle.decode_layout=false: linear's decode of Q4_0, MXFP4 and Q8_0 rows equals dotQuant's, bit for bit. */
    public static void main(String[] args) {
        Kernels vec = new VectorKernels(new Parallel(2));
        Random rnd = new Random(9);
        int rows = 64, k = 128, same = 0;
        for (DType t : new DType[]{DType.Q4_0, DType.MXFP4, DType.Q8_0}) {
            float[] wf = new float[rows * k], x = new float[k];
            for (int i = 0; i < wf.length; i++) wf[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < k; i++) x[i] = (float) rnd.nextGaussian();
            byte[] w = Quant.quantize(t, wf, rows, k);
            float[] out = new float[rows], xr = x.clone();
            vec.linear(x, 0, 1, k, Tensor.packed(t, w, rows, k), out, 0, false);
            Quant.roundToQ8_0(xr, 0, k);
            for (int r = 0; r < rows; r++) if (out[r] == vec.dotQuant(t, xr, 0, w, r * (int) t.rowBytes(k), k)) same++;
        }
        System.out.println("in place: " + same + " rows as the float dot computes them");
        System.exit(same == 3 * rows ? 0 : 1);
    }
}
