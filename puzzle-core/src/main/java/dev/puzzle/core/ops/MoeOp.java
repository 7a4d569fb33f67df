package dev.puzzle.core.ops;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.tensor.Kernels;

import java.util.ArrayList;
import java.util.List;

/**
 * A mixture of SwiGLU experts (Mixtral, Qwen2-MoE), f(x) for h = rmsnorm(x):
 * <pre>
 *   p = softmax(Wr·h)                  over all E experts
 *   S = top-k of p                     (ties: the lower index)
 *   f = Σ_{e∈S} w_e · w2_e(silu(w1_e h) ⊙ w3_e h),   w_e = p_e, or p_e / Σ_{j∈S} p_j when normTopK
 *     + sigmoid(g_s·h) · shared(h)     when the layer has a shared expert
 * </pre>
 * PyTorch (Mixtral's MixtralSparseMoeBlock; Qwen2MoeSparseMoeBlock): {@code probs = softmax(gate(h));
 * w, idx = topk(probs, k); if norm: w /= w.sum(-1)}. The tokens routed to an expert run as one GEMM
 * (prefill and training); decode runs only the k chosen experts. Backward reaches the router through
 * the weights (the choice of experts is piecewise constant). Routing and per-expert outputs are public
 * for the expert scorers.
 * <p>
 * gpt-oss's experts ({@link ModelConfig.ClampedSwiGlu}): the router and every projection have biases, and an expert is
 * {@code w2 · ((clamp(w3 h + b3, ±limit) + 1) · c · σ(alpha·c)) + b2}, c = min(w1 h + b1, limit); its routing — softmax over
 * the top-k logits — is the normalized top-k of the softmax over all.
 * <p>
 * Nemotron 3's experts ({@link ModelConfig.SigmoidExperts}): p = σ(Wr·h); the top-k of p + the correction bias (not
 * trained: it only steers the choice) run, weighted by p (over their sum when normTopK) × scale; each expert is
 * {@code w2 · relu(w3 h)²} (no gate, w1 null) and the shared expert a squared-ReLU MLP added ungated.
 */
public final class MoeOp implements BlockOp {
    private final Ops ops;
    private final int D, E, K, I;
    private final boolean normTopK;
    private final float eps;
    private final Param norm, router;
    private final Param[] w1, w3, w2; // per expert: gate (I, D), up (I, D), down (D, I)
    private final SharedExpert shared; // without its own norm: reads h; null when the layer has none
    private final Param sharedGate;   // (1, D); null: the shared expert is added ungated
    private final Biases biases;       // gpt-oss: null otherwise
    private final ModelConfig.ClampedSwiGlu clamp; // gpt-oss's activation, or null for SiLU
    private final Sigmoid sigmoid;     // Nemotron 3's routing and squared-ReLU experts, or null

    /** gpt-oss's biases: the router's (E) and, per expert, gate (I), up (I) and down (D). */
    record Biases(Param router, Param[] b1, Param[] b3, Param[] b2) {}

    /** Nemotron 3's routing: the correction bias (E) that steers the choice, and the weights' scale. */
    record Sigmoid(Param correction, float scale) {}

    MoeOp(Ops ops, int dim, float eps, FfnConfig.Moe cfg, Param norm, Param router, Param[] w1, Param[] w3, Param[] w2,
          SharedExpert shared, Param sharedGate) {
        this(ops, dim, eps, cfg, norm, router, w1, w3, w2, shared, sharedGate, null, null, null);
    }

