package dev.puzzle.core.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** E4M3 rounding against a brute-force search over the format's 127 non-negative finite codes, decoded from their bits. */
class Fp8E4M3Test {
    /** The value of an E4M3 code 0..0x7E (0x7F is NaN), decoded bit by bit. */
    static double decode(int code) {
        int e = (code >> 3) & 0xF, m = code & 7;
        return e == 0 ? m * Math.pow(2, -9) : (1 + m / 8.0) * Math.pow(2, e - 7);
    }

    static float nearest(float x) {
        double a = Math.abs(x), best = 0;
        int bestCode = 0;
        for (int c = 0; c <= 0x7E; c++) {
            double v = decode(c), d = Math.abs(v - a), bd = Math.abs(best - a);
            if (d < bd || (d == bd && (c & 1) == 0 && (bestCode & 1) == 1)) {
                best = v;
                bestCode = c;
            }
        }
        return (float) Math.copySign(best, x);
    }

    @Test
    void roundsToTheNearestCodeTiesToEvenAndSaturates() {
        assertEquals(448.0, decode(0x7E), "the largest finite code");
        Random r = new Random(1);
        for (int i = 0; i < 20000; i++) {
            float x = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(24) - 14));
            float want = Math.abs(x) >= 448 ? Math.copySign(448f, x) : nearest(x);
            assertEquals(want, Fp8E4M3.round(x), 0f, "x = " + x);
        }
        for (int c = 0; c <= 0x7E; c++) assertEquals((float) decode(c), Fp8E4M3.round((float) decode(c)), 0f, "code " + c + " is exact");
        assertEquals(1.0f, Fp8E4M3.round(1.0625f), "a tie goes to the even mantissa (1.000)");
        assertEquals(1.25f, Fp8E4M3.round(1.1875f), "a tie goes to the even mantissa (1.010)");
        assertEquals(-448f, Fp8E4M3.round(-1e6f));
        assertTrue(Float.isNaN(Fp8E4M3.round(Float.NaN)));
    }

    @Test
    void quantizationErrorIsWithinHalfAnUlpGivenTheScale() {
        Random r = new Random(2);
        float[] x = new float[4096];
        float amax = 0;
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * 3);
            amax = Math.max(amax, Math.abs(x[i]));
        }
        float scale = amax / Fp8E4M3.MAX;
        float[] q = x.clone();
        Fp8E4M3.quantizeDequantize(q, 0, q.length, scale);
        for (int i = 0; i < x.length; i++) {
            double y = Math.abs(x[i] / scale);
            double bound = (y >= 0x1p-6 ? 0x1p-4 * y : 0x1p-10) * scale;
            assertTrue(Math.abs(q[i] - x[i]) <= bound * (1 + 1e-6) + 1e-12, i + ": " + x[i] + " -> " + q[i] + " bound " + bound);
        }
    }
}
