package dev.puzzle.core.io;

import dev.puzzle.core.tensor.DType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.HfTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/** Loading any supported checkpoint by path, writing Hugging Face directories, and converting RoPE layouts. */
public final class Checkpoints {
    private Checkpoints() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The kind of a model path, by content and name. */
    public enum Format { HF_DIR, SAFETENSORS, LLAMA2C, GGUF }

    public static Format detect(Path path) {
        if (!Files.exists(path)) throw new PuzzleException(path + ": no such file or directory");
        if (Files.isDirectory(path)) {
            if (!Files.exists(path.resolve("config.json"))) throw new PuzzleException(path + ": directory has no config.json (not a Hugging Face model directory)");
            return Format.HF_DIR;
        }
        String name = path.getFileName().toString();
        if (name.endsWith(".gguf")) return Format.GGUF;
        if (name.endsWith(".bin")) return Format.LLAMA2C;
        if (name.endsWith(".safetensors")) return Format.SAFETENSORS;
        try (var in = Files.newInputStream(path)) {
            byte[] m = in.readNBytes(4);
            if (m.length == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F') return Format.GGUF;
        } catch (IOException e) {
            throw new PuzzleException(path + ": cannot read: " + e.getMessage());
        }
        throw new PuzzleException(path + ": unknown model format (expected a Hugging Face directory, .safetensors, llama2.c .bin or .gguf)");
    }

    public static Checkpoint load(Path path) {
        return smallOnHeap(switch (detect(path)) {
            case HF_DIR -> readHfDir(path);
            case SAFETENSORS -> {
                Path dir = path.toAbsolutePath().getParent();
                if (!Files.exists(dir.resolve("config.json"))) throw new PuzzleException(path + ": a bare .safetensors file needs a config.json beside it");
                yield readHfDir(dir);
            }
            case LLAMA2C -> Llama2cBin.read(path);
            case GGUF -> Gguf.read(path);
        });
    }

    /**
     * The checkpoint with its F32 and quantized tensors read from the file onto the heap when together they take
     * at most a quarter of the heap: the kernels then read them in place rather than copying each block of rows
     * out of the mapping (for a decode step the copy costs about as much as the product: F32 decode of a
     * stories110M-shape GGUF 40 → 49–52 tok/s). Larger ones stay mapped, so a model beyond the heap still runs;
     * 16-bit tensors stay mapped (widened on the heap they would double), and so do quantized matrices that decode
     * reads through their {@link dev.puzzle.core.tensor.Rows32} layout: a heap copy beside the layout was a third copy
     * of the weights that no decode step read, and the collector copied it from the young generation during the
     * first tokens (110M Q4_0+e, two threads: 130 + 177 + 39 ms of pauses).
     */
    static Checkpoint smallOnHeap(Checkpoint ck) {
        long bytes = 0;
        for (Tensor t : ck.tensors().values()) if (heapable(t)) bytes += t.storedBytes();
        if (bytes == 0 || bytes > Runtime.getRuntime().maxMemory() / 4) return ck;
        Map<String, Tensor> out = new LinkedHashMap<>(ck.tensors());
        out.replaceAll((name, t) -> {
            if (!heapable(t)) return t;
            if (t.dtype() == DType.F32) return t.copy();
            byte[] b = new byte[(int) t.storedBytes()];
            t.rawBytes(0, t.rows(), b, 0);
            return Tensor.packed(t.dtype(), b, t.shape());
        });
        return new Checkpoint(ck.config(), out, ck.storedTypes(), ck.tokenizer(), ck.source());
    }

    /** A mapped F32 or quantized tensor not yet on the heap. */
    private static boolean heapable(Tensor t) {
        return t.isMapped() && (t.dtype() == DType.F32 || t.dtype().isQuantized() && !dev.puzzle.core.tensor.Rows32.decodesThrough(t))
                && t.packedBytes() == null;
    }

    /** Reads a HF directory: config.json, model.safetensors or a sharded index, and a tokenizer when present. */
    public static Checkpoint readHfDir(Path dir) {
        Path cfgFile = dir.resolve("config.json");
        ModelConfig cfg = HfConfig.read(cfgFile);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        Map<String, GptOssLayout.U8> bytes = new LinkedHashMap<>();
        boolean gptOss = cfg.architecture().equals(HfConfig.GPT_OSS);
        for (Path f : weightFiles(dir)) {
            try (Safetensors st = Safetensors.open(f)) {
                for (Safetensors.Entry e : st.entries().values()) {
                    if (e.name().endsWith("rotary_emb.inv_freq")) continue;
                    tensors.put(e.name(), st.map(e.name()));
                    types.put(e.name(), e.dtype());
                }
                for (Safetensors.Entry e : st.byteEntries().values()) {
                    if (!gptOss || !GptOssLayout.isMxfp4Part(e.name())) {
                        throw PuzzleException.field(f, e.name() + ".dtype", "U8", "unsupported dtype (supported: F32, F16, BF16, U8 rows of a quantized dtype named in the"
                                + " metadata, and gpt-oss's MXFP4 expert blocks and scales)");
                    }
                    bytes.put(e.name(), new GptOssLayout.U8(e.shape(), st.mapBytes(e.name())));
                }
            }
        }
        if (gptOss) GptOssLayout.toInternal(cfg, tensors, types, bytes, dir.toString());
        else if (cfg.architecture().equals(NemotronH.ARCH)) NemotronH.toInternal(cfg, tensors, types, dir.toString());
        else MoeNames.toInternal(cfg, tensors, types, dir.toString());
        Tokenizer tok = null;
        if (Files.exists(dir.resolve("tokenizer.bin"))) {
            tok = BpeTokenizer.readLlama2c(dir.resolve("tokenizer.bin"), cfg.vocabSize());
        } else if (Files.exists(dir.resolve("tokenizer.json"))) {
            tok = HfTokenizer.read(dir.resolve("tokenizer.json"));
        }
        return new Checkpoint(cfg, tensors, types, tok, dir.toString());
    }

    /** The safetensors files of a HF directory: the shards named by model.safetensors.index.json, or model.safetensors. */
    public static List<Path> weightFiles(Path dir) {
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.exists(index)) {
            JsonNode root = dev.puzzle.core.config.Json.readObject(index, "a safetensors index");
            JsonNode wm = root.path("weight_map");
            if (!wm.isObject()) throw PuzzleException.field(index, "weight_map", "(missing)", "must map tensor names to shard files");
            TreeSet<String> files = new TreeSet<>();
            wm.fields().forEachRemaining(e -> files.add(e.getValue().asText()));
            List<Path> out = new ArrayList<>();
            for (String f : files) {
                Path p = dir.resolve(f).normalize();
                if (!p.startsWith(dir.normalize())) throw PuzzleException.field(index, "weight_map", f, "shard outside the model directory");
                if (!Files.exists(p)) throw PuzzleException.field(index, "weight_map", f, "shard file does not exist");
                out.add(p);
            }
            return out;
        }
        Path single = dir.resolve("model.safetensors");
        if (!Files.exists(single)) throw new PuzzleException(dir + ": no model.safetensors or model.safetensors.index.json");
        return List.of(single);
    }

