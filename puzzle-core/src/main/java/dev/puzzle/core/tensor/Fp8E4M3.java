package dev.puzzle.core.tensor;

/**
 * FP8 E4M3 (the OCP "FN" format vLLM and the Hopper tensor cores use for KV caches): 1 sign, 4 exponent
 * bits (bias 7), 3 mantissa bits, no infinities; largest magnitude 448, smallest normal 2⁻⁶, subnormals
 * k·2⁻⁹. A KV row is stored as e4m3(x / scale) and read back times scale; this class rounds a float to
 * the nearest E4M3 value (ties to even), saturating at ±448, which is what the quantize-dequantize pair
 * computes. The error is at most half a unit in the last place: |x − q(x)| ≤ 2⁻⁴·|x| for |x| ≥ 2⁻⁶ (up
 * to 448), ≤ 2⁻¹⁰ below.
 */
public final class Fp8E4M3 {
    private Fp8E4M3() {}

    public static final float MAX = 448f;
    static final float MIN_NORMAL = 0x1p-6f, SUBNORMAL_STEP = 0x1p-9f;

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

    /** x[off..off+n) ← scale · e4m3(x / scale), in place: what a row reads back from an FP8 cache. */
    public static void quantizeDequantize(float[] x, int off, int n, float scale) {
        float inv = 1f / scale;
        for (int i = off; i < off + n; i++) x[i] = round(x[i] * inv) * scale;
    }
}
