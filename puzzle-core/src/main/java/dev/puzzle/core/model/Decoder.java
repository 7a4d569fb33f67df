package dev.puzzle.core.model;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * The heterogeneous Llama-family decoder: every layer runs its own attention variant (GQA with its
 * own KV heads, sliding window, linear, no-op) and FFN variant (dense SwiGLU of its own width,
 * linear, no-op). {@link #forward} appends a run of tokens to a {@link State}: many tokens at once
 * is batched prefill (every projection one GEMM), one token is incremental decode; both read and
 * write the same KV cache, so the two paths give the same logits.
 *
 * Dimension letters: T tokens in this call, D model dim, H query heads, G KV heads, E head dim,
 * F FFN width, V vocabulary.
 */
public final class Decoder {
    private final ModelConfig cfg;
    private final Kernels k = Kernels.get();
    private final Tensor embedding;   // (V, D)
    private final Tensor finalNorm;   // (D)
    private final Tensor classifier;  // (V, D), the embedding when tied
    private final List<Layer> layers = new ArrayList<>();

    private sealed interface Attn {}

    private record GqaAttn(float[] norm, float[] wq, float[] wk, float[] wv, float[] wo, float[] bq, float[] bk, float[] bv,
                           int kvHeads, int window) implements Attn {} // wq (H*E, D), wk/wv (G*E, D), wo (D, H*E); window 0 = unlimited

    private record LinearMap(float[] norm, float[] w) implements Attn, Ffn {} // w (D, D)

    private record Skip() implements Attn, Ffn {}

    private sealed interface Ffn {}

    private record SwiGlu(float[] norm, float[] w1, float[] w3, float[] w2, int width) implements Ffn {} // w1/w3 (F, D), w2 (D, F)

    private record Layer(Attn attn, Ffn ffn) {}

    public Decoder(Checkpoint ckpt) {
        this.cfg = ckpt.config();
        int D = cfg.dim(), V = cfg.vocabSize(), E = cfg.headDim(), HE = cfg.qDim();
        embedding = ckpt.require(EMBED, V, D);
        finalNorm = ckpt.require(FINAL_NORM, D);
        classifier = cfg.tiedEmbeddings() ? embedding : ckpt.require(LM_HEAD, V, D);
        for (int i = 0; i < cfg.numLayers(); i++) {
            BlockConfig b = cfg.blocks().get(i);
            final int li = i;
            Attn attn = switch (b.attention()) {
                case AttentionConfig.Gqa g -> gqa(ckpt, li, g.numKvHeads(), 0, D, E, HE);
                case AttentionConfig.Window w -> gqa(ckpt, li, w.numKvHeads(), w.window(), D, E, HE);
                case AttentionConfig.Linear l -> new LinearMap(w(ckpt, li, ATTN_NORM, D), w(ckpt, li, ATTN_LINEAR, D, D));
                case AttentionConfig.NoOp n -> new Skip();
            };
            Ffn ffn = switch (b.ffn()) {
                case FfnConfig.Dense d -> {
                    int F = d.intermediateSize();
                    yield new SwiGlu(w(ckpt, li, FFN_NORM, D), w(ckpt, li, GATE, F, D), w(ckpt, li, UP, F, D), w(ckpt, li, DOWN, D, F), F);
                }
                case FfnConfig.Linear l -> new LinearMap(w(ckpt, li, FFN_NORM, D), w(ckpt, li, FFN_LINEAR, D, D));
                case FfnConfig.NoOp n -> new Skip();
            };
            layers.add(new Layer(attn, ffn));
        }
    }

    private GqaAttn gqa(Checkpoint c, int i, int G, int window, int D, int E, int HE) {
        float[] bq = null, bk = null, bv = null;
        if (cfg.qkvBias()) {
            bq = w(c, i, Q_BIAS, HE);
            bk = w(c, i, K_BIAS, G * E);
            bv = w(c, i, V_BIAS, G * E);
        }
        return new GqaAttn(w(c, i, ATTN_NORM, D), w(c, i, Q, HE, D), w(c, i, K, G * E, D), w(c, i, V, G * E, D),
                w(c, i, O, D, HE), bq, bk, bv, G, window);
    }

    private static float[] w(Checkpoint c, int layer, String suffix, int... shape) {
        return c.require(layer(layer, suffix), shape).data();
    }

    public ModelConfig config() {
        return cfg;
    }

    /** A fresh generation state (KV caches) for up to {@code capacity} positions. */
    public State newState(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        return new State(capacity);
    }

    /** The KV cache of every attention layer and the next position. Window layers keep a ring of {@code window} rows. */
    public final class State {
        private final int capacity;
        private final float[][] keys;   // per layer: (rows, G*E); rows = capacity, or window for window layers
        private final float[][] values;
        private int pos;

        private State(int capacity) {
            this.capacity = capacity;
            keys = new float[layers.size()][];
            values = new float[layers.size()][];
            int E = cfg.headDim();
            for (int l = 0; l < layers.size(); l++) {
                if (layers.get(l).attn() instanceof GqaAttn g) {
                    int rows = g.window() > 0 ? Math.min(g.window(), capacity) : capacity;
                    keys[l] = new float[rows * g.kvHeads() * E];
                    values[l] = new float[rows * g.kvHeads() * E];
                }
            }
        }

        public int position() {
            return pos;
        }

        public int capacity() {
            return capacity;
        }
    }

    /**
     * Runs tokens[off, off+len) at positions state.pos.. and advances the state. Returns logits
     * (len, V) when {@code allLogits}, else the last position's (1, V).
     */
    public float[] forward(State st, int[] tokens, int off, int len, boolean allLogits) {
        float[] h = hidden(st, tokens, off, len);
        return logits(h, len, allLogits);
    }

    /** The final hidden states before the last norm: (len, D); advances the state. */
    public float[] hidden(State st, int[] tokens, int off, int len) {
        if (len < 1) throw new IllegalArgumentException("need at least one token, got " + len);
        if (st.pos + len > st.capacity) {
            throw new PuzzleException("sequence of " + (st.pos + len) + " positions exceeds the state's capacity " + st.capacity);
        }
        final int T = len, D = cfg.dim(), V = cfg.vocabSize();
        float[] x = new float[T * D];
        float[] emb = embedding.data();
        for (int t = 0; t < T; t++) {
            int tok = tokens[off + t];
            if (tok < 0 || tok >= V) throw new PuzzleException("token id " + tok + " outside the vocabulary [0, " + V + ")");
            System.arraycopy(emb, tok * D, x, t * D, D);
        }
        float[] xb = new float[T * D];
        for (int l = 0; l < layers.size(); l++) {
            Layer layer = layers.get(l);
            switch (layer.attn()) {
                case GqaAttn g -> attention(st, l, g, x, xb, T);
                case LinearMap m -> linearResidual(m, x, xb, T);
                case Skip s -> { }
            }
            switch (layer.ffn()) {
                case SwiGlu f -> swiglu(f, x, xb, T);
                case LinearMap m -> linearResidual(m, x, xb, T);
                case Skip s -> { }
            }
        }
        st.pos += T;
        return x;
    }

    /** Final RMSNorm and classifier over hidden states (T, D). */
    public float[] logits(float[] x, int T, boolean allLogits) {
        int D = cfg.dim(), V = cfg.vocabSize();
        int from = allLogits ? 0 : T - 1;
        int n = T - from;
        float[] xn = new float[n * D];
        for (int t = 0; t < n; t++) k.rmsnorm(xn, t * D, x, (from + t) * D, finalNorm.data(), D, cfg.normEps());
        float[] out = new float[n * V];
        k.gemm(false, true, n, V, D, xn, 0, D, classifier.data(), 0, D, out, 0, V, false);
        return out;
    }

    private void rmsnormRows(float[] out, float[] x, float[] w, int T) {
        int D = cfg.dim();
        for (int t = 0; t < T; t++) k.rmsnorm(out, t * D, x, t * D, w, D, cfg.normEps());
    }

    private void linearResidual(LinearMap m, float[] x, float[] xb, int T) {
        int D = cfg.dim();
        rmsnormRows(xb, x, m.norm(), T);
        // PyTorch: x = x + linear(rmsnorm(x))
        k.gemm(false, true, T, D, D, xb, 0, D, m.w(), 0, D, x, 0, D, true);
    }

    private void swiglu(SwiGlu f, float[] x, float[] xb, int T) {
        int D = cfg.dim(), F = f.width();
        rmsnormRows(xb, x, f.norm(), T);
        float[] h1 = new float[T * F], h3 = new float[T * F];
        k.gemm(false, true, T, F, D, xb, 0, D, f.w1(), 0, D, h1, 0, F, false);
        k.gemm(false, true, T, F, D, xb, 0, D, f.w3(), 0, D, h3, 0, F, false);
        // PyTorch: w2(F.silu(w1(x)) * w3(x))
        for (int t = 0; t < T; t++) k.swiglu(h1, t * F, h3, t * F, F);
        k.gemm(false, true, T, D, F, h1, 0, F, f.w2(), 0, F, x, 0, D, true);
    }

    private void attention(State st, int l, GqaAttn g, float[] x, float[] xb, int T) {
        final int D = cfg.dim(), H = cfg.numHeads(), E = cfg.headDim(), G = g.kvHeads(), HE = H * E, GE = G * E;
        final int pos0 = st.pos;
        rmsnormRows(xb, x, g.norm(), T);
        float[] q = new float[T * HE], kk = new float[T * GE], vv = new float[T * GE];
        k.gemm(false, true, T, HE, D, xb, 0, D, g.wq(), 0, D, q, 0, HE, false);
        k.gemm(false, true, T, GE, D, xb, 0, D, g.wk(), 0, D, kk, 0, GE, false);
        k.gemm(false, true, T, GE, D, xb, 0, D, g.wv(), 0, D, vv, 0, GE, false);
        if (g.bq() != null) {
            for (int t = 0; t < T; t++) {
                k.axpy(1f, g.bq(), 0, q, t * HE, HE);
                k.axpy(1f, g.bk(), 0, kk, t * GE, GE);
                k.axpy(1f, g.bv(), 0, vv, t * GE, GE);
            }
        }
        float[] cs = new float[E];
        for (int t = 0; t < T; t++) {
            Rope.table(cs, pos0 + t, E, cfg.ropeTheta());
            Rope.apply(cfg.ropeStyle(), q, t * HE, H, E, cs);
            Rope.apply(cfg.ropeStyle(), kk, t * GE, G, E, cs);
        }
        // Keys and values visible to this call, as one contiguous buffer starting at absolute position kStart.
        float[] kBuf, vBuf;
        int kStart;
        float[] kc = st.keys[l], vc = st.values[l];
        if (g.window() == 0) {
            System.arraycopy(kk, 0, kc, pos0 * GE, T * GE);
            System.arraycopy(vv, 0, vc, pos0 * GE, T * GE);
            kBuf = kc;
            vBuf = vc;
            kStart = 0;
        } else {
            int ring = kc.length / GE;
            int past = Math.min(pos0, g.window() - 1);
            kStart = pos0 - past;
            kBuf = new float[(past + T) * GE];
            vBuf = new float[(past + T) * GE];
            for (int j = 0; j < past; j++) {
                int r = (kStart + j) % ring;
                System.arraycopy(kc, r * GE, kBuf, j * GE, GE);
                System.arraycopy(vc, r * GE, vBuf, j * GE, GE);
            }
            System.arraycopy(kk, 0, kBuf, past * GE, T * GE);
            System.arraycopy(vv, 0, vBuf, past * GE, T * GE);
            for (int t = Math.max(0, T - ring); t < T; t++) {
                int r = (pos0 + t) % ring;
                System.arraycopy(kk, t * GE, kc, r * GE, GE);
                System.arraycopy(vv, t * GE, vc, r * GE, GE);
            }
        }
        float[] out = new float[T * HE];
        causalAttention(q, kBuf, vBuf, out, T, pos0, kStart, H, G, E, g.window());
        // PyTorch: x = x + o_proj(attn)
        k.gemm(false, true, T, D, HE, out, 0, HE, g.wo(), 0, HE, x, 0, D, true);
    }

    /**
     * Causal GQA: query t (absolute position pos0+t) of head h attends to keys at absolute positions
     * [max(kStart, p−window+1), p] of KV head h / (H/G). out (T, H*E).
     */
    private void causalAttention(float[] q, float[] kBuf, float[] vBuf, float[] out, int T, int pos0, int kStart,
                                 int H, int G, int E, int window) {
        final int HE = H * E, GE = G * E, group = H / G;
        final float scale = (float) (1.0 / Math.sqrt(E));
        final int maxKeys = pos0 + T - kStart;
        // Fork only when there is work enough to pay for it (a tiny model's decode step is a few thousand flops).
        java.util.function.IntConsumer perHead = h -> {
            float[] att = new float[maxKeys];
            int kvh = h / group;
            for (int t = 0; t < T; t++) {
                int p = pos0 + t;
                int lo = window > 0 ? Math.max(kStart, p - window + 1) : kStart;
                int n = p - lo + 1;
                int qo = t * HE + h * E;
                for (int j = 0; j < n; j++) {
                    att[j] = k.dot(q, qo, kBuf, (lo - kStart + j) * GE + kvh * E, E) * scale;
                }
                k.softmax(att, 0, n);
                for (int j = 0; j < n; j++) {
                    k.axpy(att[j], vBuf, (lo - kStart + j) * GE + kvh * E, out, qo, E);
                }
            }
        };
        if ((long) H * T * maxKeys * E < 65536) {
            for (int h = 0; h < H; h++) perHead.accept(h);
        } else {
            Parallel.forEach(H, perHead);
        }
    }
}
