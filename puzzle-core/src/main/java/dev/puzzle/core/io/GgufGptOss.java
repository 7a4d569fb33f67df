package dev.puzzle.core.io;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.Yarn;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Quant;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.BpeTokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * A gpt-oss model (parent or child) as GGUF for llama.cpp's {@code gpt-oss} architecture (its {@code openai-moe} graph):
 * q/k/v/o with biases, per-head {@code attn_sinks}, {@code post_attention_norm}, a biased router {@code ffn_gate_inp}, and
 * the experts stacked per layer — {@code ffn_gate_exps}/{@code ffn_up_exps} (E, I, D), {@code ffn_down_exps} (E, D, I),
 * each with its biases — in one ggml type per stack (MXFP4 experts stay MXFP4). RoPE is NEOX (half-split, as HF), so Q and
 * K rows keep their order. llama.cpp's gpt-oss graph takes one KV-head count, one top-k and one expert width for all
 * layers (layer 0's), but the expert count of each layer may differ: a layer with fewer experts than the most is padded
 * with zero experts whose router bias is −10³⁰, which top-k never picks (exact). Refused, naming the layer or field, where
 * llama.cpp's graph computes something else: KV heads, top-k or expert widths that differ from layer 0's, no-op or
 * linear parts, dense FFNs, FP8 KV caches, windows other than the one {@code sliding_window}, sliding layers not at a period
 * llama.cpp's {@code sliding_window_pattern} can say, YaRN other than truncated with betas 32/1 (llama.cpp rounds the
 * correction range and fixes the betas), and a clamped SwiGLU other than limit 7, alpha 1.702 (fixed in its graph).
 */
final class GgufGptOss {
    private GgufGptOss() {}

    /** A router bias that top-k never picks. */
    static final float NEVER = -1e30f;

    /** Why this gpt-oss model has no exact llama.cpp encoding, naming the layer or field; null when it has one. */
    static String refusal(ModelConfig c) {
        String whole = modelRefusal(c);
        if (whole != null) return whole;
        int window = window(c);
        BlockConfig first = c.blocks().get(0);
        for (int l = 0; l < c.numLayers(); l++) {
            BlockConfig b = c.blocks().get(l);
            String why = refusal(b, window);
            if (why == null) why = sameAsFirst(b, first);
            if (why != null) return "layer " + l + " (" + b + "): " + why;
        }
        if (pattern(c) < 0) {
            return "its sliding layers " + slidingLayers(c) + " follow no period that llama.cpp's sliding_window_pattern can say (layer l slides when l mod n < n − 1)";
        }
        return null;
    }

    /** {@link #refusal} of what is not per layer: sinks, biases, q/k norms, YaRN, the experts' activation. */
    static String modelRefusal(ModelConfig c) {
        var x = c.extensions();
        if (!x.sinks() || !x.outputBias() || !c.qkvBias()) return "llama.cpp's gpt-oss graph needs attention sinks and q/k/v/o biases";
        if (c.qkNorm()) return "per-head q/k norms have no slot in llama.cpp's gpt-oss graph";
        Yarn y = x.yarn();
        if (y != null && !y.truncate()) {
            return "rope_scaling.truncate is false, but llama.cpp rounds YaRN's correction range to whole dimensions (truncate: true); its RoPE would differ";
        }
        if (y != null && (y.betaFast() != 32f || y.betaSlow() != 1f)) {
            return "rope_scaling.beta_fast/beta_slow are " + y.betaFast() + "/" + y.betaSlow() + "; llama.cpp's gpt-oss reads neither and uses 32/1";
        }
        if (x.experts() == null || x.experts().limit() != 7f || x.experts().alpha() != 1.702f) {
            return "the experts' clamped SwiGLU must be limit 7, alpha 1.702 (fixed in llama.cpp's gpt-oss graph), not "
                    + (x.experts() == null ? "plain SwiGLU" : "limit " + x.experts().limit() + ", alpha " + x.experts().alpha());
        }
        return null;
    }

    /** Why one block of a child of the gpt-oss parent {@code parent} has no exact llama.cpp encoding (as the parent's first layer must), or null. */
    static String refusal(ModelConfig parent, BlockConfig b) {
        String why = refusal(b, window(parent));
        return why != null ? why : sameAsFirst(b, parent.blocks().get(0));
    }