    /**
     * Permutes the q/k projection rows (and biases) of every attention layer so that half-split RoPE
     * computes what interleaved RoPE did: within each head, row 2i+s moves to s·E/2 + i (the permutation
     * of HF's convert_llama_weights_to_hf). Logits are unchanged.
     */
    public static Checkpoint toHalfSplit(Checkpoint ck) {
        ModelConfig c = ck.config();
        if (c.ropeStyle() == RopeStyle.HALF_SPLIT) return ck;
        Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
        for (int i = 0; i < c.numLayers(); i++) {
            BlockConfig b = c.blocks().get(i);
            if (b.attention().kvHeads() == 0) continue; // no q and k to rotate
            for (String s : new String[]{TensorNames.Q, TensorNames.K, TensorNames.Q_BIAS, TensorNames.K_BIAS, TensorNames.Q_NORM, TensorNames.K_NORM}) {
                String name = TensorNames.layer(i, s);
                Tensor w = t.get(name);
                if (w != null) t.put(name, toHalfSplit(w, c.headDim()));
            }
        }
        return new Checkpoint(c.withRopeStyle(RopeStyle.HALF_SPLIT), t, ck.storedTypes(), ck.tokenizer(), ck.source());
    }

    /** Rows (per head of E) from interleaved RoPE order to half-split, in the tensor's own storage. */
    private static Tensor toHalfSplit(Tensor w, int E) {
        int rows = w.dim(0);
        int[] perm = dev.puzzle.core.model.Rope.halfSplitRows(rows, E);
        return w.rank() == 1 ? w.onHeap().reshape(rows, 1).permuteRows(perm).reshape(rows) : w.permuteRows(perm);
    }

