package dev.puzzle.core.io;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.FfnConfig;

import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * Random weights for any config, under Hugging Face names: Gaussian matrices scaled by 1/√fan-in,
 * norms near 1. For tests, timings and benchmarks — never a model.
 */
public final class RandomWeights {
    private RandomWeights() {}

    public static Checkpoint of(ModelConfig c, long seed) {
        Random r = new Random(seed);
        Map<String, Tensor> t = new LinkedHashMap<>();
        int D = c.dim(), E = c.headDim(), HE = c.qDim(), V = c.vocabSize();
        t.put(EMBED, gauss(r, 0.5, V, D));
        for (int i = 0; i < c.numLayers(); i++) {
            BlockConfig b = c.blocks().get(i);
            int GE = b.attention().kvHeads() * E;
            switch (b.attention().unquantized()) {
                case AttentionConfig.Gqa g -> attention(t, r, i, c, GE);
                case AttentionConfig.Window w -> attention(t, r, i, c, GE);
                case AttentionConfig.Linear l -> {
                    t.put(layer(i, ATTN_NORM), norm(r, D));
                    t.put(layer(i, ATTN_LINEAR), gauss(r, 0.3 / Math.sqrt(D), D, D));
                }
                case AttentionConfig.Mamba2 m -> mamba2(t, r, i, D, m);
                case AttentionConfig.NoOp n -> { }
                case AttentionConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
            }
            if (b.attention().fp8Kv()) { // scales that fit Gaussian K and V rows of these magnitudes (|x| up to ~5)
                float[] ks = new float[b.attention().kvHeads()], vs = new float[ks.length];
                java.util.Arrays.fill(ks, 5f / 448);
                java.util.Arrays.fill(vs, 5f / 448);
                t.put(layer(i, K_SCALE), new Tensor(ks, ks.length));
                t.put(layer(i, V_SCALE), new Tensor(vs, vs.length));
            }
            switch (b.ffn().unquantized()) {
                case FfnConfig.Dense d -> {
                    int F = d.intermediateSize();
                    t.put(layer(i, FFN_NORM), norm(r, D));
                    t.put(layer(i, GATE), gauss(r, 1 / Math.sqrt(D), F, D));
                    t.put(layer(i, UP), gauss(r, 1 / Math.sqrt(D), F, D));
                    t.put(layer(i, DOWN), gauss(r, 1 / Math.sqrt(F), D, F));
                }
                case FfnConfig.Relu2 d -> {
                    int F = d.intermediateSize();
                    t.put(layer(i, FFN_NORM), norm(r, D));
                    t.put(layer(i, UP), gauss(r, 1 / Math.sqrt(D), F, D));
                    t.put(layer(i, DOWN), gauss(r, 1 / Math.sqrt(F), D, F));
                }
                case FfnConfig.Moe m -> {
                    int I = m.expertIntermediate();
                    t.put(layer(i, FFN_NORM), norm(r, D));
                    t.put(layer(i, ROUTER), gauss(r, 1 / Math.sqrt(D), m.numExperts(), D));
                    boolean nemotron = c.extensions().sigmoidExperts() != null; // squared-ReLU experts: no gate
                    for (int e = 0; e < m.numExperts(); e++) {
                        if (!nemotron) t.put(layer(i, expert(e, EXPERT_GATE)), gauss(r, 1 / Math.sqrt(D), I, D));
                        t.put(layer(i, expert(e, EXPERT_UP)), gauss(r, 1 / Math.sqrt(D), I, D));
                        t.put(layer(i, expert(e, EXPERT_DOWN)), gauss(r, 1 / Math.sqrt(I), D, I));
                        if (c.extensions().experts() != null) { // gpt-oss's biases
                            t.put(layer(i, expertBias(e, EXPERT_GATE)), gauss(r, 0.1, I));
                            t.put(layer(i, expertBias(e, EXPERT_UP)), gauss(r, 0.1, I));
                            t.put(layer(i, expertBias(e, EXPERT_DOWN)), gauss(r, 0.1, D));
                        }
                    }
                    if (c.extensions().experts() != null) t.put(layer(i, ROUTER_BIAS), gauss(r, 0.5, m.numExperts()));
                    if (nemotron) t.put(layer(i, ROUTER_CORRECTION), gauss(r, 0.05, m.numExperts()));
                    if (m.sharedIntermediate() > 0) {
                        int SI = m.sharedIntermediate();
                        if (!nemotron) t.put(layer(i, SHARED_GATE), gauss(r, 1 / Math.sqrt(D), SI, D));
                        t.put(layer(i, SHARED_UP), gauss(r, 1 / Math.sqrt(D), SI, D));
                        t.put(layer(i, SHARED_DOWN), gauss(r, 1 / Math.sqrt(SI), D, SI));
                        if (!nemotron) t.put(layer(i, SHARED_EXPERT_GATE), gauss(r, 1 / Math.sqrt(D), 1, D));
                    }
                }
                case FfnConfig.Linear l -> {
                    t.put(layer(i, FFN_NORM), norm(r, D));
                    t.put(layer(i, FFN_LINEAR), gauss(r, 0.3 / Math.sqrt(D), D, D));
                }
                case FfnConfig.NoOp n -> { }
                case FfnConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
            }
            if (b.attention().quantizedWeights() != null) t = PartWeights.quantized(t, i, true, b.attention().quantizedWeights());
            if (b.ffn().quantizedWeights() != null) t = PartWeights.quantized(t, i, false, b.ffn().quantizedWeights());
        }
        t.put(FINAL_NORM, norm(r, D));
        if (!c.tiedEmbeddings()) t.put(LM_HEAD, gauss(r, 1 / Math.sqrt(D), V, D));
        Map<String, DType> types = new LinkedHashMap<>();
        t.forEach((n, x) -> types.put(n, x.dtype()));
        return new Checkpoint(c, t, types, null, "random(seed " + seed + ")");
    }

