package dev.puzzle.core.io;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.BpeTokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * A Nemotron-H model (parent or child) as GGUF for llama.cpp's {@code nemotron_h} architecture: every layer one
 * {@code attn_norm} and one mixer, told apart by the per-layer arrays — a Mamba-2 layer has 0 KV heads and FFN width 0
 * ({@code ssm_in}, {@code ssm_conv1d} + bias, {@code ssm_dt} bias, {@code ssm_a} = −exp(A_log), {@code ssm_d},
 * {@code ssm_norm} (groups, I/groups), {@code ssm_out}), an attention layer has KV heads and width 0 (q/k/v/o, no RoPE),
 * an MLP layer has its width ({@code ffn_up}, {@code ffn_down}, squared ReLU). A both-no-op layer is the identity and is
 * left out (exact). Refused, naming the layer, where llama.cpp's graph computes something else: a layer with both a mixer
 * and an FFN, Mamba-2 layers of more than one shape (llama.cpp reads one {@code ssm.*} set), windows, FP8 KV caches,
 * linear parts, SwiGLU or MoE FFNs.
 */
final class GgufNemotronH {
    private GgufNemotronH() {}

    /** Why this block of a Nemotron-H model whose Mamba-2 layers have the shape {@code mamba} has no exact llama.cpp encoding, or null. */
    static String refusal(BlockConfig b, AttentionConfig.Mamba2 mamba) {
        AttentionConfig a = b.attention().unquantized();
        FfnConfig f = b.ffn().unquantized();
        if (b.attention().hasWeights() && b.ffn().hasWeights()) return "a nemotron_h layer has one mixer or one MLP, not both";
        String why = switch (a) {
            case AttentionConfig.Gqa g -> g.fp8Kv() ? "an FP8 KV cache per layer is not expressible in GGUF" : null;
            case AttentionConfig.Window w -> "llama.cpp's nemotron_h graph has no sliding-window attention";
            case AttentionConfig.Linear x -> "a linear mixer has no slot in llama.cpp's nemotron_h graph";
            case AttentionConfig.Mamba2 m -> m.equals(mamba) ? null
                    : "a Mamba-2 mixer of shape " + m + " beside " + mamba + " (llama.cpp's nemotron_h reads one Mamba-2 shape per model)";
            case AttentionConfig.NoOp n -> null;
            case AttentionConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
        };
        if (why != null) return why;
        why = switch (f) {
            case FfnConfig.Relu2 r -> null;
            case FfnConfig.NoOp n -> null;
            case FfnConfig.Dense d -> "a SwiGLU FFN has no slot in llama.cpp's nemotron_h graph (its MLPs are squared ReLU)";
            case FfnConfig.Linear x -> "a linear FFN has no slot in llama.cpp's nemotron_h graph";
            case FfnConfig.Moe m -> "mixture-of-experts layers (nemotron_h_moe) are not written yet";
            case FfnConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
        };
        if (why != null) return why;
        for (DType d : new DType[]{b.attention().quantizedWeights(), b.ffn().quantizedWeights()}) {
            if (d != null && Gguf.ggmlType(d) < 0) return d.configName() + " weights have no ggml type that llama.cpp runs";
        }
        return null;
    }

    /** The shape every Mamba-2 layer must have: the first one's (null without one). */
    static AttentionConfig.Mamba2 mamba(ModelConfig c) {
        for (BlockConfig b : c.blocks()) if (b.attention().unquantized() instanceof AttentionConfig.Mamba2 m) return m;
        return null;
    }

    static String modelRefusal(ModelConfig c) {
        var x = c.extensions();
        if (!x.noRope() || x.sinks() || x.outputBias() || x.experts() != null || c.qkvBias() || c.qkNorm()) {
            return "llama.cpp's nemotron_h graph has attention without RoPE, biases, sinks or q/k norms";
        }
        return null;
    }

    static String refusal(ModelConfig c) {
        String whole = modelRefusal(c);
        if (whole != null) return whole;
        AttentionConfig.Mamba2 mamba = mamba(c);
        for (int l = 0; l < c.numLayers(); l++) {
            String why = refusal(c.blocks().get(l), mamba);
            if (why != null) return "layer " + l + " (" + c.blocks().get(l) + "): " + why;
        }
        return null;
    }

