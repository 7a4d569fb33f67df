package dev.puzzle.core.ops;

import dev.puzzle.core.cuda.DeviceArray;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.cuda.DeviceParam;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.Rope;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.Param;

import java.util.ArrayList;
import java.util.List;

/**
 * A block op trained on the device: the same f(x) and gradients as its {@link BlockOp} (the CPU path),
 * with its parameters, activations and saved state resident in device memory. Every variant here starts
 * with the input RMSNorm h = rmsnorm(x), which this class owns (forward and backward). Buffers are sized
 * once for up to {@code maxSeqs} sequences of T tokens, so a training step allocates nothing. {@link #of}
 * builds one for the variants the device runs — the dense SwiGLU FFN, GQA attention (window, q/k/v biases)
 * and the linear replacement — and returns null for the rest (MoE, q/k norms, FP8 KV), which train on the
 * CPU path with the backend's GEMMs.
 */
public abstract sealed class DeviceBlock permits DeviceBlock.Ffn, DeviceBlock.Attention, DeviceBlock.Linear {
    final DeviceOps ops;
    final int D, maxRows, T;
    final float eps;
    final List<DeviceParam> params = new ArrayList<>();
    final List<DeviceArray> buffers = new ArrayList<>();
    final DeviceParam norm;
    /** The contribution f(x) of the last forward, (rows, D); the normalized input, its inverse RMS per row, d loss / d h and d loss / d x. */
    final DeviceArray out, h, rstd, dh, dx;
    private DeviceArray x;

    DeviceBlock(DeviceOps ops, ModelConfig cfg, Param norm, int maxSeqs, int T) {
        this.ops = ops;
        this.D = cfg.dim();
        this.eps = cfg.normEps();
        this.T = T;
        this.maxRows = maxSeqs * T;
        this.norm = param(norm);
        long N = maxRows;
        out = buf(N * D);
        h = buf(N * D);
        rstd = buf(N);
        dh = buf(N * D);
        dx = buf(N * D);
    }

    final DeviceArray buf(long n) {
        DeviceArray a = ops.device().floats(n);
        buffers.add(a);
        return a;
    }

    final DeviceParam param(Param p) {
        DeviceParam d = new DeviceParam(ops.device(), p.name, p.w, p.shape.length, ops.precision() == DeviceOps.Precision.BF16);
        params.add(d);
        return d;
    }

    /** An op that has no device twin, or not for this configuration; the message says why, in a few words. */
    public static final class Unsupported extends RuntimeException {
        public Unsupported(String why) {
            super(why);
        }
    }

    /** Refuses parameters mapped from the checkpoint: they are not trainable anywhere. */
    static void requireTrainable(List<Param> ps) {
        for (Param p : ps) if (p.w == null) throw new Unsupported(p.name + " is mapped from the checkpoint, not trainable");
    }

    public List<DeviceParam> params() {
        return params;
    }

    public DeviceOps ops() {
        return ops;
    }

    /** f(x) for S sequences of T tokens (x (S·T, D) on the device, kept until backward); the result is {@link #out()}. */
    public final void forward(DeviceArray x, int S) {
        if (S * T > maxRows) throw new IllegalArgumentException(S + " sequences of " + T + " exceed the block's " + maxRows + " rows");
        this.x = x;
        ops.rmsnormForward(h, rstd, x, norm.value(), S * T, D, eps);
        forwardNormed(S * T, S);
    }

    /** From dOut = d loss / d f(x): accumulates the parameters' gradients and returns d loss / d x (a buffer of this block). */
    public final DeviceArray backward(DeviceArray dOut, int S) {
        backwardNormed(dOut, S * T, S);
        ops.rmsnormBackward(dx, norm.grad(), dh, x, rstd, norm.value(), S * T, D);
        return dx;
    }

    /** f from h = rmsnorm(x) (N = S·T rows) into out. */
    abstract void forwardNormed(int N, int S);

    /** d loss / d h into dh, parameter gradients accumulated. */
    abstract void backwardNormed(DeviceArray dOut, int N, int S);

    public DeviceArray out() {
        return out;
    }

    /** Frees every device allocation of the block. */
    public void close() {
        for (DeviceArray a : buffers) ops.device().free(a);
        for (DeviceParam p : params) p.free();
    }

    /** Trained values back into the host params. */
    public void download() {
        for (DeviceParam p : params) p.download();
    }

    /** The dense SwiGLU FFN: f(x) = w2(silu(w1 h) ⊙ w3 h). */
    public static final class Ffn extends DeviceBlock {
        final int F;
        final DeviceParam w1, w3, w2;
        final DeviceArray a, b, g, dg, da, db;

        Ffn(DeviceOps ops, ModelConfig cfg, List<Param> ps, int maxSeqs, int T) {
            super(ops, cfg, ps.get(0), maxSeqs, T);
            w1 = param(ps.get(1));
            w3 = param(ps.get(2));
            w2 = param(ps.get(3));
            F = ps.get(1).shape[0];
            long NF = (long) maxRows * F;
            a = buf(NF);
            b = buf(NF);
            g = buf(NF);
            dg = buf(NF);
            da = buf(NF);
            db = buf(NF);
        }

        @Override
        void forwardNormed(int N, int S) {
            ops.linearForward(a, h, w1, null, N, D, F);
            ops.linearForward(b, h, w3, null, N, D, F);
            ops.swigluForward(g, a, b, (long) N * F);
            ops.linearForward(out, g, w2, null, N, F, D);
        }

