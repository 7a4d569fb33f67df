package dev.puzzle.core.eval;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Kernels;

/**
 * Next-token sampling as llama2.c's run.c does it: greedy at temperature 0, else softmax(logits / T)
 * sampled directly or by top-p (nucleus) with the xorshift* generator seeded by the user.
 */
public final class Sampler {
    private final Kernels k;
    private final float temperature, topP;
    private long state;

    public Sampler(Backend backend, float temperature, float topP, long seed) {
        this.k = backend.kernels();
        if (temperature < 0 || Float.isNaN(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topP < 0 || topP > 1 || Float.isNaN(topP)) throw new IllegalArgumentException("top-p must be in [0, 1], got " + topP);
        this.temperature = temperature;
        this.topP = topP;
        this.state = seed == 0 ? 1 : seed;
    }

    private int randomU32() {
        state ^= state >>> 12;
        state ^= state << 25;
        state ^= state >>> 27;
        return (int) ((state * 0x2545F4914F6CDD1DL) >>> 32);
    }

    private float randomF32() {
        return ((randomU32() >>> 8) & 0xFFFFFF) / 16777216.0f;
    }

    /** Samples from logits[off, off+n); may modify them. */
    public int sample(float[] logits, int off, int n) {
        if (temperature == 0f) return Losses.argmax(logits, off, n);
        for (int i = 0; i < n; i++) logits[off + i] /= temperature;
        k.softmax(logits, off, n);
        float coin = randomF32();
        if (topP <= 0 || topP >= 1) {
            float cdf = 0;
            for (int i = 0; i < n; i++) {
                cdf += logits[off + i];
                if (coin < cdf) return i;
            }
            return n - 1;
        }
        // Nucleus: candidates above (1 - topP) / (n - 1), sorted by probability descending.
        float cutoff = (1f - topP) / (n - 1);
        int m = 0;
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) if (logits[off + i] >= cutoff) idx[m++] = i;
        Integer[] order = new Integer[m];
        for (int i = 0; i < m; i++) order[i] = idx[i];
        java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[off + b], logits[off + a]));
        float cum = 0;
        int last = m - 1;
        for (int i = 0; i < m; i++) {
            cum += logits[off + order[i]];
            if (cum > topP) {
                last = i;
                break;
            }
        }
        float r = coin * cum, cdf = 0;
        for (int i = 0; i <= last; i++) {
            cdf += logits[off + order[i]];
            if (r < cdf) return order[i];
        }
        return order[last];
    }
}
