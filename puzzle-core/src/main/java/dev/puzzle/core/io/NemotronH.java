package dev.puzzle.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NVIDIA's hybrid Mamba–Transformer layout, Hugging Face {@code NemotronHForCausalLM} (Nemotron-H, Nemotron Nano 2):
 * each layer is one RMSNorm and one mixer — {@code M} a Mamba-2 mixer, {@code *} attention without position
 * embeddings, {@code -} a squared-ReLU MLP — as {@code hybrid_override_pattern} says, under {@code backbone.*}.
 * In this toolkit a layer is a block whose other part is the no-op: M is (Mamba-2, no-op), * is (GQA, no-op) and
 * - is (no-op, relu2 MLP), with the model-level {@code noRope} extension. A child whose layers the pattern cannot say
 * (another KV-head count, a narrower MLP or Mamba, a window, a no-op or linear layer, quantized weights) carries this
 * toolkit's DeciLM-style {@code block_configs} instead of the pattern, which the reader prefers.
 * Nemotron 3's MoE layers ({@code E}: a sigmoid router with a selection bias, squared-ReLU experts, an ungated shared
 * expert; {@link ModelConfig.SigmoidExperts}) are (no-op, MoE) blocks; grouped routing and latent projections are refused.
 */
public final class NemotronH {
    private NemotronH() {}

    public static final String ARCH = "NemotronHForCausalLM";