    private static void attention(Map<String, Tensor> t, Random r, int i, ModelConfig c, int GE) {
        int D = c.dim(), HE = c.qDim(), qkNormDim = c.qkNorm() ? c.headDim() : 0;
        boolean bias = c.qkvBias();
        t.put(layer(i, ATTN_NORM), norm(r, D));
        t.put(layer(i, Q), gauss(r, 1 / Math.sqrt(D), HE, D));
        t.put(layer(i, K), gauss(r, 1 / Math.sqrt(D), GE, D));
        t.put(layer(i, V), gauss(r, 1 / Math.sqrt(D), GE, D));
        t.put(layer(i, O), gauss(r, 1 / Math.sqrt(HE), D, HE));
        if (bias) {
            t.put(layer(i, Q_BIAS), gauss(r, 0.1, HE));
            t.put(layer(i, K_BIAS), gauss(r, 0.1, GE));
            t.put(layer(i, V_BIAS), gauss(r, 0.1, GE));
        }
        if (qkNormDim > 0) {
            t.put(layer(i, Q_NORM), norm(r, qkNormDim));
            t.put(layer(i, K_NORM), norm(r, qkNormDim));
        }
        if (c.extensions().outputBias()) t.put(layer(i, O_BIAS), gauss(r, 0.1, D));
        if (c.extensions().sinks()) t.put(layer(i, SINKS), gauss(r, 1.0, c.numHeads()));
    }

    /** A Mamba-2 mixer: Gaussian projections and conv, dt_bias near softplus⁻¹ of 0.01–0.1, A_log = log(1..H) as Mamba-2 initializes, D 1. */
    private static void mamba2(Map<String, Tensor> t, Random r, int i, int D, AttentionConfig.Mamba2 m) {
        int H = m.heads(), I = m.inner(), C = m.convChannels();
        t.put(layer(i, ATTN_NORM), norm(r, D));
        t.put(layer(i, MAMBA_IN), gauss(r, 1 / Math.sqrt(D), I + C + H, D));
        t.put(layer(i, MAMBA_CONV), gauss(r, 1 / Math.sqrt(m.conv()), C, m.conv()));
        t.put(layer(i, MAMBA_CONV_BIAS), gauss(r, 0.1, C));
        Tensor d = Tensor.zeros(H);
        java.util.Arrays.fill(d.data(), 1f);
        t.put(layer(i, MAMBA_DT_BIAS), new Tensor(dev.puzzle.core.ops.Mamba2Op.initialDtBias(r, H, 0.01, 0.1), H));
        t.put(layer(i, MAMBA_A_LOG), new Tensor(dev.puzzle.core.ops.Mamba2Op.initialALog(H), H));
        t.put(layer(i, MAMBA_D), d);
        t.put(layer(i, MAMBA_NORM), norm(r, I));
        t.put(layer(i, MAMBA_OUT), gauss(r, 1 / Math.sqrt(I), D, I));
    }

    /** A tensor of Gaussian values of standard deviation {@code std}. */
    public static Tensor gauss(Random r, double std, int... shape) {
        Tensor x = Tensor.zeros(shape);
        float[] a = x.data();
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextGaussian() * std);
        return x;
    }

    private static Tensor norm(Random r, int n) {
        Tensor x = Tensor.zeros(n);
        for (int i = 0; i < n; i++) x.data()[i] = (float) (1 + 0.1 * r.nextGaussian());
        return x;
    }
}
