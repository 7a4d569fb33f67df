package dev.puzzle.core.train;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Tensor;

import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/** An attention or FFN replaced by one linear map: f(x) = W · rmsnorm(x), W (D, D). */
public final class LinearBlock implements SubBlock {
    private final ModelConfig cfg;
    private final Param norm, w;

    /** {@code attention}: the attention's replacement (its norm and linear_attn), else the FFN's. */
    public LinearBlock(ModelConfig cfg, int layer, boolean attention, Map<String, Tensor> weights) {
        this.cfg = cfg;
        String n = layer(layer, attention ? ATTN_NORM : FFN_NORM), m = layer(layer, attention ? ATTN_LINEAR : FFN_LINEAR);
        norm = new Param(n, weights.get(n));
        w = new Param(m, weights.get(m));
    }

    @Override
    public List<Param> params() {
        return List.of(norm, w);
    }

    private record State(float[] x, float[] h, float[] rstd, float[] out, int N) implements Saved {}

    @Override
    public Saved forward(float[] x, int S, int T) {
        int N = S * T, D = cfg.dim();
        float[] h = new float[N * D], rstd = new float[N], out = new float[N * D];
        Ops.rmsnormForward(h, rstd, x, norm.w, N, D, cfg.normEps());
        Ops.linearForward(out, h, w.w, null, N, D, D);
        return new State(x, h, rstd, out, N);
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        State st = (State) saved;
        int N = st.N(), D = cfg.dim();
        float[] dh = new float[N * D], dx = new float[N * D];
        Ops.linearBackward(dh, false, w.g, null, dOut, st.h(), w.w, N, D, D);
        Ops.rmsnormBackward(dx, norm.g, dh, st.x(), st.rstd(), norm.w, N, D);
        return dx;
    }
}