        @Override
        void backwardNormed(DeviceArray dOut, int N, int S) {
            ops.linearBackward(dg, false, w2, null, dOut, g, N, F, D);
            ops.swigluBackward(da, db, dg, a, b, (long) N * F);
            ops.linearBackward(dh, false, w1, null, da, h, N, D, F);
            ops.linearBackward(dh, true, w3, null, db, h, N, D, F);
        }
    }

    /** GQA attention (causal, optional window and q/k/v biases) with RoPE at positions 0..T−1 of each sequence. */
    public static final class Attention extends DeviceBlock {
        final int H, G, E, window, style;
        final DeviceParam wq, wk, wv, wo, bq, bk, bv;
        final DeviceArray cs, q, k, v, p, o, dO, dq, dk, dv, ds;

        Attention(DeviceOps ops, ModelConfig cfg, int G, int window, List<Param> ps, int maxSeqs, int T) {
            super(ops, cfg, ps.get(0), maxSeqs, T);
            this.H = cfg.numHeads();
            this.G = G;
            this.E = cfg.headDim();
            this.window = window;
            this.style = cfg.ropeStyle() == RopeStyle.INTERLEAVED ? 0 : 1;
            wq = param(ps.get(1));
            wk = param(ps.get(2));
            wv = param(ps.get(3));
            wo = param(ps.get(4));
            boolean bias = ps.size() == 8;
            bq = bias ? param(ps.get(5)) : null;
            bk = bias ? param(ps.get(6)) : null;
            bv = bias ? param(ps.get(7)) : null;
            float[] table = new float[T * E], row = new float[E];
            for (int t = 0; t < T; t++) {
                Rope.table(row, t, E, cfg.ropeTheta());
                System.arraycopy(row, 0, table, t * E, E);
            }
            cs = buf(table.length);
            ops.device().upload(table, 0, cs, 0, table.length);
            long N = maxRows, HE = (long) H * E, GE = (long) G * E, P = (long) maxSeqs * H * T * T;
            q = buf(N * HE);
            k = buf(N * GE);
            v = buf(N * GE);
            p = buf(P);
            o = buf(N * HE);
            dO = buf(N * HE);
            dq = buf(N * HE);
            dk = buf(N * GE);
            dv = buf(N * GE);
            ds = buf(P);
        }

        private void project(int N, int T) {
            ops.linearForward(q, h, wq, bq == null ? null : bq.value(), N, D, H * E);
            ops.linearForward(k, h, wk, bk == null ? null : bk.value(), N, D, G * E);
            ops.linearForward(v, h, wv, bv == null ? null : bv.value(), N, D, G * E);
            ops.rope(q, cs, N, T, H, E, style, 1f);
            ops.rope(k, cs, N, T, G, E, style, 1f);
        }

        @Override
        void forwardNormed(int N, int S) {
            project(N, T);
            ops.attentionForward(o, p, q, k, v, S, T, H, G, E, window);
            ops.linearForward(out, o, wo, null, N, H * E, D);
        }

        @Override
        void backwardNormed(DeviceArray dOut, int N, int S) {
            int HE = H * E, GE = G * E;
            ops.linearBackward(dO, false, wo, null, dOut, o, N, HE, D);
            ops.attentionBackward(dq, dk, dv, ds, dO, p, q, k, v, S, T, H, G, E, window);
            ops.rope(dq, cs, N, T, H, E, style, -1f);
            ops.rope(dk, cs, N, T, G, E, style, -1f);
            ops.linearBackward(dh, false, wq, bq == null ? null : bq.grad(), dq, h, N, D, HE);
            ops.linearBackward(dh, true, wk, bk == null ? null : bk.grad(), dk, h, N, D, GE);
            ops.linearBackward(dh, true, wv, bv == null ? null : bv.grad(), dv, h, N, D, GE);
        }

        /**
         * One decode step of B sequences over caches of L keys (timing: the measured GPU cost model): the norm,
         * q/k/v projections and RoPE of B rows, attention of each over its cache (kc, vc (B, L, G·E)) and the
         * output projection, into {@link #out()}. The new keys are not appended (the cache is given).
         */
        public void decode(DeviceArray x, DeviceArray kc, DeviceArray vc, DeviceArray scratch, int B, int L) {
            ops.rmsnormForward(h, rstd, x, norm.value(), B, D, eps);
            project(B, 1);
            ops.attentionDecode(o, scratch, q, kc, vc, B, L, H, G, E, window);
            ops.linearForward(out, o, wo, null, B, H * E, D);
        }

        public int kvWidth() {
            return G * E;
        }

        public int heads() {
            return H;
        }
    }

    /** The linear replacement: f(x) = W·h. */
    public static final class Linear extends DeviceBlock {
        final DeviceParam w;

        Linear(DeviceOps ops, ModelConfig cfg, List<Param> ps, int maxSeqs, int T) {
            super(ops, cfg, ps.get(0), maxSeqs, T);
            w = param(ps.get(1));
        }

        @Override
        void forwardNormed(int N, int S) {
            ops.linearForward(out, h, w, null, N, D, D);
        }

        @Override
        void backwardNormed(DeviceArray dOut, int N, int S) {
            ops.linearBackward(dh, false, w, null, dOut, h, N, D, D);
        }
    }
}
