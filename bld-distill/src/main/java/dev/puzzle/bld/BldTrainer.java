package dev.puzzle.bld;

import dev.puzzle.core.Notices;
import dev.puzzle.core.ops.DeviceBlock;
import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.Param;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.PartWeights;
import dev.puzzle.core.io.TensorNames;

import java.util.ArrayList;
import java.util.Optional;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Trains one candidate to imitate its parent given the parent's own input activations (Puzzle's BLD):
 * minimize the normalized MSE between the candidate's contribution to the residual stream and the
 * parent's, ‖y − ŷ‖² / ‖y‖², on cached calibration activations. Under the CUDA backend a job whose
 * sub-blocks have device blocks trains wholly on the GPU ({@link DeviceBldTrainer}: same batches, schedule
 * and rules); any other runs here, its large GEMMs sent to the GPU by the backend's kernels.
 */
public final class BldTrainer {
    private BldTrainer() {}

    /**
     * The loss before and after training on all calibration tokens, and the loss of every step.
     * {@code keptInit}: training ended worse than the initialization (as for least-squares-fitted linear
     * replacements, which start at the optimum of this loss), so the initialization was kept.
     */
    public record Curve(double before, double after, double[] steps, boolean keptInit) {}

    public record Result(Map<String, Tensor> weights, Curve curve) {}

    /**
     * The sub-blocks of a job over a (copied) weight map, with input rows x and target contribution y; {@code formats}:
     * the quantized format of each weight of a quantized part (trained through the straight-through estimator).
     */
    record Setup(BlockOp attn, BlockOp ffn, float[] x, float[] y, Map<String, DType> formats) {}

    private static Setup setup(Backend backend, ModelConfig cfg, BldJob job, Map<String, Tensor> w, ActivationCache.Layer a) {
        BlockOps factory = new BlockOps(cfg, w, "candidate " + job.id() + " of layer " + job.layer(), backend);
        // A quantized part trains as its base over FP32 masters, computing with them rounded to its format.
        BlockOp attn = job.attention() == null ? null : factory.attention(job.layer(), job.attention().unquantized());
        BlockOp ffn = job.ffn() == null ? null : factory.ffn(job.layer(), job.ffn().unquantized());
        Map<String, DType> formats = new LinkedHashMap<>();
        DType af = job.attention() == null ? null : job.attention().quantizedWeights(), ff = job.ffn() == null ? null : job.ffn().quantizedWeights();
        w.forEach((name, t) -> {
            DType f = TensorNames.inPart(name, job.layer(), true) ? af : TensorNames.inPart(name, job.layer(), false) ? ff : null;
            if (f != null && PartWeights.quantizedType(name, t, f) != null) formats.put(name, f);
        });
        if (attn != null && attn.identity()) attn = null; // contributes nothing, trains nothing
        if (ffn != null && ffn.identity()) ffn = null;
        float[] x, from, to;
        if (job.attention() != null && job.ffn() != null) {
            x = a.input();
            from = a.input();
            to = a.output();
        } else if (job.attention() != null) {
            x = a.input();
            from = a.input();
            to = a.mid();
        } else {
            x = a.mid();
            from = a.mid();
            to = a.output();
        }
        float[] y = new float[x.length];
        for (int i = 0; i < y.length; i++) y[i] = to[i] - from[i];
        return new Setup(attn, ffn, x, y, formats);
    }

    /** Contribution of the job's sub-blocks; with {@code dOut}, also backpropagates into their gradients. */
    private static float[] run(Setup s, float[] x, int S, int T, float[] target, float[] dOut, double[] loss) {
        BlockOp.Saved sa = s.attn() == null ? null : s.attn().forward(x, S, T);
        float[] aOut = sa == null ? new float[x.length] : sa.out();
        BlockOp.Saved sf = null;
        float[] out = aOut;
        if (s.ffn() != null) {
            float[] m = x;
            if (sa != null) {
                m = x.clone();
                for (int i = 0; i < m.length; i++) m[i] += aOut[i];
            }
            sf = s.ffn().forward(m, S, T);
            out = aOut.clone();
            float[] fo = sf.out();
            for (int i = 0; i < out.length; i++) out[i] += fo[i];
        }
        loss[0] = Losses.normalizedMse(out, target, dOut);
        if (dOut != null) {
            float[] dA = dOut;
            if (sf != null) {
                float[] dm = s.ffn().backward(sf, dOut);
                if (sa != null) {
                    dA = dOut.clone();
                    for (int i = 0; i < dA.length; i++) dA[i] += dm[i];
                }
            }
            if (sa != null) s.attn().backward(sa, dA);
        }
        return out;
    }

