package dev.puzzle.examples;

import dev.puzzle.cli.PuzzleCli;
import org.junit.jupiter.api.Assumptions;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The bundled example, examples/stories260K/puzzle.yaml, with its run directory moved to a temporary
 * folder: {@link #config} writes such a copy; {@link #compressed} compresses it once per test JVM in one
 * process (the tests that compare other ways of running it share that run).
 */
final class ExampleRun {
    private ExampleRun() {}

    record Done(Path dir, Path config, int exit, String output) {
        Path run() {
            return dir.resolve("run");
        }
    }

    private static Done done;

    static Path shared() {
        Path shared = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.exists(shared.resolve("models/stories260K/stories260K.bin")), "skipped: " + shared + " is absent");
        return shared;
    }

    /** A copy of the bundled config in {@code dir}, its run directory at {@code dir/run}. */
    static Path config(Path dir) throws IOException {
        return config(dir, "puzzle.yaml");
    }

    /** A copy of the bundled config {@code stories260K/NAME} in {@code dir}, its run directory at {@code dir/run}. */
    static Path config(Path dir, String name) throws IOException {
        Path shared = shared();
        Path example = Path.of("stories260K", name).toAbsolutePath();
        String yaml = Files.readString(example)
                .replace("../../../shared/", shared + "/")
                .replaceAll("run_dir: \\.\\./\\.\\./runs/stories260K\\S*", "run_dir: " + java.util.regex.Matcher.quoteReplacement(dir.resolve("run").toString()));
        assertTrue(yaml.contains("run_dir: " + dir.resolve("run")), "the example names its run_dir as expected");
        Files.createDirectories(dir);
        Path cfg = dir.resolve(name);
        Files.writeString(cfg, yaml);
        return cfg;
    }

    /** The example compressed in this process, once. */
    static synchronized Done compressed() throws IOException {
        if (done != null) return done;
        shared();
        Path dir = Files.createTempDirectory("puzzle-example");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                dev.puzzle.core.io.AtomicFiles.deleteTree(dir);
            } catch (IOException e) {
                // best effort
            }
        }));
        Path cfg = config(dir);
        CommandLine cl = PuzzleCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute("compress", cfg.toString());
        done = new Done(dir, cfg, exit, out + "\n" + err);
        return done;
    }
}
