package dev.puzzle.core.io;

import dev.puzzle.core.tensor.DType;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.BpeTokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * Writes a model as GGUF (version 3) for llama.cpp. A uniform Llama is architecture {@code llama}; a
 * heterogeneous one is {@code deci} (llama.cpp's Nemotron-NAS graph) with per-layer integer arrays
 * {@code deci.attention.head_count}, {@code head_count_kv} and {@code feed_forward_length}:
 * <ul>
 *   <li>attention no-op: head count 0 and KV heads 0, no attention tensors;</li>
 *   <li>attention replaced by a linear map: KV heads 0, only {@code attn_norm} and {@code attn_output} (the map);</li>
 *   <li>FFN no-op: llama.cpp's deci graph skips the rest of a layer whose FFN length is 0, dropping that
 *       layer's attention output; a layer that keeps attention gets an exact stand-in instead — an FFN of
 *       width 1 whose down projection is zero (its output is 0, the residual add happens) — and a layer
 *       with neither attention nor FFN is written with length 0 (nothing to lose).</li>
 * </ul>
 * Refused, naming the layer and the variant: a linear FFN (no tensor slot in deci), sliding-window
 * attention (not expressible per layer), an FP8 KV cache, MoE layers, q/k/v biases and q/k norms. Q and
 * K rows are written in llama.cpp's RoPE order (pairs adjacent). The tokenizer (SentencePiece-style BPE
 * with byte fallback) goes into {@code tokenizer.ggml.*} so that llama.cpp encodes text to the same ids.
 * Writes are atomic.
 */
public final class GgufWriter {
    private GgufWriter() {}

    static final int ALIGN = 32;
    private static final int T_UINT32 = 4, T_INT32 = 5, T_FLOAT32 = 6, T_BOOL = 7, T_STRING = 8, T_ARRAY = 9;

    /** Refusals: this variant of this layer has no GGUF encoding that llama.cpp runs exactly. */
    public static final class Unsupported extends PuzzleException {
        public Unsupported(String message) {
            super(message);
        }
    }

    /** Why no layer of this model can be written for llama.cpp (biases, q/k norms; for gpt-oss, what its graph fixes), or null. */
    public static String refusal(ModelConfig c) {
        if (c.architecture().equals(HfConfig.GPT_OSS)) return GgufGptOss.modelRefusal(c);
        if (c.architecture().equals(NemotronH.ARCH)) return GgufNemotronH.modelRefusal(c);
        if (c.extensions().any()) return "gpt-oss's attention sinks, biases, YaRN and clamped experts (and attention without RoPE) are written to GGUF only as the gpt-oss"
                + " (nemotron_h) architecture";
        if (c.qkvBias()) return "q/k/v biases have no slot in GGUF's llama/deci graphs";
        if (c.qkNorm()) return "per-head q/k norms (Qwen3) have no slot in GGUF's llama/deci graphs";
        return null;
    }

    /** Why this block of a child of {@code parent} has no GGUF encoding that llama.cpp runs exactly (its llama/deci or gpt-oss graph), or null. */
    public static String refusal(ModelConfig parent, BlockConfig b) {
        if (parent.architecture().equals(NemotronH.ARCH)) return GgufNemotronH.refusal(b, NemotronH.firstMamba(parent));
        return parent.architecture().equals(HfConfig.GPT_OSS) ? GgufGptOss.refusal(parent, b) : refusal(b);
    }

    /** Why this block has no GGUF encoding that llama.cpp's llama/deci graphs run exactly, or null when it has one. */
    public static String refusal(BlockConfig b) {
        String attention = refusal(b.attention());
        return attention != null ? attention : refusal(b.ffn());
    }

    private static String refusal(AttentionConfig a) {
        return switch (a) {
            case AttentionConfig.Window w -> "sliding-window attention is not expressible per layer in GGUF's deci";
            case AttentionConfig.Gqa g -> g.fp8Kv() ? "an FP8 KV cache per layer is not expressible in GGUF" : null;
            case AttentionConfig.Quantized q -> Gguf.ggmlType(q.weights()) < 0 ? formatRefusal(q.weights()) : refusal(q.base());
            case AttentionConfig.Linear l -> null;
            case AttentionConfig.Mamba2 m -> "a Mamba-2 mixer has no slot in GGUF's llama/deci graphs (only Nemotron-H models are written as nemotron_h)";
            case AttentionConfig.NoOp n -> null;
        };
    }

