package dev.puzzle.core;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** The ../shared reference folder (system property puzzle.shared, set by the build); tests skip with a message where it is absent. */
public final class Shared {
    private Shared() {}

    public static Path root() {
        return Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize();
    }

    public static Path require(String rel) {
        Path p = root().resolve(rel);
        Assumptions.assumeTrue(Files.exists(p), "skipped: reference file " + p + " is absent (../shared not laid out beside the repository)");
        return p;
    }
}
