package dev.puzzle.core.ops;

import java.util.List;

/**
 * Nemotron-H's MLP of width F: f(x) = down(relu(up h)²), h = rmsnorm(x), no gate.
 * PyTorch: {@code down_proj(torch.relu(up_proj(h)) ** 2)}. Without a norm (null) it is a Nemotron 3 MoE layer's shared
 * expert, reading the layer's normalized input through the *Normed methods.
 */
public final class Relu2MlpOp implements BlockOp, SharedExpert {
    private final Ops ops;
    private final int D, F;
    private final float eps;
    private final Param norm, up, down; // norm (D); up (F, D); down (D, F)

    Relu2MlpOp(Ops ops, int dim, float eps, Param norm, Param up, Param down) {
        this.ops = ops;
        this.D = dim;
        this.eps = eps;
        this.norm = norm;
        this.up = up;
        this.down = down;
        this.F = up.shape[0];
    }

    @Override
    public List<Param> params() {
        return norm == null ? List.of(up, down) : List.of(norm, up, down);
    }

    private record Saved_(float[] x, float[] h, float[] rstd, float[] a, float[] g, float[] out, int N) implements Saved {}

    /** g = relu(a)², elementwise. */
    static void relu2(float[] g, float[] a, int n) {
        for (int i = 0; i < n; i++) {
            float r = Math.max(a[i], 0f);
            g[i] = r * r;
        }
    }

    @Override
    public Saved forward(float[] x, int S, int T) {
        int N = S * T;
        float[] h = new float[N * D], rstd = new float[N];
        ops.rmsnormForward(h, rstd, x, norm.w, N, D, eps);
        Saved_ f = (Saved_) forwardNormed(h, N);
        return new Saved_(x, h, rstd, f.a(), f.g(), f.out(), N);
    }

    @Override
    public Saved forwardNormed(float[] h, int N) {
        float[] a = new float[N * F], g = new float[N * F], out = new float[N * D];
        ops.linearForward(a, h, up.value(), null, N, D, F);
        relu2(g, a, N * F);
        ops.linearForward(out, g, down.value(), null, N, F, D);
        return new Saved_(null, h, null, a, g, out, N);
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        Saved_ st = (Saved_) saved;
        int N = st.N();
        float[] dh = backwardNormed(saved, dOut), dx = new float[N * D];
        Ops.rmsnormBackward(dx, norm.grad(), dh, st.x(), st.rstd(), norm.w, N, D);
        return dx;
    }

    @Override
    public float[] backwardNormed(Saved saved, float[] dOut) {
        Saved_ st = (Saved_) saved;
        int N = st.N();
        float[] dg = new float[N * F];
        ops.linearBackward(dg, false, down.grad(), null, dOut, st.g(), down.w, N, F, D);
        float[] a = st.a();
        for (int i = 0; i < N * F; i++) dg[i] = a[i] > 0 ? 2f * a[i] * dg[i] : 0f; // d relu(a)² / da = 2·relu(a)
        float[] dh = new float[N * D];
        ops.linearBackward(dh, false, up.grad(), null, dg, st.h(), up.w, N, D, F);
        return dh;
    }

    @Override
    public void step(State state, float[] x, int T, int pos0) {
        float[] h = new float[T * D], rstd = new float[T];
        ops.rmsnormForward(h, rstd, x, norm.w, T, D, eps);
        stepNormed(h, T, x, true);
    }

    @Override
    public void stepNormed(float[] h, int T, float[] out, boolean accumulate) {
        var k = ops.kernels();
        float[] a = new float[T * F];
        k.linear(h, 0, T, D, up.value(), a, 0, false);
        relu2(a, a, T * F);
        k.linear(a, 0, T, F, down.value(), out, 0, accumulate);
    }
}
