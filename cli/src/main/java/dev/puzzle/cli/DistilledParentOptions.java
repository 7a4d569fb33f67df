package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How a command that makes a new parent out of an existing one (moefy, hybridize) trains it: blockwise distillation of
 * each changed layer, then optionally the whole model end to end against the original.
 */
final class DistilledParentOptions {
    @Option(names = "--tokens", paramLabel = "N", description = "Distillation tokens per layer (default: ${DEFAULT-VALUE}).")
    long tokens = 65_536;

    @Option(names = "--gkd-tokens", paramLabel = "N", description = "End-to-end distillation tokens against the parent afterwards; 0 = none (default: ${DEFAULT-VALUE}).")
    long gkdTokens = 131_072;

    @Option(names = "--lr", paramLabel = "LR", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr = 2e-3;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the draws and the training (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(names = "--force", description = "Replace OUT_DIR if it exists.")
    boolean force;

    /** Refuses counts out of range and an existing {@code out} without --force, naming the option. */
    void check(Path out) {
        if (tokens < 1) throw new PuzzleException("--tokens must be >= 1, got " + tokens);
        if (gkdTokens < 0) throw new PuzzleException("--gkd-tokens must be >= 0, got " + gkdTokens);
        if (!(lr > 0)) throw new PuzzleException("--lr must be positive, got " + lr);
        if (Files.exists(out) && !force) throw new PuzzleException(out + ": already exists (use --force to replace it)");
    }
}
