package dev.puzzle.core.model;

/**
 * Rotary position embeddings (Su et al., RoFormer) in both pairings. frequency_i = theta^(-2i/headDim).
 * INTERLEAVED (llama2.c run.c): rotate (x[2i], x[2i+1]). HALF_SPLIT (HF apply_rotary_pos_emb):
 * rotate (x[i], x[i+headDim/2]).
 */
public final class Rope {
    private Rope() {}

    /** cos/sin tables for one position: {@code cs[2i] = cos, cs[2i+1] = sin}, i in [0, headDim/2). */
    public static void table(float[] cs, int pos, int headDim, float theta) {
        for (int i = 0; i < headDim / 2; i++) {
            double freq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            double val = pos * freq;
            cs[2 * i] = (float) Math.cos(val);
            cs[2 * i + 1] = (float) Math.sin(val);
        }
    }

    /**
     * The rotation of a model's heads: the inverse frequency of each pair and the factor on cos and sin — plain RoPE
     * (factor 1), or YaRN's blended frequencies and attention factor.
     */
    public record Frequencies(double[] inverse, double scale) {
        /** No rotation at all (a model without RoPE): {@link #rotates()} is false. */
        public static final Frequencies NONE = new Frequencies(new double[0], 1.0);

        /** Whether these frequencies rotate anything (false for {@link #NONE}). */
        public boolean rotates() {
            return inverse.length > 0;
        }

        public static Frequencies of(int headDim, float theta, Yarn yarn) {
            if (yarn != null) return new Frequencies(yarn.inverseFrequencies(headDim, theta), yarn.scale());
            double[] inv = new double[headDim / 2];
            for (int i = 0; i < inv.length; i++) inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            return new Frequencies(inv, 1.0);
        }

        /** {@link Rope#table} of these frequencies: {@code cs[2i] = scale·cos, cs[2i+1] = scale·sin}. */
        public void table(float[] cs, int pos) {
            for (int i = 0; i < inverse.length; i++) {
                double val = pos * inverse[i];
                cs[2 * i] = (float) (scale * Math.cos(val));
                cs[2 * i + 1] = (float) (scale * Math.sin(val));
            }
        }
    }

    /** Rotates {@code heads} consecutive heads of {@code headDim} starting at {@code off}, in place. */
    public static void apply(RopeStyle style, float[] x, int off, int heads, int headDim, float[] cs) {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            int base = off + h * headDim;
            if (style == RopeStyle.INTERLEAVED) {
                for (int i = 0; i < half; i++) {
                    float c = cs[2 * i], s = cs[2 * i + 1];
                    float v0 = x[base + 2 * i], v1 = x[base + 2 * i + 1];
                    x[base + 2 * i] = v0 * c - v1 * s;
                    x[base + 2 * i + 1] = v0 * s + v1 * c;
                }
            } else {
                for (int i = 0; i < half; i++) {
                    float c = cs[2 * i], s = cs[2 * i + 1];
                    float v0 = x[base + i], v1 = x[base + i + half];
                    x[base + i] = v0 * c - v1 * s;
                    x[base + i + half] = v1 * c + v0 * s;
                }
            }
        }
    }

    /**
     * The row order that turns a q/k projection (or its bias) from INTERLEAVED to HALF_SPLIT pairing, head by head
     * of {@code headDim} rows: row r of the half-split matrix is row {@code perm[r]} of the interleaved one.
     */
    public static int[] halfSplitRows(int rows, int headDim) {
        int[] perm = new int[rows];
        for (int h = 0; h < rows / headDim; h++) {
            for (int i = 0; i < headDim / 2; i++) {
                for (int s = 0; s < 2; s++) perm[h * headDim + s * headDim / 2 + i] = h * headDim + 2 * i + s;
            }
        }
        return perm;
    }

    /** The inverse of {@link #halfSplitRows}: from HALF_SPLIT rows back to INTERLEAVED ones (llama.cpp's order). */
    public static int[] interleavedRows(int rows, int headDim) {
        int[] toHalf = halfSplitRows(rows, headDim), perm = new int[rows];
        for (int r = 0; r < rows; r++) perm[toHalf[r]] = r;
        return perm;
    }

    /** Backward of {@link #apply}: rotation by −θ, in place on the gradient. */
    public static void applyBackward(RopeStyle style, float[] dx, int off, int heads, int headDim, float[] cs) {
        float[] neg = cs.clone();
        for (int i = 1; i < neg.length; i += 2) neg[i] = -neg[i];
        apply(style, dx, off, heads, headDim, neg);
    }
}
