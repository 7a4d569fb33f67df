package dev.puzzle.core.train;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Tensor;

import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/** Trainable SwiGLU FFN of one layer: f(x) = down(silu(gate(h)) · up(h)), h = rmsnorm(x). F = its width. */
public final class FfnBlock implements SubBlock {
    private final ModelConfig cfg;
    private final int F;
    private final Param norm, w1, w3, w2; // norm (D); w1 gate, w3 up (F, D); w2 down (D, F)

    public FfnBlock(ModelConfig cfg, int layer, Map<String, Tensor> weights) {
        this.cfg = cfg;
        norm = new Param(layer(layer, FFN_NORM), weights.get(layer(layer, FFN_NORM)));
        w1 = new Param(layer(layer, GATE), weights.get(layer(layer, GATE)));
        w3 = new Param(layer(layer, UP), weights.get(layer(layer, UP)));
        w2 = new Param(layer(layer, DOWN), weights.get(layer(layer, DOWN)));
        F = w1.shape[0];
    }

    @Override
    public List<Param> params() {
        return List.of(norm, w1, w3, w2);
    }

    private record State(float[] x, float[] h, float[] rstd, float[] a, float[] b, float[] g, float[] out, int N) implements Saved {}

    @Override
    public Saved forward(float[] x, int S, int T) {
        int N = S * T, D = cfg.dim();
        float[] h = new float[N * D], rstd = new float[N];
        Ops.rmsnormForward(h, rstd, x, norm.w, N, D, cfg.normEps());
        float[] a = new float[N * F], b = new float[N * F], g = new float[N * F], out = new float[N * D];
        Ops.linearForward(a, h, w1.w, null, N, D, F);
        Ops.linearForward(b, h, w3.w, null, N, D, F);
        Ops.swigluForward(g, a, b, N * F);
        Ops.linearForward(out, g, w2.w, null, N, F, D);
        return new State(x, h, rstd, a, b, g, out, N);
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        State st = (State) saved;
        int N = st.N(), D = cfg.dim();
        float[] dg = new float[N * F];
        Ops.linearBackward(dg, false, w2.g, null, dOut, st.g(), w2.w, N, F, D);
        float[] da = new float[N * F], db = new float[N * F];
        Ops.swigluBackward(da, db, dg, st.a(), st.b(), N * F);
        float[] dh = new float[N * D];
        Ops.linearBackward(dh, false, w1.g, null, da, st.h(), w1.w, N, D, F);
        Ops.linearBackward(dh, true, w3.g, null, db, st.h(), w3.w, N, D, F);
        float[] dx = new float[N * D];
        Ops.rmsnormBackward(dx, norm.g, dh, st.x(), st.rstd(), norm.w, N, D);
        return dx;
    }
}
