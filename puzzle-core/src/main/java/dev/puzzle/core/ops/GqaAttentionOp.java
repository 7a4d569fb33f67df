package dev.puzzle.core.ops;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.model.Rope;
import dev.puzzle.core.tensor.Fp8E4M3;
import dev.puzzle.core.tensor.Kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * GQA attention with G KV heads, optionally sliding-window (window 0 = unlimited): f(x) =
 * o_proj(attn(rope(q_proj(h)), rope(k_proj(h)), v_proj(h))), h = rmsnorm(x); with q/k norms (Qwen3) each
 * head's q and k are RMS-normalized (gains of E) before RoPE; with an FP8 KV cache K and V pass through
 * E4M3 with per-KV-head scales. Dimension letters:
 * N = S·T rows, D model dim, H query heads, G KV heads, E head dim. Its inference state is the KV
 * cache: every position, or a ring of {@code window} rows for a window layer.
 */
public final class GqaAttentionOp implements BlockOp {
    private final Ops ops;
    private final int D, H, G, E, window;
    private final float eps;
    private final Rope.Frequencies rope;
    private final RopeStyle ropeStyle;
    private final Param norm, wq, wk, wv, wo, bq, bk, bv; // norm (D); wq (H*E, D); wk, wv (G*E, D); wo (D, H*E); biases or null
    private final Param qn, kn; // per-head q and k norm gains (E), or null
    private final Param sinks, bo; // gpt-oss: per-head sink logits (H) and the o_proj bias (D), or null
    private final float[] kScale, vScale; // FP8 KV cache: per-KV-head scales (G), or null

    /** The attention's shape: D, H, G, E, the window (0: every position), the RMSNorm epsilon and RoPE (its frequencies, YaRN's included). */
    record Shape(int dim, int heads, int kvHeads, int headDim, int window, float eps, Rope.Frequencies rope, RopeStyle ropeStyle) {}

    /**
     * Its tensors: q/k/v biases (Qwen2) and Qwen3's per-head q and k RMSNorm gains (E) null when absent; with
     * {@code kScale}/{@code vScale} (G each) the KV cache is FP8 E4M3: every K (after RoPE) and V row attention reads
     * is scale · e4m3(row / scale), in training (the gradient passes straight through), prefill and decode. gpt-oss's
     * sink logits (H) and o_proj bias (D) are null when absent.
     */
    record Weights(Param norm, Param wq, Param wk, Param wv, Param wo, Param bq, Param bk, Param bv, Param qNorm, Param kNorm,
                   float[] kScale, float[] vScale, Param sinks, Param bo) {}

    GqaAttentionOp(Ops ops, Shape s, Weights w) {
        this.ops = ops;
        this.D = s.dim();
        this.H = s.heads();
        this.G = s.kvHeads();
        this.E = s.headDim();
        this.window = s.window();
        this.eps = s.eps();
        this.rope = s.rope();
        this.ropeStyle = s.ropeStyle();
        this.norm = w.norm();
        this.wq = w.wq();
        this.wk = w.wk();
        this.wv = w.wv();
        this.wo = w.wo();
        this.bq = w.bq();
        this.bk = w.bk();
        this.bv = w.bv();
        this.qn = w.qNorm();
        this.kn = w.kNorm();
        this.kScale = w.kScale();
        this.vScale = w.vScale();
        this.sinks = w.sinks();
        this.bo = w.bo();
    }

    /** The sink logit of head h, or {@link Attention#NO_SINK}. */
    private float sink(int h) {
        return sinks == null ? Attention.NO_SINK : sinks.w[h];
    }

    public int kvHeads() {
        return G;
    }

    public int window() {
        return window;
    }

    /** Has Qwen3's per-head q and k norms. */
    public boolean hasQkNorm() {
        return qn != null;
    }

    /** Keeps its KV cache in FP8. */
    public boolean fp8Kv() {
        return kScale != null;
    }

    @Override
    public DeviceBlock device(DeviceOps ops, ModelConfig cfg, int maxSeqs, int T) {
        if (hasQkNorm()) throw new DeviceBlock.Unsupported("per-head q/k norms have no device kernels");
        if (fp8Kv()) throw new DeviceBlock.Unsupported("an FP8 KV cache has no device kernels");
        if (sinks != null) throw new DeviceBlock.Unsupported("attention sinks have no device kernels");
        if (bo != null) throw new DeviceBlock.Unsupported("an o_proj bias has no device kernels");
        if (rope.scale() != 1.0) throw new DeviceBlock.Unsupported("YaRN RoPE has no device kernels");
        if (!rope.rotates()) throw new DeviceBlock.Unsupported("attention without RoPE has no device kernels");
        if (E > 256) throw new DeviceBlock.Unsupported("the attention kernels take head dims up to 256, not " + E);
        DeviceBlock.requireTrainable(params());
        return new DeviceBlock.Attention(ops, cfg, G, window, params(), maxSeqs, T);
    }

