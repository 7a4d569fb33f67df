package dev.puzzle.fuzz;

import dev.puzzle.blocklibrary.BlockLibraryJson;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Gguf;
import dev.puzzle.core.io.Llama2cBin;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.HfTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;
import dev.puzzle.pipeline.RunConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The fuzz targets: each reader of a file a stranger may hand the toolkit, fed arbitrary bytes as that
 * file. The one outcome allowed for bad input is the toolkit's own input error — a {@link PuzzleException}
 * whose message is one line naming the file; anything else (another exception, an OutOfMemoryError from an
 * allocation sized by an unchecked number, a hang) is a finding. Jazzer's driver calls
 * {@link #fuzzerTestOneInput(byte[])} with the target named by the system property {@code puzzle.fuzz.target}
 * ({@code bench/fuzz.sh}); {@link FuzzRegressionTest} replays the kept corpus through the same code.
 */
public final class FuzzTargets {
    private FuzzTargets() {}

    /** A target: the name of the file the bytes become, and what reads it. */
    public enum Target {
        SAFETENSORS("model.safetensors", f -> {
            try (Safetensors s = Safetensors.open(f)) {
                for (String name : s.entries().keySet()) touch(s.read(name));
            }
        }),
        GGUF("model.gguf", f -> {
            Checkpoint ck = Gguf.read(f);
            ck.tensors().values().forEach(FuzzTargets::touch);
            if (ck.tokenizer() != null) roundTrip(ck.tokenizer());
        }),
        LLAMA2C("model.bin", f -> Llama2cBin.read(f).tensors().values().forEach(FuzzTargets::touch)),
        TOKENIZER_BIN("tokenizer.bin", f -> {
            int n = BpeTokenizer.countLlama2cTokens(f);
            roundTrip(BpeTokenizer.readLlama2c(f, n));
            roundTrip(BpeTokenizer.readLlama2c(f, Math.max(1, n / 2)));
        }),
        TOKENIZER_JSON("tokenizer.json", f -> roundTrip(HfTokenizer.read(f))),
        BLOCK_LIBRARY("block_library.json", f -> BlockLibraryJson.read(f)),
        RUN_CONFIG("puzzle.yaml", f -> {
            RunConfig rc = RunConfig.read(f);
            rc.parent();
            rc.tokenizer();
            rc.mirrors();
            rc.runDir();
            rc.hardware();
            rc.measured();
            rc.workload();
            rc.data();
            rc.distill();
            rc.cacheDtype();
            rc.compress();
            rc.search();
            rc.compressSearch();
            rc.fingerprint();
            SearchSpace.parse(rc.searchSpace(), PARENT);
        }),
        TEXT("text.txt", f -> {
            Tokenizer tok = textTokenizer();
            TokenData.sequences(f, tok, 0, 2, 8);
            roundTrip(tok);
            try {
                String s = Files.readString(f, java.nio.charset.StandardCharsets.UTF_8);
                decodeAll(tok, tok.encode(s, true, false));
            } catch (java.nio.charset.MalformedInputException e) {
                // not UTF-8: the sequences above read it leniently, as the toolkit does
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });

        public final String fileName;
        final Consumer<Path> read;

        Target(String fileName, Consumer<Path> read) {
            this.fileName = fileName;
            this.read = read;
        }

        public String id() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static Target of(String id) {
            for (Target t : values()) if (t.id().equals(id)) return t;
            throw new IllegalArgumentException("no fuzz target '" + id + "'");
        }
    }

    /** The parent a fuzzed run config's search space is parsed against (stories260K's shape). */
    static final ModelConfig PARENT = ModelConfig.builder("LlamaForCausalLM").dim(64).layers(5).heads(8).kvHeads(4).intermediateSize(172).vocabSize(512).maxSeqLen(512).normEps(1e-5f).ropeTheta(10000f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(true).qkvBias(false).build();

    private static final String SAMPLE = "Once upon a time, there was a little girl named Lily. Ünïcödé ✓ 123\n";

    private static void roundTrip(Tokenizer tok) {
        decodeAll(tok, tok.encode(SAMPLE, true, false));
        for (int id = 0; id < Math.min(tok.vocabSize(), 64); id++) {
            tok.decode(tok.bosId(), id);
            tok.piece(id);
        }
    }

    private static void decodeAll(Tokenizer tok, int[] ids) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= tok.vocabSize()) throw new IllegalStateException("encode gave id " + ids[i] + " outside the vocabulary of " + tok.vocabSize());
            tok.decode(i == 0 ? tok.bosId() : ids[i - 1], ids[i]);
        }
    }

    private static void touch(Tensor t) {
        if (t.size() > 0) {
            float[] d = t.data();
            if (d.length != t.size()) throw new IllegalStateException("tensor data of " + d.length + " values for " + t.size() + " elements");
        }
    }

    private static volatile Tokenizer textTokenizer;

    /** The text target's tokenizer: stories260K's tok512.bin from ../shared. */
    static Tokenizer textTokenizer() {
        if (textTokenizer == null) {
            Path p = Path.of(System.getProperty("puzzle.shared", "../shared")).resolve("models/stories260K/tok512.bin");
            if (!Files.exists(p)) throw new IllegalStateException("the text target needs " + p);
            textTokenizer = BpeTokenizer.readLlama2c(p, 512);
        }
        return textTokenizer;
    }

    private static final ThreadLocal<Path> DIR = ThreadLocal.withInitial(() -> {
        try {
            Path shm = Path.of("/dev/shm"); // memory-backed where there is one: a file per execution
            Path d = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "puzzle-fuzz") : Files.createTempDirectory("puzzle-fuzz");
            d.toFile().deleteOnExit();
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    });

    /** A finding: what the reader did with bad input that it may not do. */
    public static final class Finding extends RuntimeException {
        Finding(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static int executions;

    /** Feeds {@code data} to {@code target} as its file; returns normally for a clean refusal or a successful read. */
    public static void run(Target target, byte[] data) {
        // Mapped tensors are unmapped only when collected: tens of thousands of live mappings of the one file
        // slow every later map and write down to a few hundred executions a second. Collect them now and then.
        if (++executions % 200 == 0) System.gc();
        Path f = DIR.get().resolve(target.fileName);
        try {
            Files.write(f, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            target.read.accept(f);
        } catch (PuzzleException e) {
            String m = e.getMessage();
            if (m == null || m.contains("\n") || !m.contains(target.fileName)) {
                throw new Finding(target.id() + ": the input error is not one line naming the file: " + m, e);
            }
        } catch (StackOverflowError | OutOfMemoryError e) {
            throw new Finding(target.id() + ": " + e, e);
        }
    }

    private static final Target TARGET = System.getProperty("puzzle.fuzz.target") == null ? null : Target.of(System.getProperty("puzzle.fuzz.target"));

    /** Jazzer's entry point. */
    public static void fuzzerTestOneInput(byte[] data) {
        if (TARGET == null) throw new IllegalStateException("set -Dpuzzle.fuzz.target=" + java.util.Arrays.stream(Target.values()).map(Target::id).toList());
        run(TARGET, data);
    }
}