    /** Why a (valid) block differs from the first layer's in what llama.cpp's gpt-oss graph takes once: KV heads, top-k, expert width. */
    private static String sameAsFirst(BlockConfig b, BlockConfig first) {
        if (b.attention().kvHeads() != first.attention().kvHeads()) {
            return b.attention().kvHeads() + " KV heads; llama.cpp's gpt-oss graph takes layer 0's " + first.attention().kvHeads() + " for all layers";
        }
        if (!(first.ffn().unquantized() instanceof FfnConfig.Moe f) || !(b.ffn().unquantized() instanceof FfnConfig.Moe m)) return null;
        if (m.topK() != f.topK()) return "top-" + m.topK() + " routing; llama.cpp's gpt-oss graph takes layer 0's top-" + f.topK() + " for all layers";
        if (m.expertIntermediate() != f.expertIntermediate()) {
            return "experts of width " + m.expertIntermediate() + "; llama.cpp's gpt-oss graph takes layer 0's " + f.expertIntermediate() + " for all layers";
        }
        return null;
    }

    private static String refusal(BlockConfig b, int window) {
        AttentionConfig a = b.attention().unquantized();
        if (!(a instanceof AttentionConfig.Gqa) && !(a instanceof AttentionConfig.Window)) return "llama.cpp's gpt-oss graph has attention in every layer";
        if (a.fp8Kv()) return "an FP8 KV cache per layer is not expressible in GGUF";
        if (a.window() > 0 && a.window() != window) return "a window of " + a.window() + " beside the model's sliding_window " + window + " (one per model in GGUF)";
        if (!(b.ffn().unquantized() instanceof FfnConfig.Moe m)) return "llama.cpp's gpt-oss graph has experts in every layer";
        if (m.sharedIntermediate() > 0) return "a shared expert has no slot in llama.cpp's gpt-oss graph";
        if (!m.normTopK()) return "gpt-oss's routing is the softmax over the top-k";
        for (DType d : new DType[]{b.attention().quantizedWeights(), b.ffn().quantizedWeights()}) {
            if (d != null && Gguf.ggmlType(d) < 0) return d.configName() + " weights have no ggml type that llama.cpp runs";
        }
        return null;
    }

    /** The one window of the sliding layers (the first's), or 0 when none slides. */
    private static int window(ModelConfig c) {
        for (BlockConfig b : c.blocks()) if (b.attention().window() > 0) return b.attention().window();
        return 0;
    }