    private static String refusal(FfnConfig f) {
        return switch (f) {
            case FfnConfig.Linear l -> "a linear FFN has no tensor slot in GGUF's deci";
            case FfnConfig.Moe m -> "mixture-of-experts layers are not written to GGUF yet";
            case FfnConfig.Quantized q -> Gguf.ggmlType(q.weights()) < 0 ? formatRefusal(q.weights()) : refusal(q.base());
            case FfnConfig.Dense d -> null;
            case FfnConfig.Relu2 r -> "a squared-ReLU MLP has no slot in GGUF's llama/deci graphs (Nemotron-H models are written as nemotron_h)";
            case FfnConfig.NoOp n -> null;
        };
    }

    private static String formatRefusal(DType d) {
        return d.configName() + " weights have no ggml type that llama.cpp runs";
    }

    /** deci's attention head count of a layer: 0 is a no-op attention (and 0 KV heads with heads a linear one). */
    private static int heads(BlockConfig b, ModelConfig c) {
        return switch (b.attention().unquantized()) {
            case AttentionConfig.NoOp n -> 0;
            case AttentionConfig.Gqa g -> c.numHeads();
            case AttentionConfig.Linear x -> c.numHeads();
            case AttentionConfig.Window w -> throw new IllegalStateException("refused above");
            case AttentionConfig.Mamba2 m -> throw new IllegalStateException("refused above");
            case AttentionConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
        };
    }

    /**
     * Whether layer {@code l}'s no-op attention is written as a linear attention of zeros (x + 0·x): llama.cpp's deci
     * takes the head size from layer 0's head count, so a layer 0 without heads gives every attention tensor size 0.
     */
    private static boolean zeroLinear(ModelConfig c, int l) {
        return l == 0 && c.blocks().get(0).attention().unquantized() instanceof AttentionConfig.NoOp;
    }

    /**
     * Whether layer {@code l}'s no-op FFN is written as a zero FFN of width 1: where the layer has attention heads
     * (deci skips the residual add of a layer without FFN, losing the attention's output) and in the last layer (a last
     * layer without FFN skips the selection of the output rows: llama.cpp fails).
     */
    private static boolean zeroFfn(ModelConfig c, int l) {
        return heads(c.blocks().get(l), c) > 0 || zeroLinear(c, l) || l == c.numLayers() - 1;
    }

    /** A norm weight of ones: a stand-in part's norm, which its zero matrix makes irrelevant. */
    private static Tensor ones(int D) {
        float[] w = new float[D];
        java.util.Arrays.fill(w, 1f);
        return new Tensor(w, D);
    }

    /** llama.cpp's architecture this toolkit writes the model as: gpt-oss, llama (a uniform Llama) or deci. */
    public static String architecture(ModelConfig c) {
        if (c.architecture().equals(NemotronH.ARCH)) return NemotronH.firstMoe(c) != null ? "nemotron_h_moe" : "nemotron_h";
        return c.architecture().equals(HfConfig.GPT_OSS) ? "gpt-oss" : c.isUniformParent() ? "llama" : "deci";
    }