    /**
     * The dtype a tensor is written in: {@code requested} (null: as stored) for matrices of the layers, a
     * quantized type only where the tensor is {@link TensorNames#quantizable} and its rows are whole blocks
     * (else the element dtype, as llama.cpp falls back); norms keep a 16/32-bit type; embeddings and classifier
     * stored quantized keep their type unless an element type is requested.
     */
    public static DType writeType(Checkpoint ck, String name, Tensor tensor, DType requested) {
        DType element = requested != null && !requested.isQuantized() ? requested : ck.dominantDType();
        DType stored = ck.storedTypes().get(name);
        if ((name.equals(TensorNames.EMBED) || name.equals(TensorNames.LM_HEAD)) && stored != null && stored.isQuantized()
                && (requested == null || requested.isQuantized())) {
            return stored; // embeddings quantized on purpose (convert --embedding-dtype) stay so, unless an element type is asked for
        }
        if (tensor.rank() == 1) return element != DType.F32 ? ck.storedTypes().getOrDefault(name, element) : element;
        DType want = requested != null ? requested : ck.storedTypes().getOrDefault(name, element);
        if (!want.isQuantized()) return element;
        return TensorNames.quantizable(name) && want.fits(tensor.cols()) ? want : element;
    }

    /**
     * Writes a HF directory (config.json, model.safetensors, tokenizer) with weights in {@code dtype}
     * (null: the element dtype most weights were stored in, quantized matrices kept in their own type; a
     * quantized dtype: the layers' matrices quantized, see {@link #writeType}). Each file is written atomically.
     */
    public static void writeHfDir(Checkpoint ck, Path dir, DType dtype) throws IOException {
        Checkpoint hf = toHalfSplit(ck);
        Files.createDirectories(dir);
        DType dt = dtype != null && !dtype.isQuantized() ? dtype : ck.dominantDType();
        Map<String, Tensor> out = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        hf.tensors().forEach((name, tensor) -> {
            if (hf.config().tiedEmbeddings() && name.equals(TensorNames.LM_HEAD)) return;
            out.put(name, tensor);
            types.put(name, writeType(ck, name, tensor, dtype));
        });
        if (hf.config().architecture().equals(HfConfig.MIXTRAL)) MoeNames.toMixtral(out, types); // a Mixtral's children too (as DeciLM)
        Map<String, Safetensors.Bytes> bytes = new LinkedHashMap<>();
        if (hf.config().architecture().equals(HfConfig.GPT_OSS)) GptOssLayout.toGptOss(hf.config(), out, types, bytes);
        if (hf.config().architecture().equals(NemotronH.ARCH)) NemotronH.toNemotronH(hf.config(), out, types);
        Safetensors.write(dir.resolve("model.safetensors"), out, types, Map.of("format", "pt"), bytes);
        if (ck.tokenizer() instanceof BpeTokenizer bpe) {
            // llama2.c's format (read back exactly by this toolkit) and HF's, for stock Hugging Face code.
            AtomicFiles.writeBytes(dir.resolve("tokenizer.bin"), bpe.toLlama2cBytes());
            AtomicFiles.writeString(dir.resolve("tokenizer.json"), bpe.toHfJson());
            AtomicFiles.writeString(dir.resolve("tokenizer_config.json"), "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"bos_token\": \"<s>\","
                    + " \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\", \"add_bos_token\": true, \"add_eos_token\": false}\n");
        }
        String cfg = HfConfig.toJsonString(hf.config()).replace("\"torch_dtype\" : \"float32\"", "\"torch_dtype\" : \"" + torchDtype(dt) + "\"");
        AtomicFiles.writeString(dir.resolve("config.json"), cfg);
    }

    private static String torchDtype(DType d) {
        return switch (d) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> throw new IllegalArgumentException(d + " is not an element dtype");
        };
    }
}