    @Override
    public List<Param> params() {
        List<Param> l = new ArrayList<>(List.of(norm, wq, wk, wv, wo));
        if (bq != null) l.addAll(List.of(bq, bk, bv));
        if (qn != null) l.addAll(List.of(qn, kn));
        if (sinks != null) l.add(sinks);
        if (bo != null) l.add(bo);
        return l;
    }

    private record Saved_(float[] x, float[] h, float[] rstd, float[] q, float[] k, float[] v, float[] p, float[] o, float[] out,
                          int S, int T, QkNormed qk) implements Saved {}

    /** q and k before their norms, and the norms' inverse RMS per head row. */
    private record QkNormed(float[] q, float[] k, float[] qr, float[] kr) {}

    /**
     * Projects h (N rows) to q, k, v with biases, normalizes q and k per head when the layer has q/k norms,
     * and applies RoPE at positions pos0 + (row mod T); returns what the norms' backward needs (or null).
     */
    private QkNormed project(float[] h, float[] q, float[] k, float[] v, int S, int T, int pos0) {
        int N = S * T, HE = H * E, GE = G * E;
        ops.linearForward(q, h, wq.value(), bq == null ? null : bq.w, N, D, HE);
        ops.linearForward(k, h, wk.value(), bk == null ? null : bk.w, N, D, GE);
        ops.linearForward(v, h, wv.value(), bv == null ? null : bv.w, N, D, GE);
        QkNormed qk = null;
        if (qn != null) {
            qk = new QkNormed(q.clone(), k.clone(), new float[N * H], new float[N * G]);
            ops.rmsnormForward(q, qk.qr(), qk.q(), qn.w, N * H, E, eps);
            ops.rmsnormForward(k, qk.kr(), qk.k(), kn.w, N * G, E, eps);
        }
        rope(q, k, S, T, pos0, false);
        if (kScale != null) {
            for (int n = 0; n < N; n++) {
                for (int g = 0; g < G; g++) {
                    Fp8E4M3.quantizeDequantize(k, n * GE + g * E, E, kScale[g]);
                    Fp8E4M3.quantizeDequantize(v, n * GE + g * E, E, vScale[g]);
                }
            }
        }
        return qk;
    }

    private void rope(float[] q, float[] k, int S, int T, int pos0, boolean backward) {
        if (!rope.rotates()) return; // a model without RoPE (Nemotron-H)
        float[] cs = Scratch.floats(Scratch.Slot.ROPE, E);
        for (int t = 0; t < T; t++) {
            rope.table(cs, pos0 + t);
            for (int s = 0; s < S; s++) {
                int n = s * T + t;
                if (backward) {
                    Rope.applyBackward(ropeStyle, q, n * H * E, H, E, cs);
                    Rope.applyBackward(ropeStyle, k, n * G * E, G, E, cs);
                } else {
                    Rope.apply(ropeStyle, q, n * H * E, H, E, cs);
                    Rope.apply(ropeStyle, k, n * G * E, G, E, cs);
                }
            }
        }
    }

    /**
     * Runs {@code perHead} over the H heads, forking only when there is work enough to pay for it (8192 multiply-adds:
     * decode of the stories15M shape, 6 heads of 48, forks from its 29th position; measured steady-state 2 threads,
     * 551-555 tok/s with a threshold of 65536, 568-572 with 8192; the stories110M shape unchanged within noise).
     */
    private void heads(int H, long work, IntConsumer perHead) {
        if (work < 8192) {
            for (int h = 0; h < H; h++) perHead.accept(h);
        } else {
            ops.kernels().parallel().forEach(H, perHead);
        }
    }

