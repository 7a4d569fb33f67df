package dev.puzzle.core.model;

/**
 * YaRN RoPE scaling (Peng et al. 2023), as Hugging Face's {@code rope_scaling: {rope_type: yarn}} defines it
 * ({@code _compute_yarn_parameters}): each frequency of the base RoPE blends its extrapolated value θ_i with
 * its interpolated value θ_i / factor by a linear ramp over the dimensions between the correction dims of
 * {@code betaFast} and {@code betaSlow} rotations in {@code originalContext} positions (floored and ceiled when
 * {@code truncate}); cos and sin are multiplied by the attention factor, by default 0.1·ln(factor) + 1.
 *
 * @param factor          context extension factor (> 0)
 * @param originalContext the context the base RoPE was trained on (HF original_max_position_embeddings)
 * @param betaFast        rotations at which a dimension stops being interpolated (HF default 32)
 * @param betaSlow        rotations at which a dimension is purely interpolated (HF default 1)
 * @param truncate        whether the correction range is rounded to whole dimensions (HF default true; gpt-oss false)
 * @param attentionFactor the cos/sin multiplier; 0 means the default from the factor
 */
public record Yarn(float factor, int originalContext, float betaFast, float betaSlow, boolean truncate, float attentionFactor) {
    public Yarn {
        if (!(factor > 0) || Float.isInfinite(factor)) throw new IllegalArgumentException("rope_scaling.factor must be > 0, got " + factor);
        if (originalContext < 1) throw new IllegalArgumentException("rope_scaling.original_max_position_embeddings must be >= 1, got " + originalContext);
        if (!(betaFast > 0) || !(betaSlow > 0)) throw new IllegalArgumentException("rope_scaling.beta_fast and beta_slow must be > 0, got " + betaFast + ", " + betaSlow);
        if (attentionFactor < 0) throw new IllegalArgumentException("rope_scaling.attention_factor must be > 0, got " + attentionFactor);
    }

    /** The multiplier of cos and sin (so of each of q and k). */
    public double scale() {
        if (attentionFactor > 0) return attentionFactor;
        return factor <= 1 ? 1.0 : 0.1 * Math.log(factor) + 1.0;
    }

    /** The inverse frequencies of the headDim/2 rotated pairs under base {@code theta}. */
    public double[] inverseFrequencies(int headDim, double theta) {
        int half = headDim / 2;
        double low = correctionDim(betaFast, headDim, theta), high = correctionDim(betaSlow, headDim, theta);
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, headDim - 1);
        if (low == high) high += 0.001;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            double extrapolated = 1.0 / Math.pow(theta, 2.0 * i / headDim), interpolated = extrapolated / factor;
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double extrapolation = 1 - ramp;
            inv[i] = interpolated * (1 - extrapolation) + extrapolated * extrapolation;
        }
        return inv;
    }

    /** The dimension whose wavelength makes {@code rotations} turns in the original context. */
    private double correctionDim(double rotations, int headDim, double theta) {
        return headDim * Math.log(originalContext / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
    }
}
