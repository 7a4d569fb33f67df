package dev.puzzle.core.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Decode's integer Q4_0 product ({@link Kernels#dotQ4Rows32} over a {@link Q4Rows32} layout): the vector form against
 * the scalar one bit for bit, both against sums taken here in exact integers and doubles from the stored bytes (the
 * llama.cpp arithmetic: per block Σ (q − 8)·code, times the weight and input scales), the 16-bit lanes at the extremes
 * of their range, and {@link Kernels#linear} with rows past the last group of 32.
 */
class Q4Rows32Test {
    private final Kernels vec = new VectorKernels(new Parallel(2)), sca = new ScalarKernels(new Parallel(1));

    /** Σ_b dw·dx·Σ_e (q − 8)·code for row r, in doubles from the stored Q4_0 bytes and the input's codes. */
    private static double reference(byte[] w, int r, int k, Q4Rows32.Codes c, int i) {
        int nb = k / 32, rb = 18 * nb;
        double s = 0;
        for (int b = 0; b < nb; b++) {
            int o = r * rb + 18 * b;
            double dw = Float.float16ToFloat((short) ((w[o] & 0xff) | (w[o + 1] << 8)));
            long sum = 0;
            for (int e = 0; e < 16; e++) {
                int v = w[o + 2 + e] & 0xff;
                sum += (long) ((v & 15) - 8) * c.codes()[i * k + 32 * b + e] + (long) ((v >>> 4) - 8) * c.codes()[i * k + 32 * b + e + 16];
            }
            s += dw * c.scales()[i * nb + b] * sum;
        }
        return s;
    }

    @Test
    void vectorAndScalarAgreeBitForBitAndMatchExactBlockSums() {
        Random rnd = new Random(11);
        int rows = 96, k = 768, m = 3;
        float[] wf = new float[rows * k], x = new float[m * k];
        for (int i = 0; i < wf.length; i++) wf[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (i % 97 == 0 ? 40 : 1)); // some large entries: small codes elsewhere
        byte[] w = Quant.quantize(DType.Q4_0, wf, rows, k);
        Tensor t = Tensor.packed(DType.Q4_0, w, rows, k);
        Q4Rows32 rep = Q4Rows32.of(t);
        assertSame(rep, Q4Rows32.of(t), "made once per tensor");
        assertEquals(3, rep.groups());
        Q4Rows32.Codes c = Q4Rows32.Codes.of(x, 0, m, k);
        for (int i = 0; i < m; i++) {
            for (int g = 0; g < rep.groups(); g++) {
                float[] a = new float[32], b = new float[32];
                sca.dotQ4Rows32(c.codes(), i * k, c.scales(), c.offsets(), i * 24, rep.data(), rep.offset(g), 24, a, 0, false);
                vec.dotQ4Rows32(c.codes(), i * k, c.scales(), c.offsets(), i * 24, rep.data(), rep.offset(g), 24, b, 0, false);
                assertArrayEquals(a, b, "group " + g + " input " + i);
                for (int r = 0; r < 32; r++) {
                    double want = reference(w, 32 * g + r, k, c, i);
                    assertEquals(want, a[r], 1e-5 * (1 + Math.abs(want)), "row " + (32 * g + r) + " input " + i);
                }
                float[] acc = new float[32];
                java.util.Arrays.fill(acc, 0.25f);
                vec.dotQ4Rows32(c.codes(), i * k, c.scales(), c.offsets(), i * 24, rep.data(), rep.offset(g), 24, acc, 0, true);
                for (int r = 0; r < 32; r++) assertEquals(0.25f + a[r], acc[r], "accumulates onto out");
            }
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
        Q4Rows32 rep = Q4Rows32.of(Tensor.packed(DType.Q4_0, w, rows, k));
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
        Random rnd = new Random(5);
        int rows = 75, k = 96, m = 2; // two groups of 32 and 11 rows in the stored layout
        float[] wf = new float[rows * k], x = new float[1 + m * k];
        for (int i = 0; i < wf.length; i++) wf[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        byte[] w = Quant.quantize(DType.Q4_0, wf, rows, k);
        Tensor t = Tensor.packed(DType.Q4_0, w, rows, k);
        Q4Rows32.Codes c = Q4Rows32.Codes.of(x, 1, m, k);
        float[] xr = java.util.Arrays.copyOfRange(x, 1, 1 + m * k);
        for (int i = 0; i < m; i++) Quant.roundToQ8_0(xr, i * k, k);
        for (Kernels kern : new Kernels[]{vec, sca}) {
            float[] out = new float[3 + m * rows];
            out[0] = 9f;
            kern.linear(x, 1, m, k, t, out, 3, false);
            assertEquals(9f, out[0], "nothing written before outOff");
            for (int i = 0; i < m; i++) {
                for (int r = 0; r < rows; r++) {
                    double want = r < 64 ? reference(w, r, k, c, i) : kern.dotQuant(DType.Q4_0, xr, i * k, w, r * 54, k);
                    assertEquals(want, out[3 + i * rows + r], 1e-5 * (1 + Math.abs(want)), kern.getClass().getSimpleName() + " input " + i + " row " + r);
                }
            }
        }
    }
}
