package dev.puzzle.core.ops;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.cuda.DeviceOps;
import java.util.List;

/**
 * The dense SwiGLU FFN of width F: f(x) = w2(silu(w1 h) ⊙ w3 h), h = rmsnorm(x).
 * PyTorch: w2(F.silu(w1(x)) * w3(x)). Without a norm (null) it is a MoE layer's shared expert, which
 * reads the layer's normalized input through the package-private *Normed methods.
 */
public final class SwiGluOp implements BlockOp, SharedExpert {
    private final Ops ops;
    private final int D, F;
    private final float eps;
    private final Param norm, w1, w3, w2; // norm (D); w1 gate, w3 up (F, D); w2 down (D, F)

    SwiGluOp(Ops ops, int dim, float eps, Param norm, Param w1, Param w3, Param w2) {
        this.ops = ops;
        this.D = dim;
        this.eps = eps;
        this.norm = norm;
        this.w1 = w1;
        this.w3 = w3;
        this.w2 = w2;
        this.F = w1.shape[0];
    }

    public int width() {
        return F;
    }

    @Override
    public DeviceBlock device(DeviceOps ops, ModelConfig cfg, int maxSeqs, int T) {
        List<Param> ps = params();
        if (ps.size() != 4) throw new DeviceBlock.Unsupported("a SwiGLU without its own norm (a MoE's shared expert) has no device kernels");
        DeviceBlock.requireTrainable(ps);
        return new DeviceBlock.Ffn(ops, cfg, ps, maxSeqs, T);
    }

    @Override
    public List<Param> params() {
        return norm == null ? List.of(w1, w3, w2) : List.of(norm, w1, w3, w2);
    }

    private record Saved_(float[] x, float[] h, float[] rstd, float[] a, float[] b, float[] g, float[] out, int N) implements Saved {}

    @Override
    public Saved forward(float[] x, int S, int T) {
        int N = S * T;
        float[] h = new float[N * D], rstd = new float[N];
        ops.rmsnormForward(h, rstd, x, norm.w, N, D, eps);
        Saved_ f = (Saved_) forwardNormed(h, N);
        return new Saved_(x, h, rstd, f.a(), f.b(), f.g(), f.out(), N);
    }

    /** The FFN on inputs already normalized (h, N rows): a MoE layer's shared expert. */
    @Override
    public Saved forwardNormed(float[] h, int N) {
        float[] a = new float[N * F], b = new float[N * F], g = new float[N * F], out = new float[N * D];
        ops.linearForward(a, h, w1.value(), null, N, D, F);
        ops.linearForward(b, h, w3.value(), null, N, D, F);
        // Elementwise, vectorized, on the backend's threads (a training step of 2048 × 1536 spent ~20% of its time here
        // in scalar code on one thread).
        var k = ops.kernels();
        k.parallel().forRange(N * F, 16384, (i0, i1) -> k.swigluForward(g, a, b, i0, i1 - i0));
        ops.linearForward(out, g, w2.value(), null, N, F, D);
        return new Saved_(null, h, null, a, b, g, out, N);
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        Saved_ st = (Saved_) saved;
        int N = st.N();
        float[] dh = backwardNormed(saved, dOut);
        float[] dx = new float[N * D];
        Ops.rmsnormBackward(dx, norm.grad(), dh, st.x(), st.rstd(), norm.w, N, D);
        return dx;
    }

    /** Backward of {@link #forwardNormed}: d loss / d h. */
    @Override
    public float[] backwardNormed(Saved saved, float[] dOut) {
        Saved_ st = (Saved_) saved;
        int N = st.N();
        float[] dg = new float[N * F];
        ops.linearBackward(dg, false, w2.grad(), null, dOut, st.g(), w2.w, N, F, D);
        float[] da = new float[N * F], db = new float[N * F];
        var k = ops.kernels();
        k.parallel().forRange(N * F, 16384, (i0, i1) -> k.swigluBackward(da, db, dg, st.a(), st.b(), i0, i1 - i0));
        float[] dh = new float[N * D];
        ops.linearBackward(dh, false, w1.grad(), null, da, st.h(), w1.w, N, D, F);
        ops.linearBackward(dh, true, w3.grad(), null, db, st.h(), w3.w, N, D, F);
        return dh;
    }

    @Override
    public void step(State state, float[] x, int T, int pos0) {
        float[] h = Scratch.floats(Scratch.Slot.FFN_H, T * D), rstd = Scratch.floats(Scratch.Slot.FFN_RSTD, T);
        ops.rmsnormForward(h, rstd, x, norm.w, T, D, eps);
        stepNormed(h, T, x, true);
    }

    /** Inference on normalized inputs: out (+)= f(h) for T rows. */
    @Override
    public void stepNormed(float[] h, int T, float[] out, boolean accumulate) {
        var k = ops.kernels();
        float[] h1 = Scratch.floats(Scratch.Slot.FFN_GATE, T * F), h3 = Scratch.floats(Scratch.Slot.FFN_UP, T * F);
        k.linear(h, 0, T, D, w1.value(), h1, 0, false);
        k.linear(h, 0, T, D, w3.value(), h3, 0, false);
        for (int t = 0; t < T; t++) k.swiglu(h1, t * F, h3, t * F, F);
        k.linear(h1, 0, T, F, w2.value(), out, 0, accumulate);
    }
}