    @Override
    public Saved forward(float[] x, int S, int T) {
        int N = S * T, HE = H * E, GE = G * E, group = H / G;
        float[] h = new float[N * D], rstd = new float[N];
        ops.rmsnormForward(h, rstd, x, norm.w, N, D, eps);
        float[] q = new float[N * HE], k = new float[N * GE], v = new float[N * GE];
        QkNormed qk = project(h, q, k, v, S, T, 0);
        float[] p = new float[S * H * T * T], o = new float[N * HE], out = new float[N * D];
        Kernels kk = ops.kernels();
        for (int s = 0; s < S; s++) {
            final int s0 = s;
            heads(H, (long) H * T * T * E, hh -> Attention.head(kk, q, s0 * T * HE + hh * E, HE, k, v, s0 * T * GE + (hh / group) * E, GE,
                    o, s0 * T * HE + hh * E, HE, p, (s0 * H + hh) * T * T, T, T, 0, 0, E, window, sink(hh)));
        }
        ops.linearForward(out, o, wo.value(), bo == null ? null : bo.w, N, HE, D);
        return new Saved_(x, h, rstd, q, k, v, p, o, out, S, T, qk);
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        Saved_ st = (Saved_) saved;
        int S = st.S(), T = st.T(), N = S * T, HE = H * E, GE = G * E;
        float[] dO = new float[N * HE];
        ops.linearBackward(dO, false, wo.grad(), bo == null ? null : bo.grad(), dOut, st.o(), wo.w, N, HE, D);
        float[] dq = new float[N * HE], dk = new float[N * GE], dv = new float[N * GE];
        Attention.backward(ops.kernels(), dq, dk, dv, dO, st.p(), st.q(), st.k(), st.v(), S, T, H, G, E, window, sinks == null ? null : sinks.grad());
        rope(dq, dk, S, T, 0, true);
        if (qn != null) { // through the per-head norms, to q and k as projected
            QkNormed qk = st.qk();
            float[] dq0 = new float[N * HE], dk0 = new float[N * GE];
            Ops.rmsnormBackward(dq0, qn.grad(), dq, qk.q(), qk.qr(), qn.w, N * H, E);
            Ops.rmsnormBackward(dk0, kn.grad(), dk, qk.k(), qk.kr(), kn.w, N * G, E);
            dq = dq0;
            dk = dk0;
        }
        float[] dh = new float[N * D];
        ops.linearBackward(dh, false, wq.grad(), bq == null ? null : bq.grad(), dq, st.h(), wq.w, N, D, HE);
        ops.linearBackward(dh, true, wk.grad(), bk == null ? null : bk.grad(), dk, st.h(), wk.w, N, D, GE);
        ops.linearBackward(dh, true, wv.grad(), bv == null ? null : bv.grad(), dv, st.h(), wv.w, N, D, GE);
        float[] dx = new float[N * D];
        Ops.rmsnormBackward(dx, norm.grad(), dh, st.x(), st.rstd(), norm.w, N, D);
        return dx;
    }

    /** The KV cache of one sequence: rows (G·E) of keys and values; {@code rows} = capacity, or the window for a window layer. */
    public record KvCache(float[] keys, float[] values, int rows) implements State {}

    @Override
    public State newState(int capacity) {
        int rows = window > 0 ? Math.min(window, capacity) : capacity;
        return new KvCache(new float[rows * G * E], new float[rows * G * E], rows);
    }

    @Override
    public void step(State state, float[] x, int T, int pos0) {
        final int HE = H * E, GE = G * E, group = H / G;
        KvCache cache = (KvCache) state;
        float[] h = Scratch.floats(Scratch.Slot.ATTN_H, T * D), rstd = Scratch.floats(Scratch.Slot.ATTN_RSTD, T);
        ops.rmsnormForward(h, rstd, x, norm.w, T, D, eps);
        float[] q = Scratch.floats(Scratch.Slot.ATTN_Q, T * HE), kk = Scratch.floats(Scratch.Slot.ATTN_K, T * GE), vv = Scratch.floats(Scratch.Slot.ATTN_V, T * GE);
        project(h, q, kk, vv, 1, T, pos0);
        // Keys and values visible to this call, as one contiguous buffer starting at absolute position kStart.
        float[] kBuf, vBuf;
        int kStart;
        float[] kc = cache.keys(), vc = cache.values();
        if (window == 0) {
            System.arraycopy(kk, 0, kc, pos0 * GE, T * GE);
            System.arraycopy(vv, 0, vc, pos0 * GE, T * GE);
            kBuf = kc;
            vBuf = vc;
            kStart = 0;
        } else {
            int ring = cache.rows();
            int past = Math.min(pos0, window - 1);
            kStart = pos0 - past;
            kBuf = Scratch.floats(Scratch.Slot.ATTN_WINDOW_K, (past + T) * GE);
            vBuf = Scratch.floats(Scratch.Slot.ATTN_WINDOW_V, (past + T) * GE);
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
        float[] out = Scratch.zeroed(Scratch.Slot.ATTN_OUT, T * HE); // head adds into it
        final int maxKeys = pos0 + T - kStart, ks = kStart;
        Kernels k = ops.kernels();
        heads(H, (long) H * T * maxKeys * E, hh -> Attention.head(k, q, hh * E, HE, kBuf, vBuf, (hh / group) * E, GE,
                out, hh * E, HE, Scratch.floats(Scratch.Slot.ATTN_SCORES, maxKeys), 0, 0, T, pos0, ks, E, window, sink(hh)));
        // PyTorch: x = x + o_proj(attn)
        k.linear(out, 0, T, HE, wo.value(), x, 0, true);
        if (bo != null) for (int t = 0; t < T; t++) k.axpy(1f, bo.w, 0, x, t * D, D);
    }
}