    static void write(Checkpoint ck, Path target, DType dtype) throws IOException {
        ModelConfig c = ck.config();
        String why = refusal(c);
        if (why != null) throw new GgufWriter.Unsupported(ck.source() + ": " + why);
        BpeTokenizer tok = GgufWriter.tokenizer(ck);
        List<Integer> kept = new ArrayList<>(); // a both-no-op layer is the identity: left out
        for (int l = 0; l < c.numLayers(); l++) {
            BlockConfig b = c.blocks().get(l);
            if (b.attention().hasWeights() || b.ffn().hasWeights()) kept.add(l);
        }
        if (kept.isEmpty()) throw new GgufWriter.Unsupported(ck.source() + ": every layer is a no-op; llama.cpp needs at least one");
        AttentionConfig.Mamba2 mamba = mamba(c);
        int L = kept.size(), D = c.dim();
        String arch = "nemotron_h";
        ByteArrayOutputStream kv = new ByteArrayOutputStream();
        int n = 0;
        n += GgufWriter.str(kv, "general.architecture", arch);
        n += GgufWriter.str(kv, "general.name", GgufWriter.nameOf(ck));
        n += GgufWriter.u32(kv, "general.alignment", 32);
        n += GgufWriter.u32(kv, arch + ".context_length", c.maxSeqLen());
        n += GgufWriter.u32(kv, arch + ".embedding_length", D);
        n += GgufWriter.u32(kv, arch + ".block_count", L);
        n += GgufWriter.u32(kv, arch + ".vocab_size", c.vocabSize());
        int[] kvHeads = new int[L], ff = new int[L];
        for (int i = 0; i < L; i++) {
            BlockConfig b = c.blocks().get(kept.get(i));
            kvHeads[i] = b.attention().kvHeads();
            ff[i] = b.ffn().relu2Width();
        }
        n += GgufWriter.u32(kv, arch + ".attention.head_count", c.numHeads());
        n += GgufWriter.i32s(kv, arch + ".attention.head_count_kv", kvHeads);
        n += GgufWriter.i32s(kv, arch + ".feed_forward_length", ff);
        n += GgufWriter.u32(kv, arch + ".attention.key_length", c.headDim());
        n += GgufWriter.u32(kv, arch + ".attention.value_length", c.headDim());
        n += GgufWriter.f32(kv, arch + ".attention.layer_norm_rms_epsilon", c.normEps());
        n += GgufWriter.f32(kv, arch + ".attention.layer_norm_epsilon", c.normEps());
        // llama.cpp reads the ssm.* keys even without a Mamba-2 layer; such a model says a 1-head one it never builds
        AttentionConfig.Mamba2 m = mamba != null ? mamba : new AttentionConfig.Mamba2(1, 1, 1, 1, 1);
        n += GgufWriter.u32(kv, arch + ".ssm.conv_kernel", m.conv());
        n += GgufWriter.u32(kv, arch + ".ssm.inner_size", m.inner());
        n += GgufWriter.u32(kv, arch + ".ssm.state_size", m.state());
        n += GgufWriter.u32(kv, arch + ".ssm.time_step_rank", m.heads());
        n += GgufWriter.u32(kv, arch + ".ssm.group_count", m.groups());
        n += GgufWriter.tokenizer(kv, tok);

        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        Map<String, Tensor> t = ck.tensors();
        GgufWriter.putMatrix(tensors, types, "token_embd.weight", ck, EMBED, dtype);
        for (int i = 0; i < L; i++) {
            int l = kept.get(i);
            BlockConfig b = c.blocks().get(l);
            String p = "blk." + i + ".";
            boolean mixer = b.attention().hasWeights();
            GgufWriter.put(tensors, types, p + "attn_norm.weight", t.get(layer(l, mixer ? ATTN_NORM : FFN_NORM)), DType.F32);
            if (b.attention().unquantized() instanceof AttentionConfig.Mamba2 mm) {
                int H = mm.heads(), G = mm.groups(), I = mm.inner();
                GgufWriter.putMatrix(tensors, types, p + "ssm_in.weight", ck, layer(l, MAMBA_IN), dtype);
                GgufWriter.put(tensors, types, p + "ssm_conv1d.weight", t.get(layer(l, MAMBA_CONV)), DType.F32);
                GgufWriter.put(tensors, types, p + "ssm_conv1d.bias", t.get(layer(l, MAMBA_CONV_BIAS)), DType.F32);
                GgufWriter.put(tensors, types, p + "ssm_dt.bias", t.get(layer(l, MAMBA_DT_BIAS)), DType.F32);
                float[] aLog = t.get(layer(l, MAMBA_A_LOG)).data(), a = new float[H];
                for (int h = 0; h < H; h++) a[h] = (float) -Math.exp(aLog[h]); // llama.cpp stores A itself
                GgufWriter.put(tensors, types, p + "ssm_a", new Tensor(a, H, 1), DType.F32);
                GgufWriter.put(tensors, types, p + "ssm_d", t.get(layer(l, MAMBA_D)).reshape(H, 1), DType.F32);
                GgufWriter.put(tensors, types, p + "ssm_norm.weight", t.get(layer(l, MAMBA_NORM)).reshape(G, I / G), DType.F32);
                GgufWriter.putMatrix(tensors, types, p + "ssm_out.weight", ck, layer(l, MAMBA_OUT), dtype);
            } else if (b.attention().hasWeights()) { // GQA without RoPE: q and k keep their rows
                GgufWriter.putMatrix(tensors, types, p + "attn_q.weight", ck, layer(l, Q), dtype);
                GgufWriter.putMatrix(tensors, types, p + "attn_k.weight", ck, layer(l, K), dtype);
                GgufWriter.putMatrix(tensors, types, p + "attn_v.weight", ck, layer(l, V), dtype);
                GgufWriter.putMatrix(tensors, types, p + "attn_output.weight", ck, layer(l, O), dtype);
            } else {
                GgufWriter.putMatrix(tensors, types, p + "ffn_up.weight", ck, layer(l, UP), dtype);
                GgufWriter.putMatrix(tensors, types, p + "ffn_down.weight", ck, layer(l, DOWN), dtype);
            }
        }
        GgufWriter.put(tensors, types, "output_norm.weight", t.get(FINAL_NORM), DType.F32);
        if (!c.tiedEmbeddings()) GgufWriter.putMatrix(tensors, types, "output.weight", ck, LM_HEAD, dtype);
        GgufWriter.writeFile(target, kv, n, tensors, types);
    }
}
