package dev.puzzle.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.cli.PuzzleCli;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.pipeline.RunConfig;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The bundled example, examples/stories260K/puzzle.yaml, compresses end to end (run directory moved to a temporary folder). */
class ExampleCompressTest {
    @Test
    void bundledExampleCompresses(@TempDir Path tmp) throws Exception {
        Path shared = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.exists(shared.resolve("models/stories260K/stories260K.bin")), "skipped: " + shared + " is absent");
        Path example = Path.of("stories260K/puzzle.yaml").toAbsolutePath();
        assertTrue(Files.exists(example), example.toString());
        // Same config, with its relative paths made absolute and the run directory in a temporary folder.
        String yaml = Files.readString(example)
                .replace("../../../shared/", shared + "/")
                .replace("run_dir: ../../runs/stories260K", "run_dir: " + tmp.resolve("run"));
        assertTrue(yaml.contains("run_dir: " + tmp.resolve("run")), "the example names its run_dir as expected");
        Path cfg = tmp.resolve("puzzle.yaml");
        Files.writeString(cfg, yaml);
        CommandLine cl = PuzzleCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        assertEquals(0, cl.execute("compress", cfg.toString()), err.toString());
        JsonNode report = new ObjectMapper().readTree(tmp.resolve("run/report/report.json").toFile());
        assertEquals(3, report.get("frontier").size(), "one Puzzle child per throughput target");
        for (JsonNode m : report.get("models")) {
            if (m.get("kind").asText().equals("parent")) continue;
            assertEquals(m.get("parameters").asLong(), Checkpoints.load(Path.of(m.get("model").asText())).parameterCount(), m.get("name").asText());
        }
        assertTrue(Files.readString(tmp.resolve("run/report/index.html")).contains("<svg class=\"plot\""));
        System.out.println(out);
    }

    /** The local-cpu example is the bundled one on this machine: measured costs, targets relative to the parent, all else equal. */
    @Test
    void localCpuExampleIsTheBundledRunMeasuredHere() throws Exception {
        Path bundled = Path.of("stories260K/puzzle.yaml").toAbsolutePath(), local = Path.of("stories260K/local-cpu.yaml").toAbsolutePath();
        RunConfig rc = RunConfig.read(local);
        assertEquals("local-cpu", rc.hardware());
        assertTrue(rc.measured());
        assertEquals(java.util.List.of(new RunConfig.Target(1.25, true), new RunConfig.Target(1.5, true), new RunConfig.Target(2, true)),
                rc.compress().throughputs());
        java.util.Set<String> differ = java.util.Set.of("run_dir", "hardware", "cost_model", "  throughputs", "  budgets");
        java.util.List<String> a = settings(bundled), b = settings(local);
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            String key = a.get(i).split(":")[0];
            if (!differ.contains(key)) assertEquals(a.get(i), b.get(i), "line " + i + " of the two examples");
        }
    }

    /** The config's lines without comments. */
    private static java.util.List<String> settings(Path f) throws java.io.IOException {
        return Files.readAllLines(f).stream().map(l -> l.replaceAll("\\s*#.*$", "")).filter(l -> !l.isBlank()).toList();
    }
}