    MoeOp(Ops ops, int dim, float eps, FfnConfig.Moe cfg, Param norm, Param router, Param[] w1, Param[] w3, Param[] w2,
          SharedExpert shared, Param sharedGate, Biases biases, ModelConfig.ClampedSwiGlu clamp, Sigmoid sigmoid) {
        this.ops = ops;
        this.D = dim;
        this.eps = eps;
        this.E = cfg.numExperts();
        this.K = cfg.topK();
        this.I = cfg.expertIntermediate();
        this.normTopK = cfg.normTopK();
        this.norm = norm;
        this.router = router;
        this.w1 = w1;
        this.w3 = w3;
        this.w2 = w2;
        this.shared = shared;
        this.sharedGate = sharedGate;
        this.biases = biases;
        this.clamp = clamp;
        this.sigmoid = sigmoid;
        if ((biases == null) != (clamp == null)) throw new IllegalArgumentException("gpt-oss experts have both biases and the clamped activation");
        if ((sigmoid != null) != (w1 == null)) throw new IllegalArgumentException("Nemotron 3's experts (and only they) have no gate projection");
    }

    /** The weights' scale: Nemotron 3's routed_scaling_factor, else 1. */
    private float scale() {
        return sigmoid == null ? 1f : sigmoid.scale();
    }

    private static float[] w(Param p) {
        return p == null ? null : p.w;
    }

    /** g = act(a, b) over n values (a is null for squared-ReLU experts: g = relu(b)²). */
    private void activate(float[] g, float[] a, float[] b, int n) {
        if (sigmoid != null) Relu2MlpOp.relu2(g, b, n);
        else if (clamp == null) Ops.swigluForward(g, a, b, n);
        else Ops.clampedSwigluForward(g, 0, a, 0, b, 0, n, clamp.limit(), clamp.alpha());
    }

    public int numExperts() {
        return E;
    }

    public int topK() {
        return K;
    }

    @Override
    public DeviceBlock device(DeviceOps ops, ModelConfig cfg, int maxSeqs, int T) {
        throw new DeviceBlock.Unsupported("mixture-of-experts FFNs have no device kernels");
    }

    @Override
    public List<Param> params() {
        List<Param> p = new ArrayList<>();
        p.add(norm);
        p.add(router);
        for (int e = 0; e < E; e++) {
            if (w1 != null) p.add(w1[e]);
            p.add(w3[e]);
            p.add(w2[e]);
            if (biases != null) {
                p.add(biases.b1()[e]);
                p.add(biases.b3()[e]);
                p.add(biases.b2()[e]);
            }
        }
        if (biases != null) p.add(biases.router());
        if (sigmoid != null) p.add(sigmoid.correction()); // carried with the layer; it gets no gradient (not trained)
        if (shared != null) {
            p.addAll(shared.params());
            if (sharedGate != null) p.add(sharedGate);
        }
        return p;
    }

    /**
     * The routing of N tokens: {@code probs} (N, E) the softmax over all experts (Nemotron 3: each expert's sigmoid score);
     * {@code experts} and {@code weights} (N, K) the chosen experts, by decreasing probability (score plus correction), and
     * their mixing weights.
     */
    public record Routing(int N, int K, float[] probs, int[] experts, float[] weights) {}

    /** h = rmsnorm(x) of N rows, and the inverse RMS of each row into rstd. */
    public float[] normed(float[] x, float[] rstd, int N) {
        float[] h = new float[N * D];
        ops.rmsnormForward(h, rstd, x, norm.w, N, D, eps);
        return h;
    }

    /** Routes N normalized tokens h (N, D). */
    public Routing route(float[] h, int N) {
        return route(h, N, null);
    }