    /** The normalized MSE over all calibration rows, in batches of {@code B} sequences. */
    private static double evaluate(Setup s, ActivationCache.Layer a, int B, int D) {
        double num = 0, den = 0;
        int T = a.T();
        for (int s0 = 0; s0 < a.S(); s0 += B) {
            int nb = Math.min(B, a.S() - s0);
            float[] x = slice(s.x(), s0, nb, T, D), y = slice(s.y(), s0, nb, T, D);
            double[] l = new double[1];
            float[] out = run(s, x, nb, T, y, null, l);
            for (int i = 0; i < out.length; i++) {
                double d = out[i] - y[i];
                num += d * d;
                den += (double) y[i] * y[i];
            }
        }
        return num / Math.max(den, 1e-30);
    }

    private static float[] slice(float[] rows, int s0, int nb, int T, int D) {
        float[] out = new float[nb * T * D];
        System.arraycopy(rows, s0 * T * D, out, 0, out.length);
        return out;
    }

    public static Result train(Backend backend, ModelConfig cfg, BldJob job, Map<String, Tensor> init, ActivationCache.Layer a, BldSettings st) {
        Map<String, Tensor> w = new LinkedHashMap<>();
        init.forEach((k, v) -> w.put(k, v.copy()));
        Setup s = setup(backend, cfg, job, w, a);
        Optional<Backend.Gpu> gpu = backend.gpu();
        if (gpu.isPresent() && !s.formats().isEmpty()) {
            Notices.say("distill " + job.key() + ": trained on the host (quantized weights have no device kernels)");
        } else if (gpu.isPresent()) { // the whole job on the GPU where its ops have device twins
            try {
                Curve c = DeviceBldTrainer.train(gpu.get(), cfg, job, s, a, st);
                if (!c.keptInit()) return new Result(w, c);
                Map<String, Tensor> kept = new LinkedHashMap<>();
                init.forEach((k, v) -> kept.put(k, v.copy()));
                return new Result(kept, c);
            } catch (DeviceBlock.Unsupported e) {
                Notices.say("distill " + job.key() + ": trained on the host (" + e.getMessage() + ")");
            }
        }
        int D = cfg.dim(), T = a.T(), B = Math.min(st.batchSequences(), a.S());
        List<Param> params = new ArrayList<>();
        if (s.attn() != null) params.addAll(s.attn().params());
        if (s.ffn() != null) params.addAll(s.ffn().params());
        FakeQuant fq = new FakeQuant(params, s.formats());
        fq.round();
        double before = evaluate(s, a, B, D);
        fq.restore();
        int steps = (int) Math.max(1, st.tokens() / ((long) B * T));
        double[] curve = new double[steps];
        if (!params.isEmpty()) {
            AdamW opt = new AdamW(params, 0.9, 0.95, st.weightDecay());
            Random rnd = new Random(st.seed() * 1_000_003L + job.key().hashCode());
            int[] order = permutation(a.S(), rnd);
            int cursor = 0;
            float[] dOut = new float[B * T * D];
            for (int step = 0; step < steps; step++) {
                float[] x = new float[B * T * D], y = new float[B * T * D];
                for (int b = 0; b < B; b++) {
                    if (cursor == order.length) {
                        order = permutation(a.S(), rnd);
                        cursor = 0;
                    }
                    int seq = order[cursor++];
                    System.arraycopy(s.x(), seq * T * D, x, b * T * D, T * D);
                    System.arraycopy(s.y(), seq * T * D, y, b * T * D, T * D);
                }
                for (Param p : params) p.zeroGrad();
                double[] l = new double[1];
                fq.round();
                run(s, x, B, T, y, dOut, l);
                fq.restore();
                curve[step] = l[0];
                if (!Double.isFinite(l[0])) {
                    throw new Diverged("layer " + job.layer() + " " + job.id() + ": BLD diverged: loss " + l[0] + " at step " + (step + 1) + " of " + steps
                            + " (lr " + st.lr() + ")");
                }
                opt.clip(st.clip());
                opt.step(st.lrAt(step, steps));
                fq.keep();
            }
        }
        fq.round();
        double after = evaluate(s, a, B, D);
        fq.restore(); // the result holds the FP32 masters; the ops that score and realize it quantize them
        if (!Double.isFinite(after)) throw new Diverged("layer " + job.layer() + " " + job.id() + ": BLD diverged: loss " + after + " after training (lr " + st.lr() + ")");
        if (after > before) { // never hand back a candidate worse than it came
            Map<String, Tensor> kept = new LinkedHashMap<>();
            init.forEach((k, v) -> kept.put(k, v.copy()));
            return new Result(kept, new Curve(before, before, curve, true));
        }
        return new Result(w, new Curve(before, after, curve, false));
    }

    static int[] permutation(int n, Random r) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
