package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.source.ModelSource;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.HfTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Options shared by commands that load a model: mirrors, threads, an explicit tokenizer. */
public final class ModelOptions {
    @Option(names = "--mirror", paramLabel = "DIR", description = "A directory searched for hf: references before downloading (repeatable; also PUZZLE_HF_MIRRORS).")
    List<Path> mirrors = new ArrayList<>();

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @Option(names = "--tokenizer", paramLabel = "TOK", description = "A llama2.c tokenizer.bin, a Hugging Face tokenizer.json, or a .gguf whose vocabulary to use (default: the model's own).")
    String tokenizer;

    ModelSource source() {
        return ModelSource.fromEnvironment().withMirrors(mirrors);
    }

    Checkpoint load(String model) {
        if (threads != null && threads < 1) throw PuzzleException.setting("threads", threads, "must be >= 1");
        return Checkpoints.load(source().resolve(model));
    }

    /** The tokenizer named by --tokenizer, else the model's own; a clear error when there is none. */
    Tokenizer tokenizer(Checkpoint ck, String model) {
        Tokenizer tok;
        if (tokenizer != null) {
            Path p = source().resolve(tokenizer);
            String name = p.getFileName().toString();
            if (name.endsWith(".gguf")) {
                tok = Checkpoints.load(p).tokenizer();
                if (tok == null) throw new PuzzleException(tokenizer + ": this GGUF has no SentencePiece vocabulary");
            } else if (name.endsWith(".json")) {
                tok = HfTokenizer.read(p);
            } else if (Files.isDirectory(p)) {
                throw new PuzzleException(tokenizer + ": is a directory; name the tokenizer file");
            } else {
                tok = BpeTokenizer.readLlama2c(p, BpeTokenizer.countLlama2cTokens(p));
            }
        } else {
            tok = ck.tokenizer();
            if (tok == null) {
                throw new PuzzleException(model + ": the model carries no tokenizer; pass --tokenizer (a llama2.c tokenizer.bin such as tok512.bin)");
            }
        }
        // A model's vocabulary may be padded beyond its tokenizer (HF checkpoints often are), never smaller.
        if (tok.vocabSize() > ck.config().vocabSize()) {
            throw new PuzzleException((tokenizer != null ? tokenizer : model) + ": tokenizer has " + tok.vocabSize()
                    + " tokens but the model's vocabulary is " + ck.config().vocabSize());
        }
        return tok;
    }
}
