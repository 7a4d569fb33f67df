package dev.puzzle.core.ops;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;

import java.util.Arrays;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * The one factory of block ops: from a variant config and a layer's tensors (Hugging Face names,
 * shape-checked) to its {@link BlockOp}. The switches are exhaustive over the sealed variant types,
 * so a new variant does not compile until it is built here. The ops share the tensors of
 * {@code weights} (training updates them in place).
 *
 * @param cfg     the model's shape
 * @param weights tensors by Hugging Face name
 * @param source  where the tensors came from, for error messages
 * @param ops     the backend's forward/backward primitives
 */
public record BlockOps(ModelConfig cfg, Map<String, Tensor> weights, String source, Ops ops) {

    public BlockOps(ModelConfig cfg, Map<String, Tensor> weights, String source, Backend backend) {
        this(cfg, weights, source, new Ops(backend.kernels()));
    }

    /** The attention op and the FFN op of one layer. */
    public record Layer(BlockOp attention, BlockOp ffn) {}

    public Layer layer(int l, BlockConfig b) {
        return new Layer(attention(l, b.attention()), ffn(l, b.ffn()));
    }

    public BlockOp attention(int l, AttentionConfig a) {
        return switch (a) {
            case AttentionConfig.Gqa g -> gqa(l, g.numKvHeads(), 0, g.fp8Kv());
            case AttentionConfig.Window w -> gqa(l, w.numKvHeads(), w.window(), w.fp8Kv());
            case AttentionConfig.Linear x -> new LinearOp(ops, cfg.dim(), cfg.normEps(),
                    param(l, ATTN_NORM, cfg.dim()), param(l, ATTN_LINEAR, cfg.dim(), cfg.dim()));
            case AttentionConfig.Mamba2 m -> mamba2(l, m);
            case AttentionConfig.NoOp n -> NoOp.INSTANCE;
            case AttentionConfig.Quantized q -> quantized(l, true, q.weights()).attention(l, q.base());
        };
    }

    public BlockOp ffn(int l, FfnConfig f) {
        int D = cfg.dim();
        return switch (f) {
            case FfnConfig.Dense d -> {
                int F = d.intermediateSize();
                yield new SwiGluOp(ops, D, cfg.normEps(), param(l, FFN_NORM, D), param(l, GATE, F, D), param(l, UP, F, D), param(l, DOWN, D, F));
            }
            case FfnConfig.Relu2 r -> {
                int F = r.intermediateSize();
                yield new Relu2MlpOp(ops, D, cfg.normEps(), param(l, FFN_NORM, D), param(l, UP, F, D), param(l, DOWN, D, F));
            }
            case FfnConfig.Moe m -> moe(l, m);
            case FfnConfig.Linear x -> new LinearOp(ops, D, cfg.normEps(), param(l, FFN_NORM, D), param(l, FFN_LINEAR, D, D));
            case FfnConfig.NoOp n -> NoOp.INSTANCE;
            case FfnConfig.Quantized q -> quantized(l, false, q.weights()).ffn(l, q.base());
        };
    }

    /**
     * This factory over weights with layer l's attention or FFN part in {@code format} (quantized now where not stored
     * so): the op of a quantized part computes as its base with those weights, and is not trainable (BLD trains a quantized
     * candidate's base through the straight-through estimator).
     */
    private BlockOps quantized(int l, boolean attention, dev.puzzle.core.tensor.DType format) {
        return new BlockOps(cfg, dev.puzzle.core.io.PartWeights.quantized(weights, l, attention, format), source, ops);
    }