    public static void write(Checkpoint ck, Path target, DType dtype) throws IOException {
        ModelConfig c = ck.config();
        if (c.architecture().equals(HfConfig.GPT_OSS)) {
            GgufGptOss.write(ck, target, dtype);
            return;
        }
        if (c.architecture().equals(NemotronH.ARCH)) {
            GgufNemotronH.write(ck, target, dtype);
            return;
        }
        String whole = refusal(c);
        if (whole != null) throw new Unsupported(ck.source() + ": " + whole);
        for (int l = 0; l < c.numLayers(); l++) {
            BlockConfig b = c.blocks().get(l);
            String why = refusal(b);
            if (why != null) throw new Unsupported("layer " + l + " (" + b.toString() + "): " + why);
        }
        if (c.blocks().stream().noneMatch(b -> b.attention().kvHeads() > 0)) {
            throw new Unsupported(ck.source() + ": no layer keeps a KV cache (every attention is no-op or linear), and llama.cpp makes no context for such a model");
        }
        BpeTokenizer tok = tokenizer(ck);
        Checkpoint inter = toInterleaved(ck);
        boolean uniform = c.isUniformParent();
        String arch = uniform ? "llama" : "deci";
        DType dt = dtype != null && !dtype.isQuantized() ? dtype : ck.dominantDType();

        ByteArrayOutputStream kv = new ByteArrayOutputStream();
        int kvCount = 0;
        kvCount += str(kv, "general.architecture", arch);
        kvCount += str(kv, "general.name", nameOf(ck));
        kvCount += u32(kv, "general.alignment", ALIGN);
        kvCount += u32(kv, arch + ".context_length", c.maxSeqLen());
        kvCount += u32(kv, arch + ".embedding_length", c.dim());
        kvCount += u32(kv, arch + ".block_count", c.numLayers());
        kvCount += u32(kv, arch + ".rope.dimension_count", c.headDim());
        kvCount += f32(kv, arch + ".rope.freq_base", c.ropeTheta());
        kvCount += f32(kv, arch + ".attention.layer_norm_rms_epsilon", c.normEps());
        kvCount += u32(kv, arch + ".vocab_size", c.vocabSize());
        if (uniform) {
            kvCount += u32(kv, arch + ".feed_forward_length", c.intermediateSize());
            kvCount += u32(kv, arch + ".attention.head_count", c.numHeads());
            kvCount += u32(kv, arch + ".attention.head_count_kv", c.numKvHeads());
        } else {
            int L = c.numLayers();
            int[] heads = new int[L], kvh = new int[L], ff = new int[L];
            for (int l = 0; l < L; l++) {
                BlockConfig b = c.blocks().get(l);
                heads[l] = zeroLinear(c, l) ? c.numHeads() : heads(b, c);
                kvh[l] = b.attention().kvHeads();
                ff[l] = switch (b.ffn().unquantized()) {
                    case FfnConfig.Dense d -> d.intermediateSize();
                    case FfnConfig.Relu2 r -> throw new IllegalStateException("refused above");
                    case FfnConfig.NoOp n -> zeroFfn(c, l) ? 1 : 0; // keep the attention output (or the last layer's rows): a zero FFN of width 1
                    case FfnConfig.Linear x -> throw new IllegalStateException("refused above");
                    case FfnConfig.Moe m -> throw new IllegalStateException("refused above");
                    case FfnConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
                };
            }
            kvCount += i32s(kv, arch + ".attention.head_count", heads);
            kvCount += i32s(kv, arch + ".attention.head_count_kv", kvh);
            kvCount += i32s(kv, arch + ".feed_forward_length", ff);
        }
        kvCount += tokenizer(kv, tok);

        // Tensors, llama.cpp names, each in the output dtype (norms in F32), data aligned to 32 bytes.
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        Map<String, Tensor> t = inter.tensors();
        putMatrix(tensors, types, "token_embd.weight", inter, EMBED, dtype);
        for (int l = 0; l < c.numLayers(); l++) {
            BlockConfig b = c.blocks().get(l);
            String p = "blk." + l + ".";
            switch (b.attention().unquantized()) { // a quantized part's matrices are written in their stored types
                case AttentionConfig.Gqa g -> {
                    put(tensors, types, p + "attn_norm.weight", t.get(layer(l, ATTN_NORM)), DType.F32);
                    putMatrix(tensors, types, p + "attn_q.weight", inter, layer(l, Q), dtype);
                    putMatrix(tensors, types, p + "attn_k.weight", inter, layer(l, K), dtype);
                    putMatrix(tensors, types, p + "attn_v.weight", inter, layer(l, V), dtype);
                    putMatrix(tensors, types, p + "attn_output.weight", inter, layer(l, O), dtype);
                }
                case AttentionConfig.Linear lin -> {
                    put(tensors, types, p + "attn_norm.weight", t.get(layer(l, ATTN_NORM)), DType.F32);
                    putMatrix(tensors, types, p + "attn_output.weight", inter, layer(l, ATTN_LINEAR), dtype);
                }
                case AttentionConfig.NoOp n -> {
                    if (!uniform && zeroLinear(c, l)) { // a zero linear attention: llama.cpp reads the head size from layer 0's heads
                        int D = c.dim();
                        put(tensors, types, p + "attn_norm.weight", ones(D), DType.F32);
                        put(tensors, types, p + "attn_output.weight", new Tensor(new float[D * D], D, D), dt);
                    }
                }
                case AttentionConfig.Window w -> throw new IllegalStateException("refused above");
                case AttentionConfig.Mamba2 m -> throw new IllegalStateException("refused above");
                case AttentionConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
            }
            switch (b.ffn().unquantized()) {
                case FfnConfig.Dense d -> {
                    put(tensors, types, p + "ffn_norm.weight", t.get(layer(l, FFN_NORM)), DType.F32);
                    putMatrix(tensors, types, p + "ffn_gate.weight", inter, layer(l, GATE), dtype);
                    putMatrix(tensors, types, p + "ffn_up.weight", inter, layer(l, UP), dtype);
                    putMatrix(tensors, types, p + "ffn_down.weight", inter, layer(l, DOWN), dtype);
                }
                case FfnConfig.NoOp n -> {
                    if (!uniform && zeroFfn(c, l)) { // the zero FFN that keeps llama.cpp's residual add (and the last layer's output rows)
                        int D = c.dim();
                        put(tensors, types, p + "ffn_norm.weight", ones(D), DType.F32);
                        put(tensors, types, p + "ffn_gate.weight", new Tensor(new float[D], 1, D), dt);
                        put(tensors, types, p + "ffn_up.weight", new Tensor(new float[D], 1, D), dt);
                        put(tensors, types, p + "ffn_down.weight", new Tensor(new float[D], D, 1), dt);
                    }
                }
                case FfnConfig.Linear x -> throw new IllegalStateException("refused above");
                case FfnConfig.Relu2 r -> throw new IllegalStateException("refused above");
                case FfnConfig.Moe m -> throw new IllegalStateException("refused above");
                case FfnConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
            }
        }
        put(tensors, types, "output_norm.weight", t.get(FINAL_NORM), DType.F32);
        if (!c.tiedEmbeddings()) putMatrix(tensors, types, "output.weight", inter, LM_HEAD, dtype); // tied: llama.cpp reuses token_embd
        writeFile(target, kv, kvCount, tensors, types);
    }

