package dev.puzzle.core.ops;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.cuda.DeviceOps;
import java.util.List;

/**
 * The linear variant of attention or FFN (Puzzle's "linear replacement"): f(x) = W · rmsnorm(x), W (D, D).
 * PyTorch: x + linear(rmsnorm(x)).
 */
public final class LinearOp implements BlockOp {
    private final Ops ops;
    private final int D;
    private final float eps;
    private final Param norm, w; // norm (D); w (D, D)

    LinearOp(Ops ops, int dim, float eps, Param norm, Param w) {
        this.ops = ops;
        this.D = dim;
        this.eps = eps;
        this.norm = norm;
        this.w = w;
    }

    @Override
    public DeviceBlock device(DeviceOps ops, ModelConfig cfg, int maxSeqs, int T) {
        DeviceBlock.requireTrainable(params());
        return new DeviceBlock.Linear(ops, cfg, params(), maxSeqs, T);
    }

    @Override
    public List<Param> params() {
        return List.of(norm, w);
    }

    private record Saved_(float[] x, float[] h, float[] rstd, float[] out, int N) implements Saved {}

    @Override
    public Saved forward(float[] x, int S, int T) {
        int N = S * T;
        float[] h = new float[N * D], rstd = new float[N], out = new float[N * D];
        ops.rmsnormForward(h, rstd, x, norm.w, N, D, eps);
        ops.linearForward(out, h, w.value(), null, N, D, D);
        return new Saved_(x, h, rstd, out, N);
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        Saved_ st = (Saved_) saved;
        int N = st.N();
        float[] dh = new float[N * D], dx = new float[N * D];
        ops.linearBackward(dh, false, w.grad(), null, dOut, st.h(), w.w, N, D, D);
        Ops.rmsnormBackward(dx, norm.grad(), dh, st.x(), st.rstd(), norm.w, N, D);
        return dx;
    }

    @Override
    public void step(State state, float[] x, int T, int pos0) {
        float[] h = new float[T * D], rstd = new float[T];
        ops.rmsnormForward(h, rstd, x, norm.w, T, D, eps);
        ops.kernels().linear(h, 0, T, D, w.value(), x, 0, true);
    }
}
