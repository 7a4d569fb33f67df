package dev.puzzle.core.train;

import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.Rope;
import dev.puzzle.core.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * Trainable GQA attention (optionally sliding-window) of one layer: f(x) = o_proj(attn(rope(q_proj(h)),
 * rope(k_proj(h)), v_proj(h))) with h = rmsnorm(x). Dimension letters: N = S·T rows, D model, H query
 * heads, G KV heads, E head dim.
 */
public final class AttentionBlock implements SubBlock {
    private final ModelConfig cfg;
    private final int G, window;
    private final Param norm, wq, wk, wv, wo, bq, bk, bv; // norm (D); wq (H*E, D); wk, wv (G*E, D); wo (D, H*E)

    /** Takes the layer's tensors (HF names) from {@code weights}; they are trained in place. */
    public AttentionBlock(ModelConfig cfg, int layer, int kvHeads, int window, Map<String, Tensor> weights) {
        this.cfg = cfg;
        this.G = kvHeads;
        this.window = window;
        norm = new Param(layer(layer, ATTN_NORM), weights.get(layer(layer, ATTN_NORM)));
        wq = new Param(layer(layer, Q), weights.get(layer(layer, Q)));
        wk = new Param(layer(layer, K), weights.get(layer(layer, K)));
        wv = new Param(layer(layer, V), weights.get(layer(layer, V)));
        wo = new Param(layer(layer, O), weights.get(layer(layer, O)));
        if (cfg.qkvBias()) {
            bq = new Param(layer(layer, Q_BIAS), weights.get(layer(layer, Q_BIAS)));
            bk = new Param(layer(layer, K_BIAS), weights.get(layer(layer, K_BIAS)));
            bv = new Param(layer(layer, V_BIAS), weights.get(layer(layer, V_BIAS)));
        } else {
            bq = bk = bv = null;
        }
    }

    @Override
    public List<Param> params() {
        List<Param> l = new ArrayList<>(List.of(norm, wq, wk, wv, wo));
        if (bq != null) l.addAll(List.of(bq, bk, bv));
        return l;
    }

    private record State(float[] x, float[] h, float[] rstd, float[] q, float[] k, float[] v, float[] p, float[] o, float[] out,
                         int S, int T) implements Saved {}

    @Override
    public Saved forward(float[] x, int S, int T) {
        int N = S * T, D = cfg.dim(), H = cfg.numHeads(), E = cfg.headDim(), HE = H * E, GE = G * E;
        float[] h = new float[N * D], rstd = new float[N];
        Ops.rmsnormForward(h, rstd, x, norm.w, N, D, cfg.normEps());
        float[] q = new float[N * HE], k = new float[N * GE], v = new float[N * GE];
        Ops.linearForward(q, h, wq.w, bq == null ? null : bq.w, N, D, HE);
        Ops.linearForward(k, h, wk.w, bk == null ? null : bk.w, N, D, GE);
        Ops.linearForward(v, h, wv.w, bv == null ? null : bv.w, N, D, GE);
        rope(q, k, S, T, H, E, false);
        float[] p = new float[S * H * T * T], o = new float[N * HE], out = new float[N * D];
        Ops.attentionForward(o, p, q, k, v, S, T, H, G, E, window);
        Ops.linearForward(out, o, wo.w, null, N, HE, D);
        return new State(x, h, rstd, q, k, v, p, o, out, S, T);
    }

    private void rope(float[] q, float[] k, int S, int T, int H, int E, boolean backward) {
        float[] cs = new float[E];
        for (int t = 0; t < T; t++) {
            Rope.table(cs, t, E, cfg.ropeTheta());
            for (int s = 0; s < S; s++) {
                int n = s * T + t;
                if (backward) {
                    Rope.applyBackward(cfg.ropeStyle(), q, n * H * E, H, E, cs);
                    Rope.applyBackward(cfg.ropeStyle(), k, n * G * E, G, E, cs);
                } else {
                    Rope.apply(cfg.ropeStyle(), q, n * H * E, H, E, cs);
                    Rope.apply(cfg.ropeStyle(), k, n * G * E, G, E, cs);
                }
            }
        }
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        State st = (State) saved;
        int S = st.S(), T = st.T(), N = S * T, D = cfg.dim(), H = cfg.numHeads(), E = cfg.headDim(), HE = H * E, GE = G * E;
        float[] dO = new float[N * HE];
        Ops.linearBackward(dO, false, wo.g, null, dOut, st.o(), wo.w, N, HE, D);
        float[] dq = new float[N * HE], dk = new float[N * GE], dv = new float[N * GE];
        Ops.attentionBackward(dq, dk, dv, dO, st.p(), st.q(), st.k(), st.v(), S, T, H, G, E, window);
        rope(dq, dk, S, T, H, E, true);
        float[] dh = new float[N * D];
        Ops.linearBackward(dh, false, wq.g, bq == null ? null : bq.g, dq, st.h(), wq.w, N, D, HE);
        Ops.linearBackward(dh, true, wk.g, bk == null ? null : bk.g, dk, st.h(), wk.w, N, D, GE);
        Ops.linearBackward(dh, true, wv.g, bv == null ? null : bv.g, dv, st.h(), wv.w, N, D, GE);
        float[] dx = new float[N * D];
        Ops.rmsnormBackward(dx, norm.g, dh, st.x(), st.rstd(), norm.w, N, D);
        return dx;
    }
}