    /**
     * Routes with the experts flagged in {@code removed} masked out (their logits −∞): the softmax and the
     * top-k over the others — exactly what the layer with those experts pruned and its router rows sliced
     * computes. Null removes none.
     */
    public Routing route(float[] h, int N, boolean[] removed) {
        float[] probs = new float[N * E];
        ops.linearForward(probs, h, router.value(), biases == null ? null : biases.router().w, N, D, E);
        int alive = E;
        if (removed != null) {
            alive = 0;
            for (int e = 0; e < E; e++) if (!removed[e]) alive++;
            if (alive < K) throw new IllegalArgumentException("masking leaves " + alive + " experts, fewer than top-k " + K);
            if (sigmoid == null) for (int n = 0; n < N; n++) for (int e = 0; e < E; e++) if (removed[e]) probs[n * E + e] = Float.NEGATIVE_INFINITY;
        }
        int[] experts = new int[N * K];
        float[] weights = new float[N * K];
        float[] choice = sigmoid == null ? probs : new float[E]; // what top-k ranks
        float[] corr = sigmoid == null ? null : sigmoid.correction().w;
        for (int n = 0; n < N; n++) {
            int o = n * E, co = sigmoid == null ? o : 0;
            if (sigmoid == null) {
                float max = Float.NEGATIVE_INFINITY;
                for (int e = 0; e < E; e++) max = Math.max(max, probs[o + e]);
                double sum = 0;
                for (int e = 0; e < E; e++) {
                    float v = (float) Math.exp(probs[o + e] - max);
                    probs[o + e] = v;
                    sum += v;
                }
                float inv = (float) (1 / sum);
                for (int e = 0; e < E; e++) probs[o + e] *= inv;
            } else {
                for (int e = 0; e < E; e++) {
                    probs[o + e] = (float) (1 / (1 + Math.exp(-probs[o + e])));
                    choice[e] = probs[o + e] + corr[e];
                }
            }
            float chosen = 0;
            for (int k = 0; k < K; k++) {
                int best = -1;
                for (int e = 0; e < E; e++) {
                    if (taken(experts, n * K, k, e) || (removed != null && removed[e])) continue;
                    if (best < 0 || choice[co + e] > choice[co + best]) best = e;
                }
                experts[n * K + k] = best;
                weights[n * K + k] = probs[o + best];
                chosen += probs[o + best];
            }
            if (normTopK) for (int k = 0; k < K; k++) weights[n * K + k] /= sigmoid == null ? chosen : chosen + 1e-20f;
            if (sigmoid != null) for (int k = 0; k < K; k++) weights[n * K + k] *= sigmoid.scale();
        }
        return new Routing(N, K, probs, experts, weights);
    }

    private static boolean taken(int[] experts, int off, int k, int e) {
        for (int j = 0; j < k; j++) if (experts[off + j] == e) return true;
        return false;
    }

    /** The tokens of each expert: rows[e] lists (token·K + slot) in token order. */
    private int[][] groups(Routing r) {
        int[] count = new int[E];
        for (int i = 0; i < r.N * K; i++) count[r.experts[i]]++;
        int[][] rows = new int[E][];
        for (int e = 0; e < E; e++) rows[e] = new int[count[e]];
        int[] fill = new int[E];
        for (int i = 0; i < r.N * K; i++) {
            int e = r.experts[i];
            rows[e][fill[e]++] = i;
        }
        return rows;
    }

    private float[] gather(float[] h, int[] rows) {
        float[] he = new float[rows.length * D];
        for (int j = 0; j < rows.length; j++) System.arraycopy(h, (rows[j] / K) * D, he, j * D, D);
        return he;
    }

    /** Expert e's output w2(silu(w1 h) ⊙ w3 h) (Nemotron 3: w2 relu(w3 h)²) for n rows of normalized input (n, D). */
    public float[] expertOutput(int e, float[] he, int n) {
        Kernels k = ops.kernels();
        float[] a = new float[n * I], b = new float[n * I], y = new float[n * D];
        if (w1 != null) k.linear(he, 0, n, D, w1[e].value(), a, 0, false);
        k.linear(he, 0, n, D, w3[e].value(), b, 0, false);
        if (sigmoid != null) {
            Relu2MlpOp.relu2(a, b, n * I);
        } else if (clamp == null) {
            for (int t = 0; t < n; t++) k.swiglu(a, t * I, b, t * I, I);
        } else {
            for (int t = 0; t < n; t++) {
                k.axpy(1f, biases.b1()[e].w, 0, a, t * I, I);
                k.axpy(1f, biases.b3()[e].w, 0, b, t * I, I);
            }
            Ops.clampedSwigluForward(a, 0, a, 0, b, 0, n * I, clamp.limit(), clamp.alpha());
        }
        k.linear(a, 0, n, I, w2[e].value(), y, 0, false);
        if (clamp != null) for (int t = 0; t < n; t++) k.axpy(1f, biases.b2()[e].w, 0, y, t * D, D);
        return y;
    }