    /** The MoE op of layer l, typed: expert scoring and routing statistics read its router. */
    public MoeOp moe(int l, FfnConfig.Moe m) {
        int D = cfg.dim(), E = m.numExperts(), I = m.expertIntermediate();
        Param norm = param(l, FFN_NORM, D), router = param(l, ROUTER, E, D);
        var nemotron = cfg.extensions().sigmoidExperts(); // squared-ReLU experts: no gate projection
        Param[] w1 = nemotron != null ? null : new Param[E], w3 = new Param[E], w2 = new Param[E];
        for (int e = 0; e < E; e++) {
            if (w1 != null) w1[e] = param(l, expert(e, EXPERT_GATE), I, D);
            w3[e] = param(l, expert(e, EXPERT_UP), I, D);
            w2[e] = param(l, expert(e, EXPERT_DOWN), D, I);
        }
        String extra = dev.puzzle.core.io.TensorNames.layer(l, expert(E, EXPERT_UP));
        if (weights.containsKey(extra)) {
            throw new PuzzleException(source + ": tensor '" + extra + "' is beyond the layer's " + E + " experts (router rows and experts must match)");
        }
        SharedExpert shared = null;
        Param sharedGate = null;
        if (m.sharedIntermediate() > 0) {
            int SI = m.sharedIntermediate();
            if (nemotron != null) {
                shared = new Relu2MlpOp(ops, D, cfg.normEps(), null, param(l, SHARED_UP, SI, D), param(l, SHARED_DOWN, D, SI));
            } else {
                shared = new SwiGluOp(ops, D, cfg.normEps(), null, param(l, SHARED_GATE, SI, D), param(l, SHARED_UP, SI, D), param(l, SHARED_DOWN, D, SI));
                sharedGate = param(l, SHARED_EXPERT_GATE, 1, D);
            }
        }
        var clamp = cfg.extensions().experts();
        MoeOp.Biases biases = null;
        if (clamp != null) {
            Param[] b1 = new Param[E], b3 = new Param[E], b2 = new Param[E];
            for (int e = 0; e < E; e++) {
                b1[e] = param(l, expertBias(e, EXPERT_GATE), I);
                b3[e] = param(l, expertBias(e, EXPERT_UP), I);
                b2[e] = param(l, expertBias(e, EXPERT_DOWN), D);
            }
            biases = new MoeOp.Biases(param(l, ROUTER_BIAS, E), b1, b3, b2);
        }
        MoeOp.Sigmoid sigmoid = nemotron == null ? null : new MoeOp.Sigmoid(param(l, ROUTER_CORRECTION, E), nemotron.scale());
        return new MoeOp(ops, D, cfg.normEps(), m, norm, router, w1, w3, w2, shared, sharedGate, biases, clamp, sigmoid);
    }

    /** The Mamba-2 mixer of layer l in the attention's place, typed: head pruning scores its heads. */
    public Mamba2Op mamba2(int l, AttentionConfig.Mamba2 m) {
        int D = cfg.dim(), H = m.heads(), I = m.inner(), C = m.convChannels();
        return new Mamba2Op(ops, new Mamba2Op.Shape(D, H, m.headDim(), m.state(), m.groups(), m.conv(), cfg.normEps()),
                new Mamba2Op.Weights(param(l, ATTN_NORM, D), param(l, MAMBA_IN, I + C + H, D), param(l, MAMBA_CONV, C, m.conv()), param(l, MAMBA_CONV_BIAS, C),
                        param(l, MAMBA_DT_BIAS, H), param(l, MAMBA_A_LOG, H), param(l, MAMBA_D, H), param(l, MAMBA_NORM, I), param(l, MAMBA_OUT, D, I)));
    }

    private BlockOp gqa(int l, int G, int window, boolean fp8Kv) {
        int D = cfg.dim(), E = cfg.headDim(), HE = cfg.qDim(), GE = G * E;
        Param bq = null, bk = null, bv = null;
        if (cfg.qkvBias()) {
            bq = param(l, Q_BIAS, HE);
            bk = param(l, K_BIAS, GE);
            bv = param(l, V_BIAS, GE);
        }
        boolean qk = cfg.qkNorm();
        var ext = cfg.extensions();
        return new GqaAttentionOp(ops, new GqaAttentionOp.Shape(D, cfg.numHeads(), G, E, window, cfg.normEps(), cfg.ropeFrequencies(), cfg.ropeStyle()),
                new GqaAttentionOp.Weights(param(l, ATTN_NORM, D), param(l, Q, HE, D), param(l, K, GE, D), param(l, V, GE, D), param(l, O, D, HE), bq, bk, bv,
                        qk ? param(l, Q_NORM, E) : null, qk ? param(l, K_NORM, E) : null,
                        fp8Kv ? scales(l, K_SCALE, G) : null, fp8Kv ? scales(l, V_SCALE, G) : null,
                        ext.sinks() ? param(l, SINKS, cfg.numHeads()) : null, ext.outputBias() ? param(l, O_BIAS, D) : null));
    }

    /** An FP8 KV cache's per-KV-head scales: G positive finite values. */
    private float[] scales(int l, String suffix, int G) {
        float[] s = param(l, suffix, G).value().data();
        for (int g = 0; g < G; g++) {
            if (!(s[g] > 0) || Float.isInfinite(s[g])) {
                throw new PuzzleException(source + ": tensor '" + dev.puzzle.core.io.TensorNames.layer(l, suffix) + "' [" + g + "] = " + s[g]
                        + ": an FP8 KV scale must be positive and finite");
            }
        }
        return s;
    }

    private Param param(int l, String suffix, int... shape) {
        String name = dev.puzzle.core.io.TensorNames.layer(l, suffix);
        Tensor t = weights.get(name);
        if (t == null) throw new PuzzleException(source + ": missing tensor '" + name + "'");
        if (!Arrays.equals(t.shape(), shape)) {
            throw new PuzzleException(source + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(shape));
        }
        return new Param(name, t);
    }
}
