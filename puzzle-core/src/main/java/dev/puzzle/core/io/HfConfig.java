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
import dev.puzzle.core.model.Yarn;

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

    public static final String MIXTRAL = "MixtralForCausalLM", QWEN2_MOE = "Qwen2MoeForCausalLM", QWEN3_MOE = "Qwen3MoeForCausalLM",
            GPT_OSS = "GptOssForCausalLM";
    public static final Set<String> ARCHITECTURES = Set.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "DeciLMForCausalLM",
            MIXTRAL, QWEN2_MOE, QWEN3_MOE, GPT_OSS, NemotronH.ARCH);
    private static final ObjectMapper JSON = new ObjectMapper();

    public static ModelConfig read(Path file) {
        JsonNode root = dev.puzzle.core.config.Json.readObject(file, "a Hugging Face config.json");
        JsonNode archs = root.path("architectures");
        String arch = archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : null;
        if (arch == null || !ARCHITECTURES.contains(arch)) {
            throw PuzzleException.field(file, "architectures", archs.isMissingNode() ? "(missing)" : archs.toString(),
                    "unsupported architecture (supported: " + String.join(", ", new java.util.TreeSet<>(ARCHITECTURES)) + ")");
        }
        if (arch.equals(NemotronH.ARCH)) return NemotronH.read(file, root);
        String act = root.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw PuzzleException.field(file, "hidden_act", act, "only silu (SwiGLU) is supported");
        String scalingKey = root.path("rope_scaling").isObject() ? "rope_scaling" : "rope_parameters";
        Yarn yarn = yarn(file, root.path(scalingKey), scalingKey, root);
        if (arch.equals(GPT_OSS) && !root.path("rope_scaling").isObject() && !root.path("rope_parameters").isObject()) {
            yarn = GPT_OSS_YARN; // HF's GptOssConfig fills this in when the config gives none
        }
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
        float theta = (float) root.path("rope_theta").asDouble(root.path("rope_parameters").path("rope_theta").asDouble(arch.equals(GPT_OSS) ? 150000.0 : 10000.0));
        if (!(theta > 0)) throw PuzzleException.field(file, "rope_theta", theta, "must be > 0");
        boolean tied = root.path("tie_word_embeddings").asBoolean(false);
        boolean bias = arch.equals("Qwen2ForCausalLM") || arch.equals(QWEN2_MOE) || root.path("attention_bias").asBoolean(false);
        int window = 0;
        JsonNode sw = root.path("sliding_window");
        boolean useSw = arch.equals("MistralForCausalLM") || arch.equals(MIXTRAL) || root.path("use_sliding_window").asBoolean(false);
        if (useSw && sw.canConvertToInt() && sw.asInt() > 0 && sw.asInt() < ctx) window = sw.asInt();
        List<BlockConfig> blocks = new ArrayList<>();
        ModelConfig.Extensions ext = yarn == null ? ModelConfig.Extensions.NONE : new ModelConfig.Extensions(false, false, yarn, null);
        if (arch.equals(GPT_OSS)) {
            bias = root.path("attention_bias").asBoolean(true);
            ext = new ModelConfig.Extensions(true, bias, yarn, clampedSwiGlu(file, root, 7f));
            int experts = posInt(file, root, "num_local_experts");
            int topK = posInt(file, root, "num_experts_per_tok");
            if (topK > experts) throw PuzzleException.field(file, "num_experts_per_tok", topK, "exceeds num_local_experts " + experts);
            if (inter == 0) throw PuzzleException.field(file, "intermediate_size", "(missing)", "required (the experts' width)");
            FfnConfig moe = new FfnConfig.Moe(experts, topK, inter, true, 0);
            if (mxfp4Experts(file, root)) moe = moe.withWeights(DType.MXFP4);
            JsonNode bc = root.path("block_configs");
            if (bc.isArray()) { // this toolkit's children of gpt-oss parents whose layers differ beyond layer_types
                if (bc.size() != layers) throw PuzzleException.field(file, "block_configs", bc.size() + " entries", "needs one entry per layer (" + layers + ")");
                for (int i = 0; i < layers; i++) blocks.add(block(file, bc.get(i), i, dim, heads, kvHeads));
            } else {
                int w = sw.canConvertToInt() ? sw.asInt() : 0;
                for (String type : layerTypes(file, root, layers)) {
                    if (type.equals("sliding_attention") && w <= 0) throw PuzzleException.field(file, "sliding_window", sw, "must be a positive integer for sliding_attention layers");
                    AttentionConfig a = type.equals("sliding_attention") ? new AttentionConfig.Window(kvHeads, w) : new AttentionConfig.Gqa(kvHeads);
                    blocks.add(new BlockConfig(a, moe));
                }
            }
        } else if (arch.equals("DeciLMForCausalLM")) {
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
            return new ModelConfig(arch, dim, heads, headDim, kvHeads, inter, vocab, ctx, eps, theta, RopeStyle.HALF_SPLIT, tied, bias, blocks, qkNorm,
                    ext.any() ? ext : extensions(file, root, yarn));
        } catch (IllegalArgumentException e) {
            throw new PuzzleException(file + ": " + e.getMessage());
        }
    }

    /** The RoPE scaling HF's GptOssConfig gives a gpt-oss config that states none. */
    public static final Yarn GPT_OSS_YARN = new Yarn(32f, 4096, 32f, 1f, false, 0f);

    /** gpt-oss's layer_types: one of sliding_attention / full_attention per layer; absent, HF's default (sliding at even layers). */
    private static List<String> layerTypes(Path file, JsonNode root, int layers) {
        JsonNode lt = root.path("layer_types");
        List<String> out = new ArrayList<>();
        if (lt.isMissingNode() || lt.isNull()) {
            for (int i = 0; i < layers; i++) out.add(i % 2 == 0 ? "sliding_attention" : "full_attention");
            return out;
        }
        if (!lt.isArray() || lt.size() != layers) {
            throw PuzzleException.field(file, "layer_types", lt.isArray() ? lt.size() + " entries" : lt.toString(), "needs one entry per layer (num_hidden_layers " + layers + ")");
        }
        for (int i = 0; i < layers; i++) {
            String t = lt.get(i).asText();
            if (!t.equals("sliding_attention") && !t.equals("full_attention")) {
                throw PuzzleException.field(file, "layer_types[" + i + "]", lt.get(i), "must be sliding_attention or full_attention");
            }
            out.add(t);
        }
        return out;
    }

    /** Whether the config says the experts are stored in MXFP4 (gpt-oss's released quantization_config). */
    private static boolean mxfp4Experts(Path file, JsonNode root) {
        JsonNode q = root.path("quantization_config");
        if (q.isMissingNode() || q.isNull()) return false;
        String m = q.path("quant_method").asText("");
        if (!m.equals("mxfp4")) throw PuzzleException.field(file, "quantization_config.quant_method", q.path("quant_method"), "only mxfp4 (gpt-oss's experts) is read");
        return true;
    }

    /** This toolkit's fields for gpt-oss's extensions on other layouts (a DeciLM child of a gpt-oss parent). */
    private static ModelConfig.Extensions extensions(Path file, JsonNode root, Yarn yarn) {
        boolean sinks = root.path("attention_sinks").asBoolean(false), oBias = root.path("o_proj_bias").asBoolean(false);
        boolean noRope = root.path("no_rope").asBoolean(false);
        if (noRope && yarn != null) throw PuzzleException.field(file, "no_rope", true, "contradicts the YaRN rope_scaling");
        return new ModelConfig.Extensions(sinks, oBias, yarn, clampedSwiGlu(file, root, Float.NaN), noRope);
    }

    /**
     * {@code swiglu_limit} and {@code swiglu_alpha} (default gpt-oss's 1.702), each checked; without a limit, {@code limit}
     * (gpt-oss's 7), or null where that is NaN (a layout whose experts are plain SwiGLU unless it says otherwise).
     */
    private static ModelConfig.ClampedSwiGlu clampedSwiGlu(Path file, JsonNode root, float limit) {
        JsonNode l = root.path("swiglu_limit");
        boolean given = !l.isMissingNode() && !l.isNull();
        if (!given && Float.isNaN(limit)) return null;
        float lim = given ? (float) l.asDouble() : limit, alpha = (float) root.path("swiglu_alpha").asDouble(ModelConfig.ClampedSwiGlu.GPT_OSS_ALPHA);
        if (!(lim > 0) || Float.isInfinite(lim)) throw PuzzleException.field(file, "swiglu_limit", l, "must be > 0");
        if (!(alpha > 0) || Float.isInfinite(alpha)) throw PuzzleException.field(file, "swiglu_alpha", root.path("swiglu_alpha"), "must be > 0");
        return new ModelConfig.ClampedSwiGlu(lim, alpha);
    }

    /** A rope_scaling (or rope_parameters) object: null, absent or rope_type default: none; yarn: its parameters; others refused. */
    private static Yarn yarn(Path file, JsonNode s, String key, JsonNode root) {
        if (s.isMissingNode() || s.isNull()) return null;
        if (!s.isObject()) throw PuzzleException.field(file, key, s, "must be an object or null");
        String type = s.path("rope_type").asText(s.path("type").asText("default"));
        if (type.equals("default")) return null;
        if (!type.equals("yarn")) throw PuzzleException.field(file, key + ".rope_type", type, "only yarn RoPE scaling is supported");
        JsonNode f = s.path("factor");
        if (!f.isNumber() || !(f.asDouble() > 0)) throw PuzzleException.field(file, key + ".factor", f.isMissingNode() ? "(missing)" : f, "must be a number > 0");
        JsonNode orig = s.path("original_max_position_embeddings");
        int original = orig.isMissingNode() || orig.isNull() ? root.path("max_position_embeddings").asInt(0) : orig.asInt(0);
        if (original <= 0) throw PuzzleException.field(file, key + ".original_max_position_embeddings", orig, "must be a positive integer");
        double fast = s.path("beta_fast").isNumber() ? s.get("beta_fast").asDouble() : 32, slow = s.path("beta_slow").isNumber() ? s.get("beta_slow").asDouble() : 1;
        if (!(fast > 0)) throw PuzzleException.field(file, key + ".beta_fast", s.get("beta_fast"), "must be > 0");
        if (!(slow > 0)) throw PuzzleException.field(file, key + ".beta_slow", s.get("beta_slow"), "must be > 0");
        JsonNode af = s.path("attention_factor");
        double attention = af.isNumber() ? af.asDouble() : 0;
        if (af.isNumber() && !(attention > 0)) throw PuzzleException.field(file, key + ".attention_factor", af, "must be > 0");
        if (s.path("mscale").isNumber() || s.path("mscale_all_dim").isNumber()) throw PuzzleException.field(file, key + ".mscale", s.path("mscale"), "DeepSeek's mscale is not supported");
        return new Yarn((float) f.asDouble(), original, (float) fast, (float) slow, s.path("truncate").asBoolean(true), (float) attention);
    }

    static BlockConfig block(Path file, JsonNode b, int i, int dim, int heads, int parentKv) {
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
        } else if (a.path(MAMBA2).isObject()) {
            JsonNode m = a.get(MAMBA2);
            int[] v = new int[5];
            String[] keys = {"num_heads", "head_dim", "state_size", "n_groups", "conv_kernel"};
            for (int k = 0; k < 5; k++) {
                JsonNode x = m.path(keys[k]);
                if (!x.canConvertToInt() || x.asInt() < 1) throw PuzzleException.field(file, at + "." + MAMBA2 + "." + keys[k], x.isMissingNode() ? "(missing)" : x, "must be a positive integer");
                v[k] = x.asInt();
            }
            if (v[0] % v[3] != 0) throw PuzzleException.field(file, at + "." + MAMBA2 + ".n_groups", v[3], "must divide num_heads " + v[0]);
            attn = new AttentionConfig.Mamba2(v[0], v[1], v[2], v[3], v[4]);
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
            String act = f.path("hidden_act").asText("silu");
            if (!act.equals("silu") && !act.equals("relu2")) throw PuzzleException.field(file, ft + ".hidden_act", act, "must be silu (SwiGLU) or relu2 (a squared-ReLU MLP)");
            ffn = act.equals("relu2") ? new FfnConfig.Relu2(n) : new FfnConfig.Dense(n);
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

    static int posInt(Path file, JsonNode root, String key) {
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
        if (c.architecture().equals(GPT_OSS)) return gptOssJson(c);
        if (c.architecture().equals(NemotronH.ARCH)) return NemotronH.json(c, JSON.createObjectNode());
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
        yarnJson(o, c.extensions().yarn(), false);
        if (c.qkvBias() && !arch.equals("Qwen2ForCausalLM") && !arch.equals(QWEN2_MOE)) o.put("attention_bias", true);
        extensionsJson(o, c.extensions());
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
        if (arch.equals("DeciLMForCausalLM")) blockConfigsJson(o, c);
        return o;
    }

    /** DeciLM's per-layer block_configs. */
    static void blockConfigsJson(ObjectNode o, ModelConfig c) {
        ArrayNode bcs = o.putArray("block_configs");
        for (BlockConfig b : c.blocks()) {
            ObjectNode bn = bcs.addObject();
            attentionJson(bn.putObject("attention"), b.attention(), c);
            ffnJson(bn.putObject("ffn"), b.ffn(), c);
        }
    }

    /** rope_scaling: null (gpt-oss: rope_type default, as its config would otherwise get YaRN), or the YaRN object. */
    private static void yarnJson(ObjectNode o, Yarn y, boolean gptOss) {
        if (y == null) {
            if (gptOss) o.putObject("rope_scaling").put("rope_type", "default");
            else o.putNull("rope_scaling");
            return;
        }
        ObjectNode r = o.putObject("rope_scaling").put("rope_type", "yarn").put("factor", y.factor())
                .put("original_max_position_embeddings", y.originalContext()).put("beta_fast", y.betaFast()).put("beta_slow", y.betaSlow())
                .put("truncate", y.truncate());
        if (y.attentionFactor() > 0) r.put("attention_factor", y.attentionFactor());
    }

    /** This toolkit's fields for gpt-oss's extensions on a layout without them (read back by {@link #extensions}). */
    private static void extensionsJson(ObjectNode o, ModelConfig.Extensions x) {
        if (x.sinks()) o.put("attention_sinks", true);
        if (x.noRope()) o.put("no_rope", true);
        if (x.outputBias()) o.put("o_proj_bias", true);
        if (x.experts() != null) o.put("swiglu_limit", x.experts().limit()).put("swiglu_alpha", x.experts().alpha());
    }

    /**
     * A gpt-oss model's config.json: GptOssForCausalLM with its layer_types; a child whose layers differ in more than
     * full vs sliding attention (other KV heads, expert counts, no-op or linear parts, FP8 caches, other windows) also
     * carries this toolkit's DeciLM-style {@code block_configs}, which the reader prefers. MXFP4 experts in every layer
     * are said as the released checkpoints say them (quantization_config mxfp4).
     */
    private static ObjectNode gptOssJson(ModelConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(GPT_OSS);
        o.put("model_type", "gpt_oss");
        FfnConfig.Moe moe = null;
        for (BlockConfig b : c.blocks()) if (moe == null && b.ffn().unquantized() instanceof FfnConfig.Moe m) moe = m;
        int window = 0;
        boolean fits = moe != null;
        DType expertType = c.blocks().get(0).ffn().quantizedWeights();
        for (BlockConfig b : c.blocks()) {
            AttentionConfig a = b.attention();
            boolean plain = (a instanceof AttentionConfig.Gqa || a instanceof AttentionConfig.Window) && a.kvHeads() == c.numKvHeads() && !a.fp8Kv();
            if (a.window() > 0 && window == 0) window = a.window();
            fits &= plain && (a.window() == 0 || a.window() == window) && b.ffn().unquantized().equals(moe) && java.util.Objects.equals(b.ffn().quantizedWeights(), expertType);
        }
        fits &= expertType == null || expertType == DType.MXFP4;
        o.put("hidden_size", c.dim());
        o.put("num_hidden_layers", c.numLayers());
        o.put("num_attention_heads", c.numHeads());
        o.put("num_key_value_heads", c.numKvHeads());
        o.put("head_dim", c.headDim());
        o.put("num_local_experts", moe != null ? moe.numExperts() : 1);
        o.put("num_experts_per_tok", moe != null ? moe.topK() : 1);
        o.put("intermediate_size", moe != null ? moe.expertIntermediate() : c.intermediateSize());
        o.put("vocab_size", c.vocabSize());
        o.put("max_position_embeddings", c.maxSeqLen());
        o.put("rms_norm_eps", c.normEps());
        o.put("rope_theta", c.ropeTheta());
        yarnJson(o, c.extensions().yarn(), true);
        o.put("tie_word_embeddings", c.tiedEmbeddings());
        o.put("hidden_act", "silu");
        o.put("attention_bias", c.qkvBias());
        if (c.extensions().outputBias() != c.qkvBias()) o.put("o_proj_bias", c.extensions().outputBias());
        if (c.extensions().experts() != null) o.put("swiglu_limit", c.extensions().experts().limit()).put("swiglu_alpha", c.extensions().experts().alpha());
        if (window > 0) o.put("sliding_window", window);
        else o.putNull("sliding_window");
        ArrayNode types = o.putArray("layer_types");
        for (BlockConfig b : c.blocks()) types.add(b.attention().window() > 0 ? "sliding_attention" : "full_attention");
        if (fits && expertType == DType.MXFP4) {
            ObjectNode q = o.putObject("quantization_config").put("quant_method", "mxfp4");
            q.putArray("modules_to_not_convert").add("model.layers.*.self_attn").add("model.layers.*.mlp.router").add("model.embed_tokens").add("lm_head");
        }
        o.put("torch_dtype", "float32");
        if (!fits) blockConfigsJson(o, c);
        return o;
    }

    /** A DeciLM block_configs attention entry: {no_op, replace_with_linear, n_heads_in_group, num_key_value_heads, window_length, kv_cache_dtype}. */
    private static void attentionJson(ObjectNode a, AttentionConfig at, ModelConfig c) {
        switch (at) {
            case AttentionConfig.Gqa g -> kvHeadsJson(flags(a, false, false), g.numKvHeads(), c).putNull("window_length");
            case AttentionConfig.Window w -> kvHeadsJson(flags(a, false, false), w.numKvHeads(), c).put("window_length", w.window());
            case AttentionConfig.Linear l -> flags(a, false, true).putNull("n_heads_in_group").putNull("window_length");
            case AttentionConfig.NoOp n -> flags(a, true, false).putNull("n_heads_in_group").putNull("window_length");
            case AttentionConfig.Mamba2 m -> flags(a, false, false).putNull("n_heads_in_group").putNull("window_length").putObject(MAMBA2)
                    .put("num_heads", m.heads()).put("head_dim", m.headDim()).put("state_size", m.state()).put("n_groups", m.groups())
                    .put("conv_kernel", m.conv());
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

    /** This toolkit's block_configs attention field for a Mamba-2 mixer in the attention's place (Nemotron-H's mixer settings). */
    static final String MAMBA2 = "mamba2";

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
            case FfnConfig.Relu2 r -> flags(f, false, false).putNull("ffn_mult").put("intermediate_size", r.intermediateSize()).put("hidden_act", "relu2");
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
                case FfnConfig.Relu2 r -> { return null; }
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