    private record Expert(int[] rows, float[] he, float[] a, float[] b, float[] g, float[] y) {}

    private record Saved_(float[] x, float[] h, float[] rstd, Routing r, Expert[] experts, Saved shared, float[] gate, float[] out, int N)
            implements Saved {}

    @Override
    public Saved forward(float[] x, int S, int T) {
        int N = S * T;
        float[] rstd = new float[N];
        float[] h = normed(x, rstd, N);
        Routing r = route(h, N);
        int[][] rows = groups(r);
        float[] out = new float[N * D];
        Expert[] ex = new Expert[E];
        for (int e = 0; e < E; e++) {
            int n = rows[e].length;
            if (n == 0) continue;
            float[] he = gather(h, rows[e]);
            float[] a = w1 == null ? null : new float[n * I], b = new float[n * I], g = new float[n * I], y = new float[n * D];
            if (w1 != null) ops.linearForward(a, he, w1[e].value(), biases == null ? null : w(biases.b1()[e]), n, D, I);
            ops.linearForward(b, he, w3[e].value(), biases == null ? null : w(biases.b3()[e]), n, D, I);
            activate(g, a, b, n * I);
            ops.linearForward(y, g, w2[e].value(), biases == null ? null : w(biases.b2()[e]), n, I, D);
            for (int j = 0; j < n; j++) ops.kernels().axpy(r.weights[rows[e][j]], y, j * D, out, (rows[e][j] / K) * D, D);
            ex[e] = new Expert(rows[e], he, a, b, g, y);
        }
        Saved sh = null;
        float[] gate = null;
        if (shared != null) {
            sh = shared.forwardNormed(h, N);
            gate = sharedGates(h, N);
            float[] f = sh.out();
            for (int n = 0; n < N; n++) ops.kernels().axpy(gate == null ? 1f : gate[n], f, n * D, out, n * D, D);
        }
        return new Saved_(x, h, rstd, r, ex, sh, gate, out, N);
    }

