package dev.puzzle.core.tensor;

/**
 * FP8 E4M3 (the OCP "FN" format vLLM and the Hopper tensor cores use for KV caches and weights): 1 sign,
 * 4 exponent bits (bias 7), 3 mantissa bits, no infinities; largest magnitude 448, smallest normal 2⁻⁶,
 * subnormals k·2⁻⁹. A KV row is stored as e4m3(x / scale) and read back times scale; this class rounds a
 * float to the nearest E4M3 value (ties to even), saturating at ±448, which is what the quantize-dequantize
 * pair computes. The error is at most half a unit in the last place: |x − q(x)| ≤ 2⁻⁴·|x| for |x| ≥ 2⁻⁶
 * (up to 448), ≤ 2⁻¹⁰ below. {@link #encode} and {@link #decode} give the bit patterns.
 */
public final class Fp8E4M3 {
    private Fp8E4M3() {}

    public static final float MAX = 448f;
    static final float MIN_NORMAL = 0x1p-6f, SUBNORMAL_STEP = 0x1p-9f;

    private static final float[] VALUES = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            int e = (b >>> 3) & 0xf, m = b & 7;
            float v = (b & 0x7f) == 0x7f ? Float.NaN : e == 0 ? m * SUBNORMAL_STEP : (1 + m / 8f) * Math.scalb(1f, e - 7);
            VALUES[b] = (b & 0x80) != 0 ? -v : v;
        }
    }

    /** The E4M3 value nearest to x (ties to the even mantissa), ±448 beyond the range; NaN stays NaN. */
    public static float round(float x) {
        if (Float.isNaN(x)) return x;
        float a = Math.abs(x);
        float q;
        if (a >= MAX) {
            q = MAX;
        } else if (a < MIN_NORMAL) {
            q = (float) Math.rint(a / SUBNORMAL_STEP) * SUBNORMAL_STEP;
        } else {
            float ulp = Math.scalb(1f, Math.getExponent(a) - 3);
            q = Math.min(MAX, (float) Math.rint(a / ulp) * ulp);
        }
        return Math.copySign(q, x);
    }

    /** The bit pattern of {@link #round}(x): sign, 4 exponent bits, 3 mantissa bits (NaN: 0x7f). */
    public static byte encode(float x) {
        if (Float.isNaN(x)) return 0x7f;
        float q = round(x), a = Math.abs(q);
        int sign = Float.floatToRawIntBits(q) < 0 ? 0x80 : 0, bits;
        if (a < MIN_NORMAL) {
            bits = (int) (a / SUBNORMAL_STEP);
        } else {
            int e = Math.getExponent(a);
            bits = (e + 7) << 3 | (int) ((a / Math.scalb(1f, e) - 1) * 8);
        }
        return (byte) (sign | bits);
    }

    /** The value of an E4M3 bit pattern. */
    public static float decode(byte b) {
        return VALUES[b & 0xff];
    }

    /** x[off..off+n) ← scale · e4m3(x / scale), in place: what a row reads back from an FP8 cache. */
    public static void quantizeDequantize(float[] x, int off, int n, float scale) {
        float inv = 1f / scale;
        for (int i = off; i < off + n; i++) x[i] = round(x[i] * inv) * scale;
    }
}
