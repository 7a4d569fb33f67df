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

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * GGUF v2/v3 reader (ggml's docs/gguf.md): header, typed metadata, tensor infos (dimensions listed
 * fastest-first, so reversed they are the row-major shape), aligned data. F32, F16, BF16 tensors and
 * llama.cpp's Q8_0, Q4_0 and MXFP4 blocks (kept in their stored type, see {@link DType});
 * the llama architecture and llama.cpp's heterogeneous deci (per-layer head counts and FFN lengths, as
 * {@link GgufWriter} writes them); the embedded SentencePiece vocabulary. llama.cpp stores q/k rows for
 * interleaved RoPE, as llama2.c does.
 */
public final class Gguf {
    private Gguf() {}

    private static final int MAGIC = 0x46554747; // "GGUF"

    /** One tensor's header: name, row-major shape, ggml type, offset within the data section. */
    public record TensorInfo(String name, int[] shape, int ggmlType, long offset) {}

    /** Parsed header: metadata and tensor infos, plus where the data section starts. */
    public record Header(int version, Map<String, Object> metadata, List<TensorInfo> tensors, long dataStart, long fileSize) {}

    public static Header readHeader(Path file, FileChannel ch) throws IOException {
        // The header lies in the first 2 GiB (a Java buffer's limit); tensors are mapped one by one later.
        ByteBuffer bb = ch.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(ch.size(), Integer.MAX_VALUE)).order(ByteOrder.LITTLE_ENDIAN);
        Cursor c = new Cursor(file, bb);
        if (bb.remaining() < 24 || bb.getInt(0) != MAGIC) throw new PuzzleException(file + ": not a GGUF file (bad magic)");
        c.pos = 4;
        int version = c.i32("version");
        if (version != 2 && version != 3) throw PuzzleException.field(file, "version", version, "only GGUF v2 and v3 are supported");
        long nTensors = c.u64("tensor_count");
        long nKv = c.u64("metadata_kv_count");
        if (nTensors < 0 || nTensors > 1_000_000) throw PuzzleException.field(file, "tensor_count", nTensors, "implausible");
        if (nKv < 0 || nKv > 1_000_000) throw PuzzleException.field(file, "metadata_kv_count", nKv, "implausible");
        Map<String, Object> meta = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            String key = c.string("metadata key");
            int type = c.i32(key + ".type");
            meta.put(key, c.value(key, type));
        }
        List<TensorInfo> infos = new ArrayList<>();
        for (long i = 0; i < nTensors; i++) {
            String name = c.string("tensor name");
            int nd = c.i32(name + ".n_dims");
            if (nd < 1 || nd > 4) throw PuzzleException.field(file, name + ".n_dims", nd, "must be 1..4");
            int[] shape = new int[nd];
            for (int d = 0; d < nd; d++) {
                long v = c.u64(name + ".dims");
                if (v < 0 || v > Integer.MAX_VALUE) throw PuzzleException.field(file, name + ".dims", v, "out of range");
                shape[nd - 1 - d] = (int) v;
            }
            int type = c.i32(name + ".type");
            long off = c.u64(name + ".offset");
            infos.add(new TensorInfo(name, shape, type, off));
        }
        long align = 32;
        Object a = meta.get("general.alignment");
        if (a instanceof Number n) align = n.longValue();
        if (align <= 0 || (align & (align - 1)) != 0) throw PuzzleException.field(file, "general.alignment", align, "must be a power of two");
        long dataStart = (c.pos + align - 1) / align * align;
        return new Header(version, meta, infos, dataStart, ch.size());
    }

    static DType dtypeOf(Path file, TensorInfo t) {
        DType d = switch (t.ggmlType()) {
            case 0 -> DType.F32;
            case 1 -> DType.F16;
            case 2 -> DType.Q4_0;
            case 8 -> DType.Q8_0;
            case 30 -> DType.BF16;
            case 39 -> DType.MXFP4;
            default -> throw PuzzleException.field(file, t.name() + ".type", ggmlTypeName(t.ggmlType()),
                    "unsupported tensor type (supported: F32, F16, BF16, Q8_0, Q4_0, MXFP4)");
        };
        int cols = t.shape()[t.shape().length - 1];
        if (!d.fits(cols)) {
            throw PuzzleException.field(file, t.name() + ".dims", java.util.Arrays.toString(t.shape()), "rows of " + cols + " elements are not whole " + d.blockValues + "-element " + d + " blocks");
        }
        return d;
    }

    /** ggml's type ids of the tensor types this toolkit writes to GGUF (llama.cpp's ggml.h), or -1. */
    static int ggmlType(DType d) {
        return switch (d) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 8;
            case BF16 -> 30;
            case MXFP4 -> 39;
            case NVFP4, FP8 -> -1;
        };
    }

    private static String ggmlTypeName(int t) {
        String[] names = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"};
        return t >= 0 && t < names.length ? names[t] + " (" + t + ")" : "ggml type " + t;
    }

    public static Checkpoint read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Header h = readHeader(file, ch);
            Map<String, Object> m = h.metadata();
            String arch = String.valueOf(m.get("general.architecture"));
            if (arch.equals("nemotron_h") || arch.equals("nemotron_h_moe")) return GgufNemotronH.read(file, h, ch);
            if (!arch.equals("llama") && !arch.equals("deci")) {
                throw PuzzleException.field(file, "general.architecture", arch, "unsupported architecture (supported: llama, deci, nemotron_h, nemotron_h_moe)");
            }
            int dim = intMeta(file, m, arch + ".embedding_length");
            int layers = intMeta(file, m, arch + ".block_count");
            // Arrays sized by block_count only once it is bounded by the file: by a per-layer list's length (perLayer
            // checks it first), else by the tensors (a layer of a uniform model has its own).
            boolean lists = m.get(arch + ".attention.head_count") instanceof List<?> || m.get(arch + ".feed_forward_length") instanceof List<?>;
            if (!lists && layers > h.tensors().size()) {
                throw PuzzleException.field(file, arch + ".block_count", layers, "more layers than the file has tensors (" + h.tensors().size() + ")");
            }
            int[] headsPer = perLayer(file, m, arch + ".attention.head_count", layers, true);
            int[] kvPer = m.containsKey(arch + ".attention.head_count_kv") ? perLayer(file, m, arch + ".attention.head_count_kv", layers, arch.equals("deci")) : headsPer.clone();
            int[] ffPer = perLayer(file, m, arch + ".feed_forward_length", layers, arch.equals("deci"));
            int heads = java.util.Arrays.stream(headsPer).max().orElse(0), hidden = java.util.Arrays.stream(ffPer).max().orElse(0);
            if (heads <= 0) throw PuzzleException.field(file, arch + ".attention.head_count", 0, "no layer has attention heads");
            if (hidden <= 0) throw PuzzleException.field(file, arch + ".feed_forward_length", 0, "no layer has an FFN");
            int kvHeads = java.util.Arrays.stream(kvPer).max().orElse(0);
            int ctx = m.containsKey(arch + ".context_length") ? intMeta(file, m, arch + ".context_length") : 2048;
            float eps = m.containsKey(arch + ".attention.layer_norm_rms_epsilon") ? ((Number) m.get(arch + ".attention.layer_norm_rms_epsilon")).floatValue() : 1e-5f;
            float theta = m.containsKey(arch + ".rope.freq_base") ? ((Number) m.get(arch + ".rope.freq_base")).floatValue() : 10000f;
            if (dim % heads != 0) throw PuzzleException.field(file, arch + ".attention.head_count", heads, "does not divide embedding_length " + dim);
            int E = dim / heads;
            if (m.containsKey(arch + ".rope.dimension_count") && intMeta(file, m, arch + ".rope.dimension_count") != E) {
                throw PuzzleException.field(file, arch + ".rope.dimension_count", m.get(arch + ".rope.dimension_count"), "partial rotary embeddings are not supported (head dim " + E + ")");
            }
            for (int l = 0; l < layers; l++) {
                if (headsPer[l] != 0 && headsPer[l] != heads) {
                    throw PuzzleException.field(file, arch + ".attention.head_count[" + l + "]", headsPer[l], "query heads must be 0 or " + heads + " in every layer");
                }
                if (kvPer[l] != 0 && (kvPer[l] > heads || heads % kvPer[l] != 0)) {
                    throw PuzzleException.field(file, arch + ".attention.head_count_kv[" + l + "]", kvPer[l], "must divide the " + heads + " query heads");
                }
            }
            Map<String, TensorInfo> byName = new LinkedHashMap<>();
            for (TensorInfo t : h.tensors()) byName.put(t.name(), t);
            TensorInfo emb = byName.get("token_embd.weight");
            if (emb == null) throw new PuzzleException(file + ": missing tensor 'token_embd.weight'");
            int vocab = emb.shape()[0];
            boolean tied = !byName.containsKey("output.weight");
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, DType> types = new LinkedHashMap<>();
            checkSizes(file, h);
            for (TensorInfo t : h.tensors()) {
                String name = hfName(file, t.name(), layers);
                if (name.endsWith("." + O) && name.startsWith("model.layers.")) { // a deci layer with heads but no KV heads: the linear map
                    int l = Integer.parseInt(name.substring("model.layers.".length(), name.indexOf('.', "model.layers.".length())));
                    if (headsPer[l] > 0 && kvPer[l] == 0) name = layer(l, ATTN_LINEAR);
                }
                Tensor mapped = map(file, h, ch, t);
                tensors.put(name, mapped);
                types.put(name, mapped.dtype());
            }
            ModelConfig cfg = ModelConfig.builder(arch.equals("deci") ? "DeciLMForCausalLM" : "LlamaForCausalLM").dim(dim).layers(layers).heads(heads).kvHeads(kvHeads).intermediateSize(hidden).vocabSize(vocab).maxSeqLen(ctx).normEps(eps).ropeTheta(theta).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(tied).qkvBias(false).build();
            if (arch.equals("deci")) {
                List<BlockConfig> blocks = new ArrayList<>();
                for (int l = 0; l < layers; l++) {
                    AttentionConfig att = headsPer[l] == 0 || kvPer[l] == 0 && zeroLinear(tensors, l) ? new AttentionConfig.NoOp()
                            : kvPer[l] == 0 ? new AttentionConfig.Linear() : new AttentionConfig.Gqa(kvPer[l]);
                    if (!att.hasWeights()) for (String s : new String[]{ATTN_NORM, ATTN_LINEAR}) {
                        tensors.remove(layer(l, s));
                        types.remove(layer(l, s));
                    }
                    FfnConfig ffn = ffPer[l] == 0 || zeroStandIn(tensors, l) ? new FfnConfig.NoOp() : new FfnConfig.Dense(ffPer[l]);
                    if (!ffn.hasWeights()) for (String s : new String[]{FFN_NORM, GATE, UP, DOWN}) {
                        tensors.remove(layer(l, s));
                        types.remove(layer(l, s));
                    }
                    blocks.add(new BlockConfig(att, ffn));
                }
                cfg = cfg.withBlocks(blocks);
            }
            return new Checkpoint(cfg, tensors, types, tokenizer(file, m), file.toString());
        } catch (IllegalArgumentException e) { // the model the header describes is not one (a zero vocabulary, a shape that does not fit)
            throw new PuzzleException(file + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new PuzzleException(file + ": cannot read: " + e.getMessage(), e);
        } catch (java.io.UncheckedIOException e) {
            throw new PuzzleException(file + ": cannot read: " + e.getCause().getMessage(), e);
        }
    }

    /**
     * Tensors side by side in the data section: one whose type and shape need more bytes than lie before the next
     * tensor's offset has a size that does not match its shape.
     */
    static void checkSizes(Path file, Header h) {
        List<TensorInfo> byOffset = new ArrayList<>(h.tensors());
        byOffset.sort(java.util.Comparator.comparingLong(TensorInfo::offset));
        for (int i = 0; i + 1 < byOffset.size(); i++) {
            TensorInfo t = byOffset.get(i);
            DType d = dtypeOf(file, t);
            long len = d.byteSize(t.shape()), room = byOffset.get(i + 1).offset() - t.offset();
            if (len > room) {
                throw PuzzleException.field(file, t.name(), d + " " + java.util.Arrays.toString(t.shape()),
                        "needs " + len + " bytes, but the next tensor (" + byOffset.get(i + 1).name() + ") starts " + room + " bytes after it");
            }
        }
    }

    /**
     * Tensor {@code t} mapped in its stored dtype (never widened whole), after checking that its data lies inside the file,
     * that it is not too large and, for a quantized type, that its scales are finite.
     */
    static Tensor map(Path file, Header h, FileChannel ch, TensorInfo t) throws IOException {
        DType dt = dtypeOf(file, t);
        long n = Tensor.numel(t.shape());
        long begin = h.dataStart() + t.offset(), len = dt.byteSize(t.shape());
        if (t.offset() < 0 || begin + len > h.fileSize()) {
            throw PuzzleException.field(file, t.name() + ".offset", t.offset(), "tensor data of " + len + " bytes runs past the end of the file (" + h.fileSize() + " bytes)");
        }
        if (n > Integer.MAX_VALUE - 16) throw PuzzleException.field(file, t.name() + ".dims", java.util.Arrays.toString(t.shape()), "too large");
        Tensor mapped = Tensor.mapped(ch, begin, dt, t.shape());
        String bad = dt.isQuantized() ? dev.puzzle.core.tensor.Quant.badScale(mapped) : null;
        if (bad != null) throw PuzzleException.field(file, t.name(), dt + " " + java.util.Arrays.toString(t.shape()), bad);
        return mapped;
    }

    /** A per-layer count: an array of one value per layer (deci) or one value for all (llama); zeros allowed where a layer may lack the part. */
    static int[] perLayer(Path file, Map<String, Object> m, String key, int layers, boolean zeroAllowed) {
        Object v = m.get(key);
        if (v instanceof List<?> list && list.size() != layers) throw PuzzleException.field(file, key, list.size() + " values", "needs one per layer (" + layers + ")");
        int[] out = new int[layers];
        if (v instanceof List<?> list) {
            for (int l = 0; l < layers; l++) {
                if (!(list.get(l) instanceof Number n) || n.longValue() < 0 || n.longValue() > Integer.MAX_VALUE) {
                    throw PuzzleException.field(file, key + "[" + l + "]", list.get(l), "not a count");
                }
                out[l] = n.intValue();
            }
        } else {
            java.util.Arrays.fill(out, intMeta(file, m, key));
        }
        if (!zeroAllowed) for (int l = 0; l < layers; l++) if (out[l] == 0) throw PuzzleException.field(file, key, 0, "out of range");
        return out;
    }

    /** A linear attention of zeros: this toolkit's stand-in for a no-op attention in layer 0 (see GgufWriter). */
    private static boolean zeroLinear(Map<String, Tensor> tensors, int l) {
        Tensor o = tensors.get(layer(l, ATTN_LINEAR));
        if (o == null) return false;
        for (float x : o.data()) if (x != 0f) return false;
        return true;
    }

    /**
     * The width-1 FFN whose down projection is zero: GgufWriter's stand-in for a removed FFN in a layer that keeps
     * attention (or in the last layer).
     */
    private static boolean zeroStandIn(Map<String, Tensor> tensors, int l) {
        Tensor down = tensors.get(layer(l, DOWN));
        if (down == null || down.cols() != 1) return false;
        for (float x : down.data()) if (x != 0f) return false;
        return true;
    }

    static int intMeta(Path file, Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Number n)) throw PuzzleException.field(file, key, v, "missing or not a number");
        long l = n.longValue();
        if (l <= 0 || l > Integer.MAX_VALUE) throw PuzzleException.field(file, key, l, "out of range");
        return (int) l;
    }

    private static String hfName(Path file, String g, int layers) {
        switch (g) {
            case "token_embd.weight": return EMBED;
            case "output_norm.weight": return FINAL_NORM;
            case "output.weight": return LM_HEAD;
            default:
        }
        if (g.startsWith("blk.")) {
            int dot = g.indexOf('.', 4), i;
            try {
                i = dot < 0 ? -1 : Integer.parseInt(g.substring(4, dot));
            } catch (NumberFormatException e) {
                i = -1;
            }
            if (i < 0 || i >= layers) throw new PuzzleException(file + ": tensor '" + g + "' names no layer of the " + layers + " (block_count)");
            String rest = g.substring(dot + 1);
            String s = switch (rest) {
                case "attn_norm.weight" -> ATTN_NORM;
                case "attn_q.weight" -> Q;
                case "attn_k.weight" -> K;
                case "attn_v.weight" -> V;
                case "attn_output.weight" -> O;
                case "ffn_norm.weight" -> FFN_NORM;
                case "ffn_gate.weight" -> GATE;
                case "ffn_up.weight" -> UP;
                case "ffn_down.weight" -> DOWN;
                default -> null;
            };
            if (s != null) return layer(i, s);
        }
        throw new PuzzleException(file + ": unexpected tensor '" + g + "' for a llama GGUF");
    }

    static BpeTokenizer tokenizer(Path file, Map<String, Object> m) {
        if (!(m.get("tokenizer.ggml.tokens") instanceof List<?> toks)) return null;
        Object model = m.get("tokenizer.ggml.model");
        if (model != null && !"llama".equals(model)) return null; // only SentencePiece vocabularies are read from GGUF
        List<?> sc = m.get("tokenizer.ggml.scores") instanceof List<?> l ? l : null;
        byte[][] pieces = new byte[toks.size()][];
        float[] scores = new float[toks.size()];
        for (int i = 0; i < toks.size(); i++) {
            pieces[i] = String.valueOf(toks.get(i)).replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
            if (sc != null && (i >= sc.size() || !(sc.get(i) instanceof Number))) {
                throw PuzzleException.field(file, "tokenizer.ggml.scores[" + i + "]", i >= sc.size() ? "(missing)" : sc.get(i), "one number per token");
            }
            scores[i] = sc != null ? ((Number) sc.get(i)).floatValue() : 0f;
        }
        long bos = m.get("tokenizer.ggml.bos_token_id") instanceof Number n ? n.longValue() : 1;
        long eos = m.get("tokenizer.ggml.eos_token_id") instanceof Number n ? n.longValue() : 2;
        if (bos < 0 || bos >= toks.size()) throw PuzzleException.field(file, "tokenizer.ggml.bos_token_id", bos, "outside the vocabulary of " + toks.size());
        if (eos < 0 || eos >= toks.size()) throw PuzzleException.field(file, "tokenizer.ggml.eos_token_id", eos, "outside the vocabulary of " + toks.size());
        return new BpeTokenizer(pieces, scores, (int) bos, (int) eos);
    }

    /** Bounds-checked reading of GGUF's little-endian values. */
    private static final class Cursor {
        final Path file;
        final ByteBuffer bb;
        long pos;

        Cursor(Path file, ByteBuffer bb) {
            this.file = file;
            this.bb = bb;
        }

        private void need(long n, String what) {
            if (n < 0 || pos + n > bb.limit()) {
                throw new PuzzleException(file + ": truncated GGUF header while reading " + what + " at byte " + pos);
            }
        }

        int i32(String what) {
            need(4, what);
            int v = bb.getInt((int) pos);
            pos += 4;
            return v;
        }

        long u64(String what) {
            need(8, what);
            long v = bb.getLong((int) pos);
            pos += 8;
            return v;
        }

        String string(String what) {
            long n = u64(what);
            need(n, what);
            byte[] b = new byte[(int) n];
            bb.get((int) pos, b);
            pos += n;
            return new String(b, StandardCharsets.UTF_8);
        }

        Object value(String key, int type) {
            switch (type) {
                case 0: need(1, key); return (long) (bb.get((int) pos++) & 0xff);
                case 1: need(1, key); return (long) bb.get((int) pos++);
                case 2: need(2, key); pos += 2; return (long) (bb.getShort((int) pos - 2) & 0xffff);
                case 3: need(2, key); pos += 2; return (long) bb.getShort((int) pos - 2);
                case 4: return (long) i32(key) & 0xffffffffL;
                case 5: return (long) i32(key);
                case 6: need(4, key); pos += 4; return (double) bb.getFloat((int) pos - 4);
                case 7: need(1, key); return bb.get((int) pos++) != 0;
                case 8: return string(key);
                case 9: {
                    int et = i32(key + "[type]");
                    long n = u64(key + "[len]");
                    if (n < 0 || n > bb.limit()) throw PuzzleException.field(file, key, n, "array length beyond the file");
                    List<Object> out = new ArrayList<>((int) n);
                    for (long i = 0; i < n; i++) out.add(value(key, et));
                    return out;
                }
                case 10: return u64(key);
                case 11: return u64(key);
                case 12: need(8, key); pos += 8; return bb.getDouble((int) pos - 8);
                default: throw PuzzleException.field(file, key + ".type", type, "unknown GGUF value type");
            }
        }
    }
}