    /** sigmoid(g_s · h) per token; null for an ungated shared expert. */
    private float[] sharedGates(float[] h, int N) {
        if (sharedGate == null) return null;
        float[] z = new float[N];
        ops.linearForward(z, h, sharedGate.value(), null, N, D, 1);
        for (int n = 0; n < N; n++) z[n] = (float) (1 / (1 + Math.exp(-z[n])));
        return z;
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        Saved_ st = (Saved_) saved;
        int N = st.N();
        Routing r = st.r();
        Kernels k = ops.kernels();
        float[] dh = new float[N * D];
        float[] dw = new float[N * K]; // d loss / d mixing weight
        for (int e = 0; e < E; e++) {
            Expert x = st.experts()[e];
            if (x == null) continue;
            int n = x.rows().length;
            float[] dy = new float[n * D];
            for (int j = 0; j < n; j++) {
                int slot = x.rows()[j], o = (slot / K) * D;
                dw[slot] = k.dot(dOut, o, x.y(), j * D, D);
                k.axpy(r.weights[slot], dOut, o, dy, j * D, D);
            }
            float[] dg = new float[n * I], da = new float[n * I], db = new float[n * I], dhe = new float[n * D];
            ops.linearBackward(dg, false, w2[e].grad(), biases == null ? null : biases.b2()[e].grad(), dy, x.g(), w2[e].w, n, I, D);
            if (sigmoid != null) {
                float[] b = x.b();
                for (int i = 0; i < n * I; i++) db[i] = b[i] > 0 ? 2f * b[i] * dg[i] : 0f;
            } else if (clamp == null) {
                Ops.swigluBackward(da, db, dg, x.a(), x.b(), n * I);
            } else {
                Ops.clampedSwigluBackward(da, db, dg, x.a(), x.b(), n * I, clamp.limit(), clamp.alpha());
            }
            if (w1 != null) ops.linearBackward(dhe, false, w1[e].grad(), biases == null ? null : biases.b1()[e].grad(), da, x.he(), w1[e].w, n, D, I);
            ops.linearBackward(dhe, w1 != null, w3[e].grad(), biases == null ? null : biases.b3()[e].grad(), db, x.he(), w3[e].w, n, D, I);
            for (int j = 0; j < n; j++) k.axpy(1f, dhe, j * D, dh, (x.rows()[j] / K) * D, D);
        }
        // Through the mixing weights (w_j = s·p_j, over Σ p when normTopK) and the softmax (Nemotron 3: each sigmoid) to the
        // router's logits.
        float[] dlogits = new float[N * E];
        float[] dp = new float[E];
        float s = scale();
        for (int n = 0; n < N; n++) {
            java.util.Arrays.fill(dp, 0f);
            if (normTopK) {
                float sum = 0, c = 0;
                for (int j = 0; j < K; j++) {
                    sum += r.probs[n * E + r.experts[n * K + j]];
                    c += dw[n * K + j] * r.weights[n * K + j];
                }
                for (int j = 0; j < K; j++) dp[r.experts[n * K + j]] = (s * dw[n * K + j] - c) / sum;
            } else {
                for (int j = 0; j < K; j++) dp[r.experts[n * K + j]] = s * dw[n * K + j];
            }
            if (sigmoid != null) {
                for (int e = 0; e < E; e++) dlogits[n * E + e] = dp[e] * r.probs[n * E + e] * (1 - r.probs[n * E + e]);
                continue;
            }
            double dot = 0;
            for (int e = 0; e < E; e++) dot += (double) r.probs[n * E + e] * dp[e];
            for (int e = 0; e < E; e++) dlogits[n * E + e] = r.probs[n * E + e] * (float) (dp[e] - dot);
        }
        ops.linearBackward(dh, true, router.grad(), biases == null ? null : biases.router().grad(), dlogits, st.h(), router.w, N, D, E);
        if (shared != null) {
            float[] f = st.shared().out(), gate = st.gate(), df = gate == null ? dOut : new float[N * D], dz = new float[N];
            if (gate != null) {
                for (int n = 0; n < N; n++) {
                    k.axpy(gate[n], dOut, n * D, df, n * D, D);
                    dz[n] = k.dot(dOut, n * D, f, n * D, D) * gate[n] * (1 - gate[n]);
                }
            }
            float[] dhs = shared.backwardNormed(st.shared(), df);
            for (int i = 0; i < N * D; i++) dh[i] += dhs[i];
            if (gate != null) ops.linearBackward(dh, true, sharedGate.grad(), null, dz, st.h(), sharedGate.w, N, D, 1);
        }
        float[] dx = new float[N * D];
        Ops.rmsnormBackward(dx, norm.grad(), dh, st.x(), st.rstd(), norm.w, N, D);
        return dx;
    }

    @Override
    public void step(State state, float[] x, int T, int pos0) {
        float[] h = normed(x, new float[T], T);
        float[] out = mixture(h, route(h, T), T);
        for (int i = 0; i < T * D; i++) x[i] += out[i];
    }

    /** The layer's output f for T normalized rows h under a given routing (inference kernels). */
    public float[] mixture(float[] h, Routing r, int T) {
        int[][] rows = groups(r);
        Kernels k = ops.kernels();
        float[] out = new float[T * D];
        for (int e = 0; e < E; e++) {
            int n = rows[e].length;
            if (n == 0) continue;
            float[] y = expertOutput(e, gather(h, rows[e]), n);
            for (int j = 0; j < n; j++) k.axpy(r.weights[rows[e][j]], y, j * D, out, (rows[e][j] / K) * D, D);
        }
        if (shared != null) {
            float[] f = new float[T * D], gate = sharedGates(h, T);
            shared.stepNormed(h, T, f, false);
            for (int t = 0; t < T; t++) k.axpy(gate == null ? 1f : gate[t], f, t * D, out, t * D, D);
        }
        return out;
    }
}
