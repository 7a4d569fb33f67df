package dev.puzzle.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Hugging Face {@code config.json} ↔ {@link ModelConfig}: the one place HF field names meet Java names.
 * Reads LlamaForCausalLM, MistralForCausalLM (sliding_window), Qwen2ForCausalLM (q/k/v bias), the
 * mixtures of experts MixtralForCausalLM, Qwen2MoeForCausalLM (shared expert, mlp_only_layers) and
 * Qwen3MoeForCausalLM (per-head q/k norms; also {@code qk_norm: true} on any layout, this toolkit's field) and the
 * heterogeneous DeciLMForCausalLM layout of Puzzle's published models, whose per-layer
 * {@code block_configs} carry {@code attention: {n_heads_in_group, no_op, replace_with_linear,
 * window_length}} and {@code ffn: {ffn_mult, no_op, replace_with_linear, moe: {num_local_experts,
 * num_experts_per_tok, expert_intermediate_dim}}}; this toolkit adds exact
 * {@code num_key_value_heads} and {@code intermediate_size} so any shape round-trips.
 */
public final class HfConfig {
    private HfConfig() {}

    public static final String MIXTRAL = "MixtralForCausalLM", QWEN2_MOE = "Qwen2MoeForCausalLM", QWEN3_MOE = "Qwen3MoeForCausalLM";
    public static final Set<String> ARCHITECTURES = Set.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "DeciLMForCausalLM",
            MIXTRAL, QWEN2_MOE, QWEN3_MOE);
    private static final ObjectMapper JSON = new ObjectMapper();

    public static ModelConfig read(Path file) {
        JsonNode root = dev.puzzle.core.config.Json.readObject(file, "a Hugging Face config.json");
        JsonNode archs = root.path("architectures");
        String arch = archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : null;
        if (arch == null || !ARCHITECTURES.contains(arch)) {
            throw PuzzleException.field(file, "architectures", archs.isMissingNode() ? "(missing)" : archs.toString(),
                    "unsupported architecture (supported: " + String.join(", ", new java.util.TreeSet<>(ARCHITECTURES)) + ")");
        }
        String act = root.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw PuzzleException.field(file, "hidden_act", act, "only silu (SwiGLU) is supported");
        JsonNode scaling = root.path("rope_scaling");
        if (!scaling.isMissingNode() && !scaling.isNull()) throw PuzzleException.field(file, "rope_scaling", scaling, "RoPE scaling is not supported yet");
        int dim = posInt(file, root, "hidden_size");
        int layers = posInt(file, root, "num_hidden_layers");
        int heads = posInt(file, root, "num_attention_heads");
        int kvHeads = root.has("num_key_value_heads") && !root.get("num_key_value_heads").isNull() ? posInt(file, root, "num_key_value_heads") : heads;
        int headDim = root.has("head_dim") && !root.get("head_dim").isNull() ? posInt(file, root, "head_dim") : dim / heads;
        if (!root.has("head_dim") && dim % heads != 0) throw PuzzleException.field(file, "num_attention_heads", heads, "does not divide hidden_size " + dim);
        if (heads % kvHeads != 0) throw PuzzleException.field(file, "num_key_value_heads", kvHeads, "does not divide num_attention_heads " + heads);
        int inter = root.has("intermediate_size") && !root.get("intermediate_size").isNull() ? posInt(file, root, "intermediate_size") : 0;
        int vocab = posInt(file, root, "vocab_size");
        int ctx = root.has("max_position_embeddings") ? posInt(file, root, "max_position_embeddings") : 2048;
        float eps = (float) root.path("rms_norm_eps").asDouble(1e-6);
        float theta = (float) root.path("rope_theta").asDouble(10000.0);
        boolean tied = root.path("tie_word_embeddings").asBoolean(false);
        boolean bias = arch.equals("Qwen2ForCausalLM") || arch.equals(QWEN2_MOE) || root.path("attention_bias").asBoolean(false);
        int window = 0;
        JsonNode sw = root.path("sliding_window");
        boolean useSw = arch.equals("MistralForCausalLM") || arch.equals(MIXTRAL) || root.path("use_sliding_window").asBoolean(false);
        if (useSw && sw.canConvertToInt() && sw.asInt() > 0 && sw.asInt() < ctx) window = sw.asInt();
        List<BlockConfig> blocks = new ArrayList<>();
        if (arch.equals("DeciLMForCausalLM")) {
            JsonNode bc = root.path("block_configs");
            if (!bc.isArray() || bc.size() != layers) {
                throw PuzzleException.field(file, "block_configs", bc.isArray() ? bc.size() + " entries" : "(missing)", "needs one entry per layer (" + layers + ")");
            }
            for (int i = 0; i < layers; i++) blocks.add(block(file, bc.get(i), i, dim, heads, kvHeads));
            if (inter == 0) {
                inter = blocks.stream().mapToInt(b -> b.ffn().denseWidth()).max().orElse(0);
                if (inter == 0) inter = 4 * dim;
            }
        } else if (arch.equals(MIXTRAL) || arch.equals(QWEN2_MOE) || arch.equals(QWEN3_MOE)) {
            AttentionConfig a = window > 0 ? new AttentionConfig.Window(kvHeads, window) : new AttentionConfig.Gqa(kvHeads);
            boolean mixtral = arch.equals(MIXTRAL);
            String expertsKey = mixtral ? "num_local_experts" : "num_experts";
            int experts = posInt(file, root, expertsKey);
            int topK = posInt(file, root, "num_experts_per_tok");
            if (topK > experts) throw PuzzleException.field(file, "num_experts_per_tok", topK, "exceeds " + expertsKey + " " + experts);
            int width = mixtral ? posInt(file, root, "intermediate_size") : posInt(file, root, "moe_intermediate_size");
            int sharedWidth = mixtral ? 0 : root.path("shared_expert_intermediate_size").asInt(0);
            if (sharedWidth < 0) throw PuzzleException.field(file, "shared_expert_intermediate_size", sharedWidth, "must be >= 0");
            boolean norm = mixtral || root.path("norm_topk_prob").asBoolean(false);
            FfnConfig.Moe moe = new FfnConfig.Moe(experts, topK, width, norm, sharedWidth);
            int step = mixtral ? 1 : root.path("decoder_sparse_step").asInt(1);
            if (step < 1) throw PuzzleException.field(file, "decoder_sparse_step", step, "must be >= 1");
            Set<Integer> dense = new java.util.HashSet<>();
            root.path("mlp_only_layers").forEach(n -> dense.add(n.asInt()));
            for (int i = 0; i < layers; i++) {
                boolean sparse = !dense.contains(i) && (i + 1) % step == 0;
                if (!sparse && inter == 0) throw PuzzleException.field(file, "intermediate_size", "(missing)", "required by the dense layer " + i);
                blocks.add(new BlockConfig(a, sparse ? moe : new FfnConfig.Dense(inter)));
            }
            if (inter == 0) inter = width;
        } else {
            if (inter == 0) throw PuzzleException.field(file, "intermediate_size", "(missing)", "required");
            AttentionConfig a = window > 0 ? new AttentionConfig.Window(kvHeads, window) : new AttentionConfig.Gqa(kvHeads);
            for (int i = 0; i < layers; i++) blocks.add(new BlockConfig(a, new FfnConfig.Dense(inter)));
        }
        try {
            boolean qkNorm = arch.equals(QWEN3_MOE) || root.path("qk_norm").asBoolean(false);
            return new ModelConfig(arch, dim, heads, headDim, kvHeads, inter, vocab, ctx, eps, theta, RopeStyle.HALF_SPLIT, tied, bias, blocks, qkNorm);
        } catch (IllegalArgumentException e) {
            throw new PuzzleException(file + ": " + e.getMessage());
        }
    }

    private static BlockConfig block(Path file, JsonNode b, int i, int dim, int heads, int parentKv) {
        String at = "block_configs[" + i + "].attention";
        String ft = "block_configs[" + i + "].ffn";
        JsonNode a = b.path("attention"), f = b.path("ffn");
        AttentionConfig attn;
        if ((a.path("no_op").asBoolean(false) || a.path("replace_with_linear").asBoolean(false)) && fp8KvCache(file, a, at)) {
            throw PuzzleException.field(file, at + ".kv_cache_dtype", a.get("kv_cache_dtype"), "an FP8 KV cache needs attention with a KV cache, not "
                    + (a.path("no_op").asBoolean(false) ? "no_op" : "replace_with_linear"));
        }
        if (a.path("no_op").asBoolean(false)) {
            attn = new AttentionConfig.NoOp();
        } else if (a.path("replace_with_linear").asBoolean(false)) {
            attn = new AttentionConfig.Linear();
        } else {
            int kv;
            if (a.has("num_key_value_heads")) {
                kv = a.get("num_key_value_heads").asInt();
            } else if (a.has("n_heads_in_group") && !a.get("n_heads_in_group").isNull()) {
                int g = a.get("n_heads_in_group").asInt();
                if (g <= 0 || heads % g != 0) throw PuzzleException.field(file, at + ".n_heads_in_group", g, "must divide num_attention_heads " + heads);
                kv = heads / g;
            } else {
                kv = parentKv;
            }
            if (kv <= 0 || heads % kv != 0) throw PuzzleException.field(file, at + ".num_key_value_heads", kv, "must divide num_attention_heads " + heads);
            JsonNode w = a.path("window_length");
            attn = w.canConvertToInt() && w.asInt() > 0 ? new AttentionConfig.Window(kv, w.asInt()) : new AttentionConfig.Gqa(kv);
            if (fp8KvCache(file, a, at)) attn = attn.withFp8Kv();
        }
        DType aw = weightsDtype(file, a, at);
        if (aw != null) attn = attn.withWeights(aw);
        FfnConfig ffn;
        if (f.path("no_op").asBoolean(false)) {
            ffn = new FfnConfig.NoOp();
        } else if (f.path("replace_with_linear").asBoolean(false)) {
            ffn = new FfnConfig.Linear();
        } else if (f.path("moe").isObject()) {
            JsonNode m = f.get("moe");
            int experts = m.path("num_local_experts").asInt(0), topK = m.path("num_experts_per_tok").asInt(0), width = m.path("expert_intermediate_dim").asInt(0);
            if (experts <= 0) throw PuzzleException.field(file, ft + ".moe.num_local_experts", m.path("num_local_experts"), "must be a positive integer");
            if (topK <= 0 || topK > experts) throw PuzzleException.field(file, ft + ".moe.num_experts_per_tok", m.path("num_experts_per_tok"), "must be in [1, num_local_experts " + experts + "]");
            if (width <= 0) throw PuzzleException.field(file, ft + ".moe.expert_intermediate_dim", m.path("expert_intermediate_dim"), "must be a positive integer");
            int shared = m.path("shared_expert_intermediate_dim").asInt(0);
            if (shared < 0) throw PuzzleException.field(file, ft + ".moe.shared_expert_intermediate_dim", shared, "must be >= 0");
            ffn = new FfnConfig.Moe(experts, topK, width, m.path("norm_topk_prob").asBoolean(true), shared);
        } else if (f.has("intermediate_size")) {
            int n = f.get("intermediate_size").asInt();
            if (n <= 0) throw PuzzleException.field(file, ft + ".intermediate_size", n, "must be positive");
            ffn = new FfnConfig.Dense(n);
        } else if (f.has("ffn_mult")) {
            double mult = f.get("ffn_mult").asDouble();
            if (!(mult > 0)) throw PuzzleException.field(file, ft + ".ffn_mult", mult, "must be positive");
            ffn = new FfnConfig.Dense(deciIntermediate(mult, dim));
        } else {
            throw PuzzleException.field(file, ft, f, "needs no_op, replace_with_linear, intermediate_size or ffn_mult");
        }
        DType fw = weightsDtype(file, f, ft);
        if (fw != null) ffn = ffn.withWeights(fw);
        return new BlockConfig(attn, ffn);
    }

    /** Whether a block's attention asks for an FP8 cache: kv_cache_dtype fp8_e4m3 (fp8 too); absent, null or auto: the model's dtype. */
    private static boolean fp8KvCache(Path file, JsonNode a, String at) {
        JsonNode d = a.path("kv_cache_dtype");
        if (d.isMissingNode() || d.isNull()) return false;
        String s = d.asText();
        if (s.equals("fp8_e4m3") || s.equals("fp8")) return true;
        if (s.equals("auto")) return false;
        throw PuzzleException.field(file, at + ".kv_cache_dtype", d, "must be fp8_e4m3, auto or null");
    }

    /** DeciLM's width rule: find_multiple(int(2 * ffn_mult * hidden_size / 3), 256). */
    public static int deciIntermediate(double ffnMult, int dim) {
        int n = (int) (2 * ffnMult * dim / 3);
        return (n + 255) / 256 * 256;
    }

    private static int posInt(Path file, JsonNode root, String key) {
        JsonNode v = root.get(key);
        if (v == null || !v.canConvertToInt() || v.asInt() <= 0) {
            throw PuzzleException.field(file, key, v == null ? "(missing)" : v.toString(), "must be a positive integer");
        }
        return v.asInt();
    }

    /**
     * The config.json of a model. A uniform parent keeps its own architecture (or Llama), so stock
     * Hugging Face code loads it; anything heterogeneous is written as DeciLM with block_configs.
     */
    public static ObjectNode toJson(ModelConfig c) {
        if (c.ropeStyle() != RopeStyle.HALF_SPLIT) throw new IllegalArgumentException("HF configs describe half-split RoPE; permute q/k first (Checkpoints.toHalfSplit)");
        ObjectNode o = JSON.createObjectNode();
        boolean uniform = c.isUniformParent();
        AttentionConfig a0 = c.blocks().get(0).attention();
        boolean uniformWindow = !uniform && a0.window() > 0 && a0.kvHeads() == c.numKvHeads() && !a0.fp8Kv()
                && c.blocks().stream().allMatch(b -> b.equals(new BlockConfig(a0, new FfnConfig.Dense(c.intermediateSize()))));
        String arch;
        FfnConfig.Moe moe = moeParent(c);
        if (moe != null) {
            arch = c.architecture();
        } else if (uniform) {
            arch = c.qkvBias() ? "Qwen2ForCausalLM" : c.architecture().equals("DeciLMForCausalLM") ? "LlamaForCausalLM" : c.architecture();
        } else if (uniformWindow && !c.qkvBias()) {
            arch = "MistralForCausalLM";
        } else {
            arch = "DeciLMForCausalLM";
        }
        o.putArray("architectures").add(arch);
        o.put("model_type", switch (arch) {
            case "MistralForCausalLM" -> "mistral";
            case "Qwen2ForCausalLM" -> "qwen2";
            case "DeciLMForCausalLM" -> "nemotron-nas";
            case MIXTRAL -> "mixtral";
            case QWEN2_MOE -> "qwen2_moe";
            case QWEN3_MOE -> "qwen3_moe";
            default -> "llama";
        });
        o.put("hidden_size", c.dim());
        o.put("num_hidden_layers", c.numLayers());
        o.put("num_attention_heads", c.numHeads());
        o.put("num_key_value_heads", c.numKvHeads());
        o.put("head_dim", c.headDim());
        o.put("intermediate_size", c.intermediateSize());
        o.put("vocab_size", c.vocabSize());
        o.put("max_position_embeddings", c.maxSeqLen());
        o.put("rms_norm_eps", c.normEps());
        o.put("rope_theta", c.ropeTheta());
        o.put("tie_word_embeddings", c.tiedEmbeddings());
        o.put("hidden_act", "silu");
        o.putNull("rope_scaling");
        if (c.qkvBias() && !arch.equals("Qwen2ForCausalLM") && !arch.equals(QWEN2_MOE)) o.put("attention_bias", true);
        if (c.qkNorm() && !arch.equals(QWEN3_MOE)) o.put("qk_norm", true); // this toolkit's own field (DeciLM has no q/k norms)
        if (moe != null && arch.equals(MIXTRAL)) {
            o.put("num_local_experts", moe.numExperts());
            o.put("num_experts_per_tok", moe.topK());
            o.put("intermediate_size", moe.expertIntermediate());
        } else if (moe != null) {
            o.put("num_experts", moe.numExperts());
            o.put("num_experts_per_tok", moe.topK());
            o.put("moe_intermediate_size", moe.expertIntermediate());
            o.put("shared_expert_intermediate_size", moe.sharedIntermediate());
            o.put("norm_topk_prob", moe.normTopK());
            o.put("decoder_sparse_step", 1);
            ArrayNode dense = o.putArray("mlp_only_layers");
            for (int i = 0; i < c.numLayers(); i++) if (c.blocks().get(i).ffn().numExperts() == 0) dense.add(i);
        }
        if (moe != null && a0.window() > 0) {
            o.put("sliding_window", a0.window());
            if (arch.equals(QWEN2_MOE)) o.put("use_sliding_window", true);
        }
        o.put("torch_dtype", "float32");
        if (uniformWindow && arch.equals("MistralForCausalLM")) {
            o.put("sliding_window", a0.window());
        }
        if (arch.equals("DeciLMForCausalLM")) {
            ArrayNode bcs = o.putArray("block_configs");
            for (BlockConfig b : c.blocks()) {
                ObjectNode bn = bcs.addObject();
                attentionJson(bn.putObject("attention"), b.attention(), c);
                ffnJson(bn.putObject("ffn"), b.ffn(), c);
            }
        }
        return o;
    }

    /** A DeciLM block_configs attention entry: {no_op, replace_with_linear, n_heads_in_group, num_key_value_heads, window_length, kv_cache_dtype}. */
    private static void attentionJson(ObjectNode a, AttentionConfig at, ModelConfig c) {
        switch (at) {
            case AttentionConfig.Gqa g -> kvHeadsJson(flags(a, false, false), g.numKvHeads(), c).putNull("window_length");
            case AttentionConfig.Window w -> kvHeadsJson(flags(a, false, false), w.numKvHeads(), c).put("window_length", w.window());
            case AttentionConfig.Linear l -> flags(a, false, true).putNull("n_heads_in_group").putNull("window_length");
            case AttentionConfig.NoOp n -> flags(a, true, false).putNull("n_heads_in_group").putNull("window_length");
            case AttentionConfig.Quantized q -> {
                attentionJson(a, q.base(), c);
                a.put(WEIGHTS_DTYPE, q.weights().configName());
            }
        }
        if (at.fp8Kv()) a.put("kv_cache_dtype", "fp8_e4m3");
    }

    /**
     * This toolkit's own block_configs field: the quantized format a sub-block's weight matrices are stored in
     * (the tensors carry it too; the field makes a child's choice readable and costed without opening them).
     */
    static final String WEIGHTS_DTYPE = "weights_dtype";

    /** A block_configs entry's {@code weights_dtype}: null when absent or an element type, else a quantized dtype. */
    private static DType weightsDtype(Path file, JsonNode part, String at) {
        JsonNode d = part.path(WEIGHTS_DTYPE);
        if (d.isMissingNode() || d.isNull()) return null;
        DType t = DType.fromName(d.asText());
        if (t == null) throw PuzzleException.field(file, at + "." + WEIGHTS_DTYPE, d, "must be one of " + DType.names());
        if (t.isQuantized() && (part.path("no_op").asBoolean(false))) throw PuzzleException.field(file, at + "." + WEIGHTS_DTYPE, d, "a no_op part has no weights");
        return t.isQuantized() ? t : null;
    }

    private static ObjectNode kvHeadsJson(ObjectNode a, int kv, ModelConfig c) {
        return a.put("n_heads_in_group", c.numHeads() / kv).put("num_key_value_heads", kv);
    }

    /** A DeciLM block_configs FFN entry: {no_op, replace_with_linear, ffn_mult, intermediate_size | moe}. */
    private static void ffnJson(ObjectNode f, FfnConfig ft, ModelConfig c) {
        switch (ft) {
            case FfnConfig.Dense d -> flags(f, false, false).put("ffn_mult", Math.round(d.intermediateSize() * 3.0 / (2.0 * c.dim()) * 1e6) / 1e6)
                    .put("intermediate_size", d.intermediateSize());
            case FfnConfig.Moe m -> flags(f, false, false).putNull("ffn_mult").putObject("moe")
                    .put("num_local_experts", m.numExperts())
                    .put("num_experts_per_tok", m.topK())
                    .put("expert_intermediate_dim", m.expertIntermediate())
                    .put("norm_topk_prob", m.normTopK())
                    .put("shared_expert_intermediate_dim", m.sharedIntermediate());
            case FfnConfig.Linear l -> flags(f, false, true).putNull("ffn_mult");
            case FfnConfig.NoOp n -> flags(f, true, false).putNull("ffn_mult");
            case FfnConfig.Quantized q -> {
                ffnJson(f, q.base(), c);
                f.put(WEIGHTS_DTYPE, q.weights().configName());
            }
        }
    }

    private static ObjectNode flags(ObjectNode o, boolean noOp, boolean linear) {
        return o.put("no_op", noOp).put("replace_with_linear", linear);
    }

    /**
     * The MoE layer of a parent written in its own Mixtral or Qwen2-MoE layout: every layer the same
     * attention (the parent's GQA or window) and the same MoE (Qwen2-MoE: or the parent's dense FFN, its
     * mlp_only_layers); null for anything else, which is written as DeciLM.
     */
    private static FfnConfig.Moe moeParent(ModelConfig c) {
        boolean mixtral = c.architecture().equals(MIXTRAL);
        if (!mixtral && !c.architecture().equals(QWEN2_MOE) && !c.architecture().equals(QWEN3_MOE)) return null;
        AttentionConfig a0 = c.blocks().get(0).attention();
        if (a0.kvHeads() != c.numKvHeads() || a0.fp8Kv()) return null; // GQA or window over the parent's KV heads, in the model's dtype
        FfnConfig.Moe moe = null;
        for (BlockConfig b : c.blocks()) {
            if (!b.attention().equals(a0)) return null;
            switch (b.ffn()) {
                case FfnConfig.Moe m -> {
                    if (moe != null && !moe.equals(m)) return null;
                    moe = m;
                }
                case FfnConfig.Dense d -> {
                    if (mixtral || d.intermediateSize() != c.intermediateSize()) return null;
                }
                case FfnConfig.Linear l -> { return null; }
                case FfnConfig.NoOp n -> { return null; }
                case FfnConfig.Quantized q -> { return null; }
            }
        }
        if (moe != null && mixtral && !moe.normTopK()) return null;
        if (moe != null && mixtral && moe.sharedIntermediate() > 0) return null;
        return moe;
    }

    public static String toJsonString(ModelConfig c) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toJson(c)) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
