package dev.puzzle.fuzz;

import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.blocklibrary.BlockLibraryJson;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.GgufWriter;
import dev.puzzle.core.io.Llama2cBin;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.fuzz.FuzzTargets.Target;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The seed corpus of every target, made at run time (nothing from ../shared is copied into the
 * repository): tiny models written by the toolkit's own writers in every format (small inputs fuzz
 * fast), the files in ../shared/models and ../shared/data, and the repository's run configs.
 * {@code main(DIR)} writes them to DIR/TARGET/.
 */
public final class FuzzSeeds {
    private FuzzSeeds() {}

    static Path shared() {
        return Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize();
    }

    /** The repository root (the fuzz module's parent). */
    static Path repo() {
        Path here = Path.of("").toAbsolutePath();
        return Files.exists(here.resolve("fuzz/pom.xml")) ? here : here.getParent();
    }

    static BpeTokenizer tinyTokenizer(int vocab) {
        byte[][] pieces = new byte[vocab][];
        float[] scores = new float[vocab];
        String[] fixed = {"<unk>", "<s>", "</s>", " ", "e", "t", "a", " t", "he", " the", "o", "n", "ce", " on", "up", "i", "me"};
        for (int i = 0; i < vocab; i++) {
            String p = i < fixed.length ? fixed[i] : String.valueOf((char) ('A' + (i - fixed.length) % 26)) + (i - fixed.length) / 26;
            pieces[i] = p.getBytes(StandardCharsets.UTF_8);
            scores[i] = -i;
        }
        return new BpeTokenizer(pieces, scores, 1, 2);
    }

    static Checkpoint tiny(boolean heterogeneous) {
        ModelConfig c = ModelConfig.builder("LlamaForCausalLM").dim(8).layers(3).heads(2).kvHeads(1).intermediateSize(12).vocabSize(32).maxSeqLen(16).normEps(1e-5f).ropeTheta(10000f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(true).qkvBias(false).build();
        if (heterogeneous) {
            c = c.withBlocks(List.of(new BlockConfig(new AttentionConfig.Gqa(1), new FfnConfig.Dense(6)),
                    new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(12)),
                    new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.NoOp())));
        }
        return RandomWeights.of(c, 3).withTokenizer(tinyTokenizer(32));
    }

    /** Every target's seeds, as (name, bytes). */
    public static Map<Target, Map<String, byte[]>> all() throws IOException {
        Map<Target, Map<String, byte[]>> out = new EnumMap<>(Target.class);
        for (Target t : Target.values()) out.put(t, new java.util.LinkedHashMap<>());
        Path tmp = Files.createTempDirectory("puzzle-fuzz-seeds");
        try {
            for (boolean het : new boolean[]{false, true}) {
                Checkpoint ck = tiny(het);
                String k = het ? "tiny-deci" : "tiny-llama";
                for (DType dt : new DType[]{DType.F32, DType.BF16}) {
                    Path hf = tmp.resolve(k + "-" + dt);
                    Checkpoints.writeHfDir(ck, hf, dt);
                    out.get(Target.SAFETENSORS).put(k + "-" + dt + ".safetensors", Files.readAllBytes(hf.resolve("model.safetensors")));
                    Path g = tmp.resolve(k + "-" + dt + ".gguf");
                    GgufWriter.write(ck, g, dt);
                    out.get(Target.GGUF).put(k + "-" + dt + ".gguf", Files.readAllBytes(g));
                    if (!het && dt == DType.F32) {
                        out.get(Target.TOKENIZER_JSON).put("tiny-tokenizer.json", Files.readAllBytes(hf.resolve("tokenizer.json")));
                        out.get(Target.TOKENIZER_BIN).put("tiny-tokenizer.bin", Files.readAllBytes(hf.resolve("tokenizer.bin")));
                        Path bin = tmp.resolve("tiny.bin");
                        Llama2cBin.writeLegacy(bin, ck);
                        out.get(Target.LLAMA2C).put("tiny.bin", Files.readAllBytes(bin));
                    }
                }
            }
            Path shared = shared();
            put(out, Target.LLAMA2C, shared.resolve("models/stories260K/stories260K.bin"));
            put(out, Target.LLAMA2C, shared.resolve("models/stories260K/stories260K_v1.bin"));
            put(out, Target.GGUF, shared.resolve("models/stories260K/stories260K.gguf"));
            put(out, Target.GGUF, shared.resolve("models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf"));
            put(out, Target.TOKENIZER_BIN, shared.resolve("models/stories260K/tok512.bin"));
            put(out, Target.TOKENIZER_BIN, shared.resolve("models/llama2-tokenizer/tokenizer.bin"));
            Path lib = shared.resolve("data/llama-3.3-70b-block-library/block_library.json");
            put(out, Target.BLOCK_LIBRARY, lib);
            if (Files.exists(lib)) { // and a two-layer slice of it, small enough to fuzz fast
                BlockLibrary full = BlockLibraryJson.read(lib);
                List<BlockLibrary.Replacement> two = new ArrayList<>();
                int[] per = new int[2];
                for (BlockLibrary.Replacement r : full.replacements()) if (r.span() == 1 && r.first() < 2 && per[r.first()]++ < 3) two.add(r);
                Path small = tmp.resolve("block_library.json");
                BlockLibraryJson.write(new BlockLibrary(2, two, "slice"), small);
                out.get(Target.BLOCK_LIBRARY).put("two-layers.json", Files.readAllBytes(small));
            }
            Path text = shared.resolve("models/tinystories-val-text/tinystories_val.txt");
            if (Files.exists(text)) {
                byte[] all = Files.readAllBytes(text);
                out.get(Target.TEXT).put("tinystories-4k.txt", java.util.Arrays.copyOf(all, Math.min(all.length, 4096)));
            }
            out.get(Target.TEXT).put("unicode.txt", "Once upon a time ✓ — «déjà vu» 日本語 \u0000\t\r\n".repeat(8).getBytes(StandardCharsets.UTF_8));
            Path repo = repo();
            for (String y : new String[]{"examples/stories260K/puzzle.yaml", "examples/stories260K/local-cpu.yaml", "examples/stories260K-moe/puzzle.yaml",
                    "pipeline/src/test/java/dev/puzzle/pipeline/puzzle.yaml", "pipeline/src/test/java/dev/puzzle/pipeline/local-cpu.yaml"}) {
                put(out, Target.RUN_CONFIG, repo.resolve(y));
            }
        } finally {
            dev.puzzle.core.io.AtomicFiles.deleteTree(tmp);
        }
        return out;
    }

    private static void put(Map<Target, Map<String, byte[]>> out, Target t, Path file) throws IOException {
        if (Files.exists(file)) out.get(t).put(file.getParent().getFileName() + "-" + file.getFileName(), Files.readAllBytes(file));
    }

    /** Writes every target's seeds to DIR/TARGET/ (bench/fuzz.sh). */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        for (var e : all().entrySet()) {
            Path d = dir.resolve(e.getKey().id());
            Files.createDirectories(d);
            for (var s : e.getValue().entrySet()) Files.write(d.resolve(s.getKey()), s.getValue());
        }
    }
}