    /** The checkpoint's tokenizer, which a GGUF for llama.cpp needs: SentencePiece-style BPE of the model's vocabulary. */
    static BpeTokenizer tokenizer(Checkpoint ck) {
        if (!(ck.tokenizer() instanceof BpeTokenizer tok)) {
            throw PuzzleException.setting("tokenizer", null, ck.source() + ": a GGUF for llama.cpp needs a SentencePiece-style tokenizer (a llama2.c tokenizer.bin, or the"
                    + " model's own); name one");
        }
        if (tok.vocabSize() != ck.config().vocabSize()) {
            throw new PuzzleException(ck.source() + ": the tokenizer has " + tok.vocabSize() + " tokens, the model " + ck.config().vocabSize());
        }
        return tok;
    }

    /** The file: header, key-values, tensor infos, then each tensor's data in its type, aligned; atomic. */
    static void writeFile(Path target, ByteArrayOutputStream kv, int kvCount, Map<String, Tensor> tensors, Map<String, DType> types) throws IOException {
        ByteArrayOutputStream info = new ByteArrayOutputStream();
        long offset = 0;
        List<Long> offsets = new ArrayList<>();
        for (var e : tensors.entrySet()) {
            int[] shape = e.getValue().shape();
            string(info, e.getKey());
            info.write(le32(shape.length));
            for (int d = shape.length - 1; d >= 0; d--) info.write(le64(shape[d])); // ggml order: innermost first
            info.write(le32(Gguf.ggmlType(types.get(e.getKey()))));
            info.write(le64(offset));
            offsets.add(offset);
            offset += pad(types.get(e.getKey()).byteSize(shape));
        }
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        head.write(le32(0x46554747));
        head.write(le32(3));
        head.write(le64(tensors.size()));
        head.write(le64(kvCount));
        kv.writeTo(head);
        info.writeTo(head);
        int headPad = (int) (pad(head.size()) - head.size());
        head.write(new byte[headPad]);
        byte[] header = head.toByteArray();
        AtomicFiles.write(target, out -> {
            out.write(header);
            for (var e : tensors.entrySet()) {
                DType tt = types.get(e.getKey());
                Safetensors.writeData(out, e.getValue(), tt);
                long bytes = tt.byteSize(e.getValue().shape());
                out.write(new byte[(int) (pad(bytes) - bytes)]);
            }
        });
    }

    static String nameOf(Checkpoint ck) {
        String s = ck.source() == null ? "model" : Path.of(ck.source()).getFileName().toString();
        return s.isEmpty() ? "model" : s;
    }

    static void put(Map<String, Tensor> tensors, Map<String, DType> types, String name, Tensor t, DType dt) {
        if (t == null) throw new PuzzleException("missing tensor for GGUF '" + name + "'");
        tensors.put(name, t);
        types.put(name, dt);
    }