    private static java.util.List<Integer> slidingLayers(ModelConfig c) {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) if (c.blocks().get(l).attention().window() > 0) out.add(l);
        return out;
    }

    /** llama.cpp's sliding_window_pattern n that places exactly this model's sliding layers (0: all), or −1. */
    static int pattern(ModelConfig c) {
        int L = c.numLayers();
        for (int n = 0; n <= L + 1; n++) {
            boolean ok = true;
            for (int l = 0; l < L && ok; l++) ok = (n == 0 || l % n < n - 1) == (c.blocks().get(l).attention().window() > 0);
            if (ok) return n;
        }
        return -1;
    }

    static void write(Checkpoint ck, Path target, DType dtype) throws IOException {
        ModelConfig c = ck.config();
        String why = refusal(c);
        if (why != null) throw new GgufWriter.Unsupported(ck.source() + ": " + why);
        BpeTokenizer tok = GgufWriter.tokenizer(ck);
        int L = c.numLayers(), D = c.dim(), H = c.numHeads(), E = c.headDim();
        int experts = 0;
        for (int l = 0; l < L; l++) experts = Math.max(experts, c.blocks().get(l).ffn().numExperts());
        FfnConfig.Moe m0 = (FfnConfig.Moe) c.blocks().get(0).ffn().unquantized();
        String arch = "gpt-oss";
        ByteArrayOutputStream kv = new ByteArrayOutputStream();
        int n = 0;
        n += GgufWriter.str(kv, "general.architecture", arch);
        n += GgufWriter.str(kv, "general.name", GgufWriter.nameOf(ck));
        n += GgufWriter.u32(kv, "general.alignment", GgufWriter.ALIGN);
        n += GgufWriter.u32(kv, arch + ".context_length", c.maxSeqLen());
        n += GgufWriter.u32(kv, arch + ".embedding_length", D);
        n += GgufWriter.u32(kv, arch + ".block_count", L);
        n += GgufWriter.u32(kv, arch + ".attention.head_count", H);
        n += GgufWriter.u32(kv, arch + ".attention.head_count_kv", c.blocks().get(0).attention().kvHeads());
        n += GgufWriter.u32(kv, arch + ".attention.key_length", E);
        n += GgufWriter.u32(kv, arch + ".attention.value_length", E);
        n += GgufWriter.u32(kv, arch + ".rope.dimension_count", E);
        n += GgufWriter.f32(kv, arch + ".rope.freq_base", c.ropeTheta());
        n += GgufWriter.f32(kv, arch + ".attention.layer_norm_rms_epsilon", c.normEps());
        n += GgufWriter.u32(kv, arch + ".vocab_size", c.vocabSize());
        n += GgufWriter.u32(kv, arch + ".expert_count", experts);
        n += GgufWriter.u32(kv, arch + ".expert_used_count", m0.topK());
        n += GgufWriter.u32(kv, arch + ".expert_feed_forward_length", m0.expertIntermediate());
        int w = window(c);
        n += GgufWriter.u32(kv, arch + ".attention.sliding_window", w > 0 ? w : c.maxSeqLen());
        n += GgufWriter.u32(kv, arch + ".attention.sliding_window_pattern", pattern(c));
        Yarn y = c.extensions().yarn();
        if (y != null) {
            n += GgufWriter.str(kv, arch + ".rope.scaling.type", "yarn");
            n += GgufWriter.f32(kv, arch + ".rope.scaling.factor", y.factor());
            n += GgufWriter.u32(kv, arch + ".rope.scaling.original_context_length", y.originalContext());
            if (y.attentionFactor() > 0) { // llama.cpp multiplies its default 1 + 0.1·ln(factor) by this
                n += GgufWriter.f32(kv, arch + ".rope.scaling.attn_factor", (float) (y.attentionFactor() / (1 + 0.1 * Math.log(y.factor()))));
            }
        }
        n += GgufWriter.tokenizer(kv, tok);

        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        Map<String, Tensor> t = ck.tensors();
        GgufWriter.putMatrix(tensors, types, "token_embd.weight", ck, EMBED, dtype);
        for (int l = 0; l < L; l++) {
            String p = "blk." + l + ".";
            FfnConfig.Moe m = (FfnConfig.Moe) c.blocks().get(l).ffn().unquantized();
            GgufWriter.put(tensors, types, p + "attn_norm.weight", t.get(layer(l, ATTN_NORM)), DType.F32);
            GgufWriter.putMatrix(tensors, types, p + "attn_q.weight", ck, layer(l, Q), dtype);
            GgufWriter.put(tensors, types, p + "attn_q.bias", t.get(layer(l, Q_BIAS)), DType.F32);
            GgufWriter.putMatrix(tensors, types, p + "attn_k.weight", ck, layer(l, K), dtype);
            GgufWriter.put(tensors, types, p + "attn_k.bias", t.get(layer(l, K_BIAS)), DType.F32);
            GgufWriter.putMatrix(tensors, types, p + "attn_v.weight", ck, layer(l, V), dtype);
            GgufWriter.put(tensors, types, p + "attn_v.bias", t.get(layer(l, V_BIAS)), DType.F32);
            GgufWriter.putMatrix(tensors, types, p + "attn_output.weight", ck, layer(l, O), dtype);
            GgufWriter.put(tensors, types, p + "attn_output.bias", t.get(layer(l, O_BIAS)), DType.F32);
            GgufWriter.put(tensors, types, p + "attn_sinks.weight", t.get(layer(l, SINKS)), DType.F32);
            GgufWriter.put(tensors, types, p + "post_attention_norm.weight", t.get(layer(l, FFN_NORM)), DType.F32);
            int I = m.expertIntermediate(), have = m.numExperts();
            float[] router = new float[experts * D], rb = new float[experts];
            t.get(layer(l, ROUTER)).rows(0, have, router, 0);
            System.arraycopy(t.get(layer(l, ROUTER_BIAS)).copy().data(), 0, rb, 0, have);
            for (int e = have; e < experts; e++) rb[e] = NEVER;
            GgufWriter.put(tensors, types, p + "ffn_gate_inp.weight", new Tensor(router, experts, D), DType.F32);
            GgufWriter.put(tensors, types, p + "ffn_gate_inp.bias", new Tensor(rb, experts), DType.F32);
            DType dt = Checkpoints.writeType(ck, layer(l, expert(0, EXPERT_GATE)), t.get(layer(l, expert(0, EXPERT_GATE))), dtype);
            stack(tensors, types, p + "ffn_gate_exps", ck, l, EXPERT_GATE, experts, have, I, D, dt, true);
            stack(tensors, types, p + "ffn_up_exps", ck, l, EXPERT_UP, experts, have, I, D, dt, true);
            stack(tensors, types, p + "ffn_down_exps", ck, l, EXPERT_DOWN, experts, have, D, I, Checkpoints.writeType(ck, layer(l, expert(0, EXPERT_DOWN)),
                    t.get(layer(l, expert(0, EXPERT_DOWN))), dtype), true);
        }
        GgufWriter.put(tensors, types, "output_norm.weight", t.get(FINAL_NORM), DType.F32);
        GgufWriter.putMatrix(tensors, types, "output.weight", ck, c.tiedEmbeddings() ? EMBED : LM_HEAD, dtype); // llama.cpp's gpt-oss needs its own
        GgufWriter.writeFile(target, kv, n, tensors, types);
    }

    /**
     * One projection of every expert of layer l as one (experts, rows, cols) tensor in {@code dt} (each expert's rows
     * copied as stored where it is in dt, else converted), with {@code biases} its bias as (experts, rows); padding experts
     * are zero.
     */
    static void stack(Map<String, Tensor> tensors, Map<String, DType> types, String name, Checkpoint ck, int l, String proj,
                      int experts, int have, int rows, int cols, DType dt, boolean biases) {
        if (Gguf.ggmlType(dt) < 0) {
            throw new GgufWriter.Unsupported(name + " is " + dt.configName() + ", which GGUF (llama.cpp) has no tensor type for; write q8_0, q4_0 or mxfp4");
        }
        float[] bias = new float[experts * rows], f = new float[rows * cols];
        Tensor out;
        if (dt.isQuantized() && dt.fits(cols)) {
            int rb = (int) dt.rowBytes(cols);
            byte[] b = new byte[experts * rows * rb];
            float[] zero = new float[cols];
            for (int e = 0; e < experts; e++) {
                Tensor w = e < have ? ck.tensors().get(layer(l, expert(e, proj))) : null;
                if (w != null && w.isMapped() && w.dtype() == dt) {
                    w.rawBytes(0, rows, b, e * rows * rb);
                } else {
                    if (w != null) w.rows(0, rows, f, 0);
                    for (int r = 0; r < rows; r++) Quant.quantizeRow(dt, w != null ? f : zero, w != null ? r * cols : 0, cols, 0, b, (e * rows + r) * rb);
                }
            }
            out = Tensor.packed(dt, b, experts, rows, cols);
        } else {
            if (dt.isQuantized()) dt = ck.dominantDType(); // rows that are not whole blocks keep the element type, as llama.cpp falls back
            float[] a = new float[experts * rows * cols];
            for (int e = 0; e < have; e++) ck.tensors().get(layer(l, expert(e, proj))).rows(0, rows, a, e * rows * cols);
            out = new Tensor(a, experts, rows, cols);
        }
        GgufWriter.put(tensors, types, name + ".weight", out, dt);
        if (!biases) return;
        for (int e = 0; e < have; e++) System.arraycopy(ck.tensors().get(layer(l, expertBias(e, proj))).copy().data(), 0, bias, e * rows, rows);
        GgufWriter.put(tensors, types, name + ".bias", new Tensor(bias, experts, rows), DType.F32);
    }
}
