package dev.puzzle.core.io;

/** The Hugging Face tensor names this toolkit uses internally and writes; every reader maps its own names to these. */
public final class TensorNames {
    private TensorNames() {}

    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    public static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }

    public static final String ATTN_NORM = "input_layernorm.weight";
    public static final String FFN_NORM = "post_attention_layernorm.weight";
    public static final String Q = "self_attn.q_proj.weight";
    public static final String K = "self_attn.k_proj.weight";
    public static final String V = "self_attn.v_proj.weight";
    public static final String O = "self_attn.o_proj.weight";
    public static final String Q_BIAS = "self_attn.q_proj.bias";
    public static final String K_BIAS = "self_attn.k_proj.bias";
    public static final String V_BIAS = "self_attn.v_proj.bias";
    /** gpt-oss: the o_proj bias (D) and one sink logit per query head (H). */
    public static final String O_BIAS = "self_attn.o_proj.bias";
    public static final String SINKS = "self_attn.sinks";
    public static final String Q_NORM = "self_attn.q_norm.weight";
    public static final String K_NORM = "self_attn.k_norm.weight";
    /** FP8 KV cache scales, one per KV head (vLLM's names). */
    public static final String K_SCALE = "self_attn.k_scale";
    public static final String V_SCALE = "self_attn.v_scale";
    public static final String ATTN_LINEAR = "self_attn.linear_attn.weight";
    /** A Mamba-2 mixer in the attention's place (Nemotron-H's mixer names under self_attn.; the conv weight (C, K)). */
    public static final String MAMBA_IN = "self_attn.in_proj.weight", MAMBA_CONV = "self_attn.conv1d.weight", MAMBA_CONV_BIAS = "self_attn.conv1d.bias",
            MAMBA_DT_BIAS = "self_attn.dt_bias", MAMBA_A_LOG = "self_attn.A_log", MAMBA_D = "self_attn.D", MAMBA_NORM = "self_attn.norm.weight",
            MAMBA_OUT = "self_attn.out_proj.weight";
    public static final String GATE = "mlp.gate_proj.weight";
    public static final String UP = "mlp.up_proj.weight";
    public static final String DOWN = "mlp.down_proj.weight";
    public static final String FFN_LINEAR = "mlp.linear_mlp.weight";

    // Mixture of experts (Qwen2-MoE's names; Mixtral's block_sparse_moe.* are mapped to these on read).
    public static final String ROUTER = "mlp.gate.weight";
    public static final String SHARED_GATE = "mlp.shared_expert.gate_proj.weight";
    public static final String SHARED_UP = "mlp.shared_expert.up_proj.weight";
    public static final String SHARED_DOWN = "mlp.shared_expert.down_proj.weight";
    public static final String SHARED_EXPERT_GATE = "mlp.shared_expert_gate.weight";

    /** Expert {@code e}'s projection {@code proj} (gate_proj, up_proj or down_proj). */
    public static String expert(int e, String proj) {
        return "mlp.experts." + e + "." + proj + ".weight";
    }

    /** gpt-oss: expert {@code e}'s projection bias, and the router's bias (E). */
    public static String expertBias(int e, String proj) {
        return "mlp.experts." + e + "." + proj + ".bias";
    }

    public static final String ROUTER_BIAS = "mlp.gate.bias";

    /** Nemotron 3: the router's selection bias (E), added to the sigmoid scores for the choice of experts only. */
    public static final String ROUTER_CORRECTION = "mlp.gate.e_score_correction_bias";

    public static final String EXPERT_GATE = "gate_proj", EXPERT_UP = "up_proj", EXPERT_DOWN = "down_proj";

    /**
     * Whether a weight may be stored in a quantized dtype: the matrices of the layers (projections, linear
     * maps, experts), not embeddings, classifier, norms, routers or KV scales — as llama.cpp quantizes.
     */
    public static boolean quantizable(String name) {
        return name.startsWith("model.layers.") && name.endsWith("_proj.weight") || name.endsWith(ATTN_LINEAR) || name.endsWith(FFN_LINEAR);
    }

    /** Whether {@code name} belongs to layer l's attention part (its norm, self_attn.*) or, {@code attention} false, its FFN part (its norm, mlp.*). */
    public static boolean inPart(String name, int l, boolean attention) {
        return name.equals(layer(l, attention ? ATTN_NORM : FFN_NORM)) || name.startsWith(layer(l, attention ? "self_attn." : "mlp."));
    }
}