    /**
     * A matrix of a layer, in the type {@link Checkpoints#writeType} gives it (the requested type, or as
     * stored; quantized where its rows are whole blocks); NVFP4 and FP8 have no type in the llama.cpp this
     * toolkit checks against and are refused, naming the tensor.
     */
    static void putMatrix(Map<String, Tensor> tensors, Map<String, DType> types, String name, Checkpoint ck, String hfName, DType requested) {
        Tensor t = ck.tensors().get(hfName);
        if (t == null) throw new PuzzleException("missing tensor for GGUF '" + name + "'");
        DType d = Checkpoints.writeType(ck, hfName, t, requested);
        if (Gguf.ggmlType(d) < 0) {
            throw new Unsupported(name + " (" + hfName + ") is " + d.configName() + ", which GGUF (llama.cpp) has no tensor type for; write q8_0, q4_0 or mxfp4");
        }
        put(tensors, types, name, t, d);
    }

    /** The checkpoint with Q/K rows (per head) in interleaved RoPE order, as llama.cpp's graphs rotate them. */
    static Checkpoint toInterleaved(Checkpoint ck) {
        ModelConfig c = ck.config();
        if (c.ropeStyle() == RopeStyle.INTERLEAVED) return ck;
        Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
        int E = c.headDim();
        for (int l = 0; l < c.numLayers(); l++) {
            if (c.blocks().get(l).attention().kvHeads() == 0) continue; // no q and k to rotate
            for (String s : new String[]{Q, K}) {
                Tensor w = t.get(layer(l, s));
                t.put(layer(l, s), w.permuteRows(dev.puzzle.core.model.Rope.interleavedRows(w.dim(0), E))); // in its own storage: quantized rows move as bytes
            }
        }
        return new Checkpoint(c.withRopeStyle(RopeStyle.INTERLEAVED), t, ck.storedTypes(), ck.tokenizer(), ck.source());
    }

    static int tokenizer(ByteArrayOutputStream kv, BpeTokenizer tok) throws IOException {
        int n = tok.vocabSize();
        String[] pieces = new String[n];
        float[] scores = new float[n];
        int[] types = new int[n];
        for (int i = 0; i < n; i++) {
            String p = tok.piece(i);
            scores[i] = tok.score(i);
            boolean bytePiece = p.length() == 6 && p.startsWith("<0x") && p.endsWith(">");
            types[i] = i == 0 && p.equals("<unk>") ? 2 : i == tok.bosId() || i == tok.eosId() ? 3 : bytePiece ? 6 : 1;
            pieces[i] = types[i] == 1 ? p.replace(' ', '\u2581') : p;
        }
        int k = 0;
        k += str(kv, "tokenizer.ggml.model", "llama");
        string(kv, "tokenizer.ggml.tokens");
        kv.write(le32(T_ARRAY));
        kv.write(le32(T_STRING));
        kv.write(le64(n));
        for (String p : pieces) string(kv, p);
        k++;
        string(kv, "tokenizer.ggml.scores");
        kv.write(le32(T_ARRAY));
        kv.write(le32(T_FLOAT32));
        kv.write(le64(n));
        for (float s : scores) kv.write(le32(Float.floatToIntBits(s)));
        k++;
        k += i32s(kv, "tokenizer.ggml.token_type", types);
        k += u32(kv, "tokenizer.ggml.bos_token_id", tok.bosId());
        k += u32(kv, "tokenizer.ggml.eos_token_id", tok.eosId());
        k += u32(kv, "tokenizer.ggml.unknown_token_id", 0);
        k += bool(kv, "tokenizer.ggml.add_bos_token", true);
        k += bool(kv, "tokenizer.ggml.add_eos_token", false);
        return k;
    }

    private static long pad(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    static int str(ByteArrayOutputStream o, String key, String v) throws IOException {
        string(o, key);
        o.write(le32(T_STRING));
        string(o, v);
        return 1;
    }

    static int u32(ByteArrayOutputStream o, String key, int v) throws IOException {
        string(o, key);
        o.write(le32(T_UINT32));
        o.write(le32(v));
        return 1;
    }

    static int f32(ByteArrayOutputStream o, String key, float v) throws IOException {
        string(o, key);
        o.write(le32(T_FLOAT32));
        o.write(le32(Float.floatToIntBits(v)));
        return 1;
    }

    static int bool(ByteArrayOutputStream o, String key, boolean v) throws IOException {
        string(o, key);
        o.write(le32(T_BOOL));
        o.write(v ? 1 : 0);
        return 1;
    }

    static int i32s(ByteArrayOutputStream o, String key, int[] v) throws IOException {
        string(o, key);
        o.write(le32(T_ARRAY));
        o.write(le32(T_INT32));
        o.write(le64(v.length));
        for (int x : v) o.write(le32(x));
        return 1;
    }

    private static void string(OutputStream o, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        o.write(le64(b.length));
        o.write(b);
    }

    private static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    private static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }
}