    /** The Mamba-2 settings of a Nemotron-H config (mamba_num_heads, mamba_head_dim, ssm_state_size, n_groups, conv_kernel). */
    static ModelConfig read(Path file, JsonNode root) {
        int dim = HfConfig.posInt(file, root, "hidden_size");
        int layers = HfConfig.posInt(file, root, "num_hidden_layers");
        int heads = HfConfig.posInt(file, root, "num_attention_heads");
        int kv = root.hasNonNull("num_key_value_heads") ? HfConfig.posInt(file, root, "num_key_value_heads") : heads;
        String hdKey = root.hasNonNull("head_dim") ? "head_dim" : "attention_head_dim";
        int headDim = root.hasNonNull(hdKey) ? HfConfig.posInt(file, root, hdKey) : dim / heads;
        if (heads % kv != 0) throw PuzzleException.field(file, "num_key_value_heads", kv, "does not divide num_attention_heads " + heads);
        boolean moe = root.hasNonNull("n_routed_experts");
        int inter = moe && !root.hasNonNull("intermediate_size") ? HfConfig.posInt(file, root, "moe_intermediate_size") : HfConfig.posInt(file, root, "intermediate_size");
        int vocab = HfConfig.posInt(file, root, "vocab_size");
        int ctx = root.hasNonNull("max_position_embeddings") ? HfConfig.posInt(file, root, "max_position_embeddings") : 4096;
        float eps = (float) root.path("layer_norm_epsilon").asDouble(root.path("rms_norm_eps").asDouble(1e-5));
        if (!(eps > 0)) throw PuzzleException.field(file, "layer_norm_epsilon", eps, "must be > 0");
        String act = root.path("mlp_hidden_act").asText("relu2");
        if (!act.equals("relu2")) throw PuzzleException.field(file, "mlp_hidden_act", act, "only relu2 (Nemotron-H's squared ReLU) is supported");
        String mact = root.path("mamba_hidden_act").asText("silu");
        if (!mact.equals("silu")) throw PuzzleException.field(file, "mamba_hidden_act", mact, "only silu is supported");
        for (String key : new String[]{"attention_bias", "mlp_bias", "mamba_proj_bias", "use_bias"}) {
            if (root.path(key).asBoolean(false)) throw PuzzleException.field(file, key, true, "biases other than the conv's are not supported");
        }
        if (!root.path("use_conv_bias").asBoolean(true)) throw PuzzleException.field(file, "use_conv_bias", false, "the Mamba-2 conv needs its bias");
        JsonNode limit = root.path("time_step_limit");
        if (limit.isArray() && limit.size() == 2 && (limit.get(0).asDouble() > 0 || Double.isFinite(limit.get(1).asDouble()))) {
            throw PuzzleException.field(file, "time_step_limit", limit, "only (0, inf) (no clamp of dt) is supported");
        }
        boolean tied = root.path("tie_word_embeddings").asBoolean(false);
        List<BlockConfig> blocks = new ArrayList<>();
        JsonNode bc = root.path("block_configs");
        if (bc.isArray()) { // this toolkit's children whose layers the pattern cannot say
            if (bc.size() != layers) throw PuzzleException.field(file, "block_configs", bc.size() + " entries", "needs one entry per layer (num_hidden_layers " + layers + ")");
            for (int i = 0; i < layers; i++) blocks.add(HfConfig.block(file, bc.get(i), i, dim, heads, kv));
        } else {
            JsonNode pn = root.path("hybrid_override_pattern");
            if (!pn.isTextual()) throw PuzzleException.field(file, "hybrid_override_pattern", pn.isMissingNode() ? "(missing)" : pn, "must be a string of M, * and - (one per layer)");
            String pattern = pn.asText();
            if (pattern.length() != layers) {
                throw PuzzleException.field(file, "hybrid_override_pattern", pattern, "has " + pattern.length() + " layers, num_hidden_layers is " + layers);
            }
            AttentionConfig.Mamba2 mamba = pattern.indexOf('M') >= 0 ? mamba(file, root) : null;
            FfnConfig.Moe experts = pattern.indexOf('E') >= 0 ? moe(file, root) : null;
            for (int i = 0; i < layers; i++) {
                char ch = pattern.charAt(i);
                blocks.add(switch (ch) {
                    case 'M' -> new BlockConfig(mamba, new FfnConfig.NoOp());
                    case '*' -> new BlockConfig(new AttentionConfig.Gqa(kv), new FfnConfig.NoOp());
                    case '-' -> new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(inter));
                    case 'E' -> new BlockConfig(new AttentionConfig.NoOp(), experts);
                    default -> throw PuzzleException.field(file, "hybrid_override_pattern[" + i + "]", String.valueOf(ch),
                            "must be M (Mamba-2), * (attention), - (MLP) or E (mixture of experts)");
                });
            }
        }
        ModelConfig.SigmoidExperts sigmoid = null;
        if (moe) {
            JsonNode f = root.path("routed_scaling_factor");
            double scale = f.isNumber() ? f.asDouble() : 1.0;
            if (!(scale > 0) || Double.isInfinite(scale)) throw PuzzleException.field(file, "routed_scaling_factor", f, "must be > 0");
            sigmoid = new ModelConfig.SigmoidExperts((float) scale);
        }
        try {
            return new ModelConfig(ARCH, dim, heads, headDim, kv, inter, vocab, ctx, eps, 10000f, RopeStyle.HALF_SPLIT, tied, false, blocks, false,
                    new ModelConfig.Extensions(false, false, null, null, true, sigmoid));
        } catch (IllegalArgumentException e) {
            throw new PuzzleException(file + ": " + e.getMessage());
        }
    }

    private static AttentionConfig.Mamba2 mamba(Path file, JsonNode root) {
        int heads = HfConfig.posInt(file, root, "mamba_num_heads"), headDim = HfConfig.posInt(file, root, "mamba_head_dim");
        int state = HfConfig.posInt(file, root, "ssm_state_size"), groups = HfConfig.posInt(file, root, "n_groups"), conv = HfConfig.posInt(file, root, "conv_kernel");
        if (heads % groups != 0) throw PuzzleException.field(file, "n_groups", groups, "must divide mamba_num_heads " + heads);
        return new AttentionConfig.Mamba2(heads, headDim, state, groups, conv);
    }

    /**
     * Nemotron 3's MoE layer: n_routed_experts, num_experts_per_tok, moe_intermediate_size, norm_topk_prob and one shared
     * expert of moe_shared_expert_intermediate_size. Refused: more than one expert group picked from (n_group/topk_group),
     * more than one shared expert, a latent projection (moe_latent_size).
     */
    private static FfnConfig.Moe moe(Path file, JsonNode root) {
        int experts = HfConfig.posInt(file, root, "n_routed_experts"), topK = HfConfig.posInt(file, root, "num_experts_per_tok"), width = HfConfig.posInt(file, root, "moe_intermediate_size");
        if (topK > experts) throw PuzzleException.field(file, "num_experts_per_tok", topK, "exceeds n_routed_experts " + experts);
        int groups = root.path("n_group").asInt(1), used = root.path("topk_group").asInt(groups);
        if (groups < 1 || experts % groups != 0) throw PuzzleException.field(file, "n_group", root.path("n_group"), "must divide n_routed_experts " + experts);
        if (used < groups) throw PuzzleException.field(file, "topk_group", used, "routing within " + used + " of " + groups + " expert groups is not supported (one group is)");
        int shared = root.path("n_shared_experts").asInt(1);
        if (shared != 1) throw PuzzleException.field(file, "n_shared_experts", shared, "only one shared expert is supported");
        if (root.hasNonNull("moe_latent_size")) throw PuzzleException.field(file, "moe_latent_size", root.get("moe_latent_size"), "latent MoE projections are not supported");
        return new FfnConfig.Moe(experts, topK, width, root.path("norm_topk_prob").asBoolean(true), HfConfig.posInt(file, root, "moe_shared_expert_intermediate_size"));
    }

    /** The pattern letter of a block, or 0 when Nemotron-H's pattern cannot say it with the config's one shape per kind. */
    private static char letter(BlockConfig b, ModelConfig c, AttentionConfig.Mamba2 mamba) {
        AttentionConfig a = b.attention();
        FfnConfig f = b.ffn();
        if (f instanceof FfnConfig.NoOp && a instanceof AttentionConfig.Mamba2 m && m.equals(mamba)) return 'M';
        if (f instanceof FfnConfig.NoOp && a instanceof AttentionConfig.Gqa g && g.numKvHeads() == c.numKvHeads()) return '*';
        if (a instanceof AttentionConfig.NoOp && f instanceof FfnConfig.Relu2 r && r.intermediateSize() == c.intermediateSize()) return '-';
        if (a instanceof AttentionConfig.NoOp && f instanceof FfnConfig.Moe m && m.equals(firstMoe(c))) return 'E';
        return 0;
    }

    /** The first MoE layer's experts (the parent's, in a Nemotron 3 parent), or null. */
    static FfnConfig.Moe firstMoe(ModelConfig c) {
        for (BlockConfig b : c.blocks()) if (b.ffn().unquantized() instanceof FfnConfig.Moe m) return m;
        return null;
    }

    /**
     * The model's layers in Nemotron-H's letters, for {@code inspect}: M a Mamba-2 mixer, * attention, - an FFN (E a MoE),
     * a layer of both a mixer and an FFN as its mixer's letter in lower case (m, a), . the identity.
     */
    public static String pattern(ModelConfig c) {
        StringBuilder sb = new StringBuilder();
        for (BlockConfig b : c.blocks()) {
            boolean mamba = b.attention().unquantized() instanceof AttentionConfig.Mamba2, mixer = b.attention().hasWeights(), ffn = b.ffn().hasWeights();
            if (mixer && ffn) sb.append(mamba ? 'm' : 'a');
            else if (mixer) sb.append(mamba ? 'M' : '*');
            else if (ffn) sb.append(b.ffn().numExperts() > 0 ? 'E' : '-');
            else sb.append('.');
        }
        return sb.toString();
    }

    /** Whether a model is a hybrid worth showing its pattern: Nemotron-H's layout, or any Mamba-2 layer. */
    public static boolean hybrid(ModelConfig c) {
        return c.architecture().equals(ARCH) || firstMamba(c) != null;
    }

    /** The first Mamba-2 layer's mixer (unquantized): the shape the config's mamba_* settings and GGUF's ssm.* say; null without one. */
    static AttentionConfig.Mamba2 firstMamba(ModelConfig c) {
        for (BlockConfig b : c.blocks()) if (b.attention().unquantized() instanceof AttentionConfig.Mamba2 m) return m;
        return null;
    }

    /** A Nemotron-H model's config.json: the pattern, or this toolkit's block_configs where the pattern cannot say the layers. */
    static ObjectNode json(ModelConfig c, ObjectNode o) {
        for (int i = 0; i < c.numLayers(); i++) {
            BlockConfig b = c.blocks().get(i);
            if (b.attention().hasWeights() && b.ffn().hasWeights()) {
                throw new PuzzleException("layer " + i + " (" + b + ") has both a mixer and an FFN; a " + ARCH + " layer has one (Nemotron-H layers cannot hold it)");
            }
        }
        AttentionConfig.Mamba2 mamba = firstMamba(c);
        StringBuilder pattern = new StringBuilder();
        for (BlockConfig b : c.blocks()) {
            char ch = letter(b, c, mamba);
            if (ch == 0) {
                pattern = null;
                break;
            }
            pattern.append(ch);
        }
        o.putArray("architectures").add(ARCH);
        o.put("model_type", "nemotron_h");
        o.put("hidden_size", c.dim());
        o.put("num_hidden_layers", c.numLayers());
        o.put("num_attention_heads", c.numHeads());
        o.put("num_key_value_heads", c.numKvHeads());
        o.put("head_dim", c.headDim());
        o.put("intermediate_size", c.intermediateSize());
        o.put("vocab_size", c.vocabSize());
        o.put("max_position_embeddings", c.maxSeqLen());
        o.put("layer_norm_epsilon", c.normEps());
        o.put("tie_word_embeddings", c.tiedEmbeddings());
        o.put("mlp_hidden_act", "relu2");
        o.put("attention_bias", false);
        o.put("mlp_bias", false);
        o.put("use_bias", false);
        o.put("use_conv_bias", true);
        o.put("mamba_hidden_act", "silu");
        if (mamba != null) {
            o.put("mamba_num_heads", mamba.heads());
            o.put("mamba_head_dim", mamba.headDim());
            o.put("ssm_state_size", mamba.state());
            o.put("n_groups", mamba.groups());
            o.put("conv_kernel", mamba.conv());
        }
        FfnConfig.Moe moe = firstMoe(c);
        if (moe != null) {
            if (c.extensions().sigmoidExperts() == null) throw new PuzzleException("a " + ARCH + " MoE layer routes as Nemotron 3's (sigmoid experts)");
            o.put("n_routed_experts", moe.numExperts());
            o.put("num_experts_per_tok", moe.topK());
            o.put("moe_intermediate_size", moe.expertIntermediate());
            o.put("moe_shared_expert_intermediate_size", moe.sharedIntermediate());
            o.put("n_shared_experts", 1);
            o.put("norm_topk_prob", moe.normTopK());
            o.put("routed_scaling_factor", c.extensions().sigmoidExperts().scale());
            o.put("n_group", 1);
            o.put("topk_group", 1);
        }
        o.put("torch_dtype", "float32");
        if (pattern != null) {
            o.put("hybrid_override_pattern", pattern.toString());
        } else {
            HfConfig.blockConfigsJson(o, c);
        }
        return o;
    }

    private static final Pattern LAYER = Pattern.compile("backbone\\.layers\\.(\\d+)\\.(norm\\.weight|mixer\\.(.+))");
    private static final Map<String, String> TOP = Map.of("backbone.embeddings.weight", TensorNames.EMBED, "backbone.norm_f.weight", TensorNames.FINAL_NORM);

    /** Whether layer l's one part is its mixer (attention's place) rather than its MLP (the FFN's). */
    private static boolean mixer(ModelConfig cfg, int l) {
        return cfg.blocks().get(l).attention().hasWeights();
    }

    /** A tensor under its new name (and shape). */
    private record Renamed(String name, Tensor tensor) {}

    /** Renames every tensor by {@code rename} in place, keeping the order and each tensor's stored type. */
    private static void rename(Map<String, Tensor> tensors, Map<String, DType> types, java.util.function.BiFunction<String, Tensor, Renamed> rename) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        Map<String, DType> ty = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) {
            Renamed r = rename.apply(e.getKey(), e.getValue());
            t.put(r.name(), r.tensor());
            ty.put(r.name(), types.get(e.getKey()));
        }
        tensors.clear();
        tensors.putAll(t);
        types.clear();
        types.putAll(ty);
    }

    /** Renames backbone.* to this toolkit's names in place; the conv weight (C, 1, K) becomes (C, K). */
    static void toInternal(ModelConfig cfg, Map<String, Tensor> tensors, Map<String, DType> types, String source) {
        rename(tensors, types, (name, w) -> {
            Matcher m = LAYER.matcher(name);
            if (TOP.containsKey(name)) return new Renamed(TOP.get(name), w);
            if (!m.matches()) return new Renamed(name, w);
            int l = Integer.parseInt(m.group(1));
            if (l >= cfg.numLayers()) throw new PuzzleException(source + ": tensor '" + name + "' is beyond the config's " + cfg.numLayers() + " layers");
            boolean mx = mixer(cfg, l);
            if (m.group(3) == null) return new Renamed(TensorNames.layer(l, mx ? TensorNames.ATTN_NORM : TensorNames.FFN_NORM), w);
            String part = m.group(3).startsWith("shared_experts.") ? "shared_expert." + m.group(3).substring("shared_experts.".length()) : m.group(3);
            String to = TensorNames.layer(l, (mx ? "self_attn." : "mlp.") + part);
            boolean conv = to.equals(TensorNames.layer(l, TensorNames.MAMBA_CONV)) && w.shape().length == 3 && w.shape()[1] == 1;
            return new Renamed(to, conv ? w.reshape(w.shape()[0], w.shape()[2]) : w);
        });
    }

    private static final Pattern INTERNAL = Pattern.compile("model\\.layers\\.(\\d+)\\.(input_layernorm\\.weight|post_attention_layernorm\\.weight|self_attn\\.(.+)|mlp\\.(.+))");

    /** The inverse of {@link #toInternal}, in place, for writing a Nemotron-H checkpoint. */
    static void toNemotronH(ModelConfig cfg, Map<String, Tensor> tensors, Map<String, DType> types) {
        Map<String, String> top = new LinkedHashMap<>();
        TOP.forEach((k, v) -> top.put(v, k));
        rename(tensors, types, (name, w) -> {
            Matcher m = INTERNAL.matcher(name);
            if (top.containsKey(name)) return new Renamed(top.get(name), w);
            if (!m.matches()) return new Renamed(name, w);
            String prefix = "backbone.layers." + m.group(1) + ".";
            String part = m.group(3) != null ? m.group(3) : m.group(4);
            if (part == null) return new Renamed(prefix + "norm.weight", w);
            if (part.startsWith("shared_expert.")) part = "shared_experts." + part.substring("shared_expert.".length());
            return new Renamed(prefix + "mixer." + part, name.endsWith(TensorNames.MAMBA_CONV) ? w.reshape(w.shape()[0], 1, w.shape()[1]) : w);
        });
    }
}
