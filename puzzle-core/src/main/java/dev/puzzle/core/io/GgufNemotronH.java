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
 * an MLP layer has its width ({@code ffn_up}, {@code ffn_down}, squared ReLU). A model with MoE layers (Nemotron 3) is
 * {@code nemotron_h_moe}: a MoE layer has its expert width, top-k ({@code expert_used_count} per layer), {@code ffn_gate_inp},
 * the selection bias {@code exp_probs_b}, stacked {@code ffn_up_exps}/{@code ffn_down_exps} and the shared expert; llama.cpp
 * reads one expert count, so a layer with fewer experts is padded with zero experts whose selection bias is −10³⁰ (never
 * picked: exact). A both-no-op layer is the identity and is left out (exact). Refused, naming the layer, where llama.cpp's graph computes something else: a layer with both a mixer
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
            case FfnConfig.Moe m -> m.sharedIntermediate() == 0 ? "llama.cpp's nemotron_h_moe graph needs the layer's shared expert" : null;
            case FfnConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
        };
        if (why != null) return why;
        for (DType d : new DType[]{b.attention().quantizedWeights(), b.ffn().quantizedWeights()}) {
            if (d != null && Gguf.ggmlType(d) < 0) return d.configName() + " weights have no ggml type that llama.cpp runs";
        }
        return null;
    }

    static String modelRefusal(ModelConfig c) {
        var x = c.extensions();
        if (!x.noRope() || x.sinks() || x.outputBias() || x.experts() != null || c.qkvBias() || c.qkNorm()) {
            return "llama.cpp's nemotron_h graph has attention without RoPE, biases, sinks or q/k norms";
        }
        if (NemotronH.firstMoe(c) != null && x.sigmoidExperts() == null) return "llama.cpp's nemotron_h_moe routes as Nemotron 3 (sigmoid experts)";
        return null;
    }

    static String refusal(ModelConfig c) {
        String whole = modelRefusal(c);
        if (whole != null) return whole;
        AttentionConfig.Mamba2 mamba = NemotronH.firstMamba(c); // the shape every Mamba-2 layer must have
        FfnConfig.Moe first = NemotronH.firstMoe(c);
        for (int l = 0; l < c.numLayers(); l++) {
            String why = refusal(c.blocks().get(l), mamba);
            if (why == null && first != null) why = moeRefusal(c.blocks().get(l), first);
            if (why != null) return "layer " + l + " (" + c.blocks().get(l) + "): " + why;
        }
        return null;
    }

    /** Why a block of a Nemotron 3 model (its first MoE layer {@code first}) has no nemotron_h_moe encoding, or null. */
    static String moeRefusal(BlockConfig b, FfnConfig.Moe first) {
        FfnConfig f = b.ffn().unquantized();
        if (f instanceof FfnConfig.Relu2) return "a dense MLP beside MoE layers (llama.cpp's nemotron_h_moe makes every FFN layer a MoE)";
        if (!(f instanceof FfnConfig.Moe m)) return null;
        if (m.sharedIntermediate() != first.sharedIntermediate()) {
            return "a shared expert of width " + m.sharedIntermediate() + "; llama.cpp reads one width, " + first.sharedIntermediate();
        }
        if (m.normTopK() != first.normTopK()) return "normTopK differs from the first MoE layer's (llama.cpp reads one)";
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
        AttentionConfig.Mamba2 mamba = NemotronH.firstMamba(c); // the shape every Mamba-2 layer must have
        FfnConfig.Moe firstMoe = NemotronH.firstMoe(c);
        int L = kept.size(), D = c.dim();
        String arch = firstMoe != null ? "nemotron_h_moe" : "nemotron_h";
        ByteArrayOutputStream kv = new ByteArrayOutputStream();
        int n = 0;
        n += GgufWriter.str(kv, "general.architecture", arch);
        n += GgufWriter.str(kv, "general.name", GgufWriter.nameOf(ck));
        n += GgufWriter.u32(kv, "general.alignment", 32);
        n += GgufWriter.u32(kv, arch + ".context_length", c.maxSeqLen());
        n += GgufWriter.u32(kv, arch + ".embedding_length", D);
        n += GgufWriter.u32(kv, arch + ".block_count", L);
        n += GgufWriter.u32(kv, arch + ".vocab_size", c.vocabSize());
        int[] kvHeads = new int[L], ff = new int[L], used = new int[L];
        int experts = 0;
        for (int i = 0; i < L; i++) {
            BlockConfig b = c.blocks().get(kept.get(i));
            kvHeads[i] = b.attention().kvHeads();
            ff[i] = b.ffn().relu2Width();
            if (b.ffn().unquantized() instanceof FfnConfig.Moe m) {
                ff[i] = m.expertIntermediate();
                used[i] = m.topK();
                experts = Math.max(experts, m.numExperts());
            }
        }
        if (firstMoe != null) { // per-layer widths and top-k; one expert count (layers with fewer are padded), one shared width
            n += GgufWriter.u32(kv, arch + ".expert_count", experts);
            n += GgufWriter.i32s(kv, arch + ".expert_used_count", used);
            n += GgufWriter.i32s(kv, arch + ".expert_feed_forward_length", ff);
            n += GgufWriter.u32(kv, arch + ".expert_shared_feed_forward_length", firstMoe.sharedIntermediate());
            n += GgufWriter.u32(kv, arch + ".expert_shared_count", 1);
            n += GgufWriter.bool(kv, arch + ".expert_weights_norm", firstMoe.normTopK());
            n += GgufWriter.f32(kv, arch + ".expert_weights_scale", c.extensions().sigmoidExperts().scale());
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
            } else if (b.ffn().unquantized() instanceof FfnConfig.Moe moe) {
                int I = moe.expertIntermediate(), have = moe.numExperts();
                float[] router = new float[experts * D], corr = new float[experts];
                t.get(layer(l, ROUTER)).rows(0, have, router, 0);
                System.arraycopy(t.get(layer(l, ROUTER_CORRECTION)).copy().data(), 0, corr, 0, have);
                for (int e = have; e < experts; e++) corr[e] = GgufGptOss.NEVER; // padding: the selection never picks it
                GgufWriter.put(tensors, types, p + "ffn_gate_inp.weight", new Tensor(router, experts, D), DType.F32);
                GgufWriter.put(tensors, types, p + "exp_probs_b.bias", new Tensor(corr, experts), DType.F32);
                GgufGptOss.stack(tensors, types, p + "ffn_up_exps", ck, l, EXPERT_UP, experts, have, I, D,
                        Checkpoints.writeType(ck, layer(l, expert(0, EXPERT_UP)), t.get(layer(l, expert(0, EXPERT_UP))), dtype), false);
                GgufGptOss.stack(tensors, types, p + "ffn_down_exps", ck, l, EXPERT_DOWN, experts, have, D, I,
                        Checkpoints.writeType(ck, layer(l, expert(0, EXPERT_DOWN)), t.get(layer(l, expert(0, EXPERT_DOWN))), dtype), false);
                GgufWriter.putMatrix(tensors, types, p + "ffn_up_shexp.weight", ck, layer(l, SHARED_UP), dtype);
                GgufWriter.putMatrix(tensors, types, p + "ffn_down_shexp.weight", ck, layer(l, SHARED_DOWN), dtype);
            } else {
                GgufWriter.putMatrix(tensors, types, p + "ffn_up.weight", ck, layer(l, UP), dtype);
                GgufWriter.putMatrix(tensors, types, p + "ffn_down.weight", ck, layer(l, DOWN), dtype);
            }
        }
        GgufWriter.put(tensors, types, "output_norm.weight", t.get(FINAL_NORM), DType.F32);
        if (!c.tiedEmbeddings()) GgufWriter.putMatrix(tensors, types, "output.weight", ck, LM_HEAD, dtype);
        GgufWriter.writeFile(target, kv, n, tensors, types);
    }

    /**
     * Reads a nemotron_h / nemotron_h_moe GGUF (this toolkit's, or llama.cpp's converter's): each layer's kind from the
     * per-layer arrays as llama.cpp tells them apart, the Mamba-2 shape from {@code ssm.*}, A_log = log(−ssm_a), the
     * stacked experts split per expert (on the heap, FP32), and trailing experts whose selection bias is −10³⁰ or below (this
     * toolkit's padding) left out. Matrices stay mapped in their stored type.
     */
    static Checkpoint read(Path file, Gguf.Header h, java.nio.channels.FileChannel ch) throws IOException {
        Map<String, Object> m = h.metadata();
        String arch = String.valueOf(m.get("general.architecture"));
        int dim = Gguf.intMeta(file, m, arch + ".embedding_length"), layers = Gguf.intMeta(file, m, arch + ".block_count");
        if (layers > h.tensors().size()) throw dev.puzzle.core.PuzzleException.field(file, arch + ".block_count", layers, "more layers than the file has tensors");
        int heads = Gguf.intMeta(file, m, arch + ".attention.head_count");
        int[] kvPer = Gguf.perLayer(file, m, arch + ".attention.head_count_kv", layers, true);
        int[] ffPer = Gguf.perLayer(file, m, arch + ".feed_forward_length", layers, true);
        int headDim = m.containsKey(arch + ".attention.key_length") ? Gguf.intMeta(file, m, arch + ".attention.key_length") : dim / heads;
        int ctx = m.containsKey(arch + ".context_length") ? Gguf.intMeta(file, m, arch + ".context_length") : 4096;
        float eps = m.get(arch + ".attention.layer_norm_rms_epsilon") instanceof Number e ? e.floatValue() : 1e-5f;
        boolean moe = arch.equals("nemotron_h_moe");
        AttentionConfig.Mamba2 mamba = null;
        for (int l = 0; l < layers; l++) {
            if (kvPer[l] == 0 && ffPer[l] == 0 && mamba == null) {
                int inner = Gguf.intMeta(file, m, arch + ".ssm.inner_size"), H = Gguf.intMeta(file, m, arch + ".ssm.time_step_rank");
                if (inner % H != 0) throw dev.puzzle.core.PuzzleException.field(file, arch + ".ssm.inner_size", inner, "is not a multiple of ssm.time_step_rank " + H);
                try {
                    mamba = new AttentionConfig.Mamba2(H, inner / H, Gguf.intMeta(file, m, arch + ".ssm.state_size"), Gguf.intMeta(file, m, arch + ".ssm.group_count"),
                            Gguf.intMeta(file, m, arch + ".ssm.conv_kernel"));
                } catch (IllegalArgumentException e) {
                    throw new dev.puzzle.core.PuzzleException(file + ": " + e.getMessage());
                }
            }
        }
        int[] used = moe ? Gguf.perLayer(file, m, arch + ".expert_used_count", layers, true) : null;
        int[] width = moe ? Gguf.perLayer(file, m, arch + ".expert_feed_forward_length", layers, true) : null;
        int shared = moe ? Gguf.intMeta(file, m, arch + ".expert_shared_feed_forward_length") : 0;
        boolean norm = !moe || !Boolean.FALSE.equals(m.get(arch + ".expert_weights_norm"));
        float scale = moe && m.get(arch + ".expert_weights_scale") instanceof Number sc ? sc.floatValue() : 1f;
        Gguf.checkSizes(file, h);
        Map<String, Gguf.TensorInfo> byName = new LinkedHashMap<>();
        for (Gguf.TensorInfo t : h.tensors()) byName.put(t.name(), t);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        java.util.function.BiFunction<String, Boolean, Tensor> get = (name, required) -> {
            Gguf.TensorInfo t = byName.get(name);
            if (t == null) {
                if (required) throw new dev.puzzle.core.PuzzleException(file + ": missing tensor '" + name + "'");
                return null;
            }
            try {
                return Gguf.map(file, h, ch, t);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        java.util.function.BiConsumer<String, Tensor> put = (name, t) -> {
            tensors.put(name, t);
            types.put(name, t.dtype());
        };
        put.accept(EMBED, get.apply("token_embd.weight", true));
        put.accept(FINAL_NORM, get.apply("output_norm.weight", true));
        Tensor out = get.apply("output.weight", false);
        if (out != null) put.accept(LM_HEAD, out);
        List<BlockConfig> blocks = new ArrayList<>();
        int inter = 0;
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            boolean mixer = ffPer[l] == 0;
            put.accept(layer(l, mixer ? ATTN_NORM : FFN_NORM), get.apply(p + "attn_norm.weight", true));
            if (kvPer[l] == 0 && ffPer[l] == 0) {
                int H = mamba.heads();
                put.accept(layer(l, MAMBA_IN), get.apply(p + "ssm_in.weight", true));
                put.accept(layer(l, MAMBA_CONV), get.apply(p + "ssm_conv1d.weight", true));
                put.accept(layer(l, MAMBA_CONV_BIAS), get.apply(p + "ssm_conv1d.bias", true));
                put.accept(layer(l, MAMBA_DT_BIAS), get.apply(p + "ssm_dt.bias", true));
                float[] a = get.apply(p + "ssm_a", true).data(), aLog = new float[H];
                if (a.length != H) throw dev.puzzle.core.PuzzleException.field(file, p + "ssm_a", a.length + " values", "needs one per head (" + H + ")");
                for (int i = 0; i < H; i++) {
                    if (!(a[i] < 0)) throw dev.puzzle.core.PuzzleException.field(file, p + "ssm_a[" + i + "]", a[i], "A = −exp(A_log) must be negative");
                    aLog[i] = (float) Math.log(-a[i]);
                }
                tensors.put(layer(l, MAMBA_A_LOG), new Tensor(aLog, H));
                types.put(layer(l, MAMBA_A_LOG), DType.F32);
                put.accept(layer(l, MAMBA_D), new Tensor(get.apply(p + "ssm_d", true).data(), H));
                put.accept(layer(l, MAMBA_NORM), new Tensor(get.apply(p + "ssm_norm.weight", true).data(), mamba.inner()));
                put.accept(layer(l, MAMBA_OUT), get.apply(p + "ssm_out.weight", true));
                blocks.add(new BlockConfig(mamba, new FfnConfig.NoOp()));
            } else if (ffPer[l] == 0) {
                put.accept(layer(l, Q), get.apply(p + "attn_q.weight", true));
                put.accept(layer(l, K), get.apply(p + "attn_k.weight", true));
                put.accept(layer(l, V), get.apply(p + "attn_v.weight", true));
                put.accept(layer(l, O), get.apply(p + "attn_output.weight", true));
                blocks.add(new BlockConfig(new AttentionConfig.Gqa(kvPer[l]), new FfnConfig.NoOp()));
            } else if (moe) {
                int I = width[l] > 0 ? width[l] : ffPer[l];
                float[] corr = get.apply(p + "exp_probs_b.bias", true).data();
                int E = corr.length;
                while (E > 1 && corr[E - 1] <= GgufGptOss.NEVER / 2) E--; // this toolkit's padding: never selected
                Tensor router = get.apply(p + "ffn_gate_inp.weight", true), up = get.apply(p + "ffn_up_exps.weight", true), down = get.apply(p + "ffn_down_exps.weight", true);
                float[] r = new float[E * dim];
                router.rows(0, E, r, 0);
                tensors.put(layer(l, ROUTER), new Tensor(r, E, dim));
                types.put(layer(l, ROUTER), router.dtype());
                tensors.put(layer(l, ROUTER_CORRECTION), new Tensor(java.util.Arrays.copyOf(corr, E), E));
                types.put(layer(l, ROUTER_CORRECTION), DType.F32);
                for (int e = 0; e < E; e++) {
                    float[] u = new float[I * dim], d = new float[dim * I];
                    up.rows(e * I, I, u, 0);
                    down.rows(e * dim, dim, d, 0);
                    tensors.put(layer(l, expert(e, EXPERT_UP)), new Tensor(u, I, dim));
                    types.put(layer(l, expert(e, EXPERT_UP)), up.dtype());
                    tensors.put(layer(l, expert(e, EXPERT_DOWN)), new Tensor(d, dim, I));
                    types.put(layer(l, expert(e, EXPERT_DOWN)), down.dtype());
                }
                put.accept(layer(l, SHARED_UP), get.apply(p + "ffn_up_shexp.weight", true));
                put.accept(layer(l, SHARED_DOWN), get.apply(p + "ffn_down_shexp.weight", true));
                if (used[l] < 1 || used[l] > E) throw dev.puzzle.core.PuzzleException.field(file, arch + ".expert_used_count[" + l + "]", used[l], "must be in [1, " + E + "]");
                blocks.add(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Moe(E, used[l], I, norm, shared)));
                inter = Math.max(inter, I);
            } else {
                put.accept(layer(l, UP), get.apply(p + "ffn_up.weight", true));
                put.accept(layer(l, DOWN), get.apply(p + "ffn_down.weight", true));
                blocks.add(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(ffPer[l])));
                inter = Math.max(inter, ffPer[l]);
            }
        }
        int kv = java.util.Arrays.stream(kvPer).max().orElse(0);
        int vocab = tensors.get(EMBED).shape()[0];
        try {
            ModelConfig c = new ModelConfig(NemotronH.ARCH, dim, heads, headDim, kv > 0 ? kv : heads, inter > 0 ? inter : dim, vocab, ctx, eps, 10000f,
                    dev.puzzle.core.model.RopeStyle.HALF_SPLIT, out == null, false, blocks, false,
                    new ModelConfig.Extensions(false, false, null, null, true, moe ? new ModelConfig.SigmoidExperts(scale) : null));
            return new Checkpoint(c, tensors, types, Gguf.tokenizer(file, m), file.toString());
        } catch (IllegalArgumentException e) {
            throw new dev.puzzle.core.PuzzleException(file + ": " + e.getMessage(), e);
        }
    }
}
