package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The text a training command (moefy, qad) learns from and is judged on: sequences from the text's start,
 * held-out sequences from further in.
 */
final class TextDataOptions {
    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text: training sequences from its start, held-out ones from --heldout-offset.")
    Path text;

    @Option(names = "--seq-len", paramLabel = "T", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
    int seqLen = 128;

    @Option(names = "--sequences", paramLabel = "S", description = "Training sequences (default: ${DEFAULT-VALUE}).")
    int sequences = 64;

    @Option(names = "--heldout-offset", paramLabel = "BYTES", description = "Where in the text the held-out sequences start (default: ${DEFAULT-VALUE}).")
    long heldoutOffset = 400_000;

    @Option(names = "--heldout", paramLabel = "S", description = "Held-out sequences the result is judged on (default: ${DEFAULT-VALUE}).")
    int heldout = 8;

    /** Refuses a missing file or counts out of range, naming the option. */
    void check() {
        if (!Files.isRegularFile(text)) throw new PuzzleException(text + ": no such file (--text)");
        if (seqLen < 2) throw new PuzzleException("--seq-len must be >= 2, got " + seqLen);
        if (sequences < 1) throw new PuzzleException("--sequences must be >= 1, got " + sequences);
        if (heldout < 1) throw new PuzzleException("--heldout must be >= 1, got " + heldout);
    }
}
