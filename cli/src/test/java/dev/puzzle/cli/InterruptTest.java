package dev.puzzle.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** A stopped run (SIGTERM, as Ctrl-C sends SIGINT) exits 130 and leaves only finished files; out of heap is one line, exit 1. */
class InterruptTest {
    @TempDir
    Path tmp;

    /** Processes a test started: killed if a failed assertion left them running (the temporary folder is then removable). */
    final List<Process> stopAtEnd = new ArrayList<>();

    @org.junit.jupiter.api.AfterEach
    void stopLeftovers() throws InterruptedException {
        for (Process p : stopAtEnd) if (p.isAlive()) p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }

    static List<Path> partials(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".tmp") || p.getFileName().toString().endsWith(".partial")).toList();
        }
    }

    @Test
    void sigtermDuringDistillExits130AndARerunFinishes() throws Exception {
        Path d = tmp.resolve("term");
        Path cfg = CompressTest.config(d, "[2.15e5]");
        Process p = BldPipelineTest.puzzleProcess("compress", cfg.toString()).redirectOutput(tmp.resolve("out.txt").toFile()).start();
        long deadline = System.currentTimeMillis() + 180_000;
        while (BldPipelineTest.curves(d.resolve("run")).size() < 3 && p.isAlive() && System.currentTimeMillis() < deadline) Thread.sleep(20);
        assertTrue(p.isAlive(), "stopped during distillation");
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = Files.readString(tmp.resolve("out.txt"), StandardCharsets.UTF_8);
        assertEquals(ExitCodes.INTERRUPTED, p.exitValue(), out);
        assertTrue(out.contains("puzzle: interrupted (SIGTERM)"), out);
        assertFalse(out.contains("Exception"), out);
        assertEquals(List.of(), partials(d.resolve("run")), "no half-written file is left behind");
        // The lock died with the process: a rerun takes it and finishes.
        CliTest.Run r = CliTest.run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
    }

    /** SIGTERM during scoring, then during GKD: each exits 130 with only finished files; the rerun keeps them and finishes. */
    @Test
    void sigtermDuringScoringAndDuringGkdExits130AndTheRerunResumes() throws Exception {
        Path d = tmp.resolve("late");
        Path cfg = CompressTest.config(d, "[2.15e5]");
        Files.writeString(cfg, Files.readString(cfg).replace("  memory_mib: 12\n", "  memory_mib: 12\n  gkd: {tokens: 24576, batch_sequences: 2, checkpoint_every: 4}\n"));
        Path run = d.resolve("run");
        Process p = BldPipelineTest.puzzleProcess("compress", cfg.toString()).redirectOutput(tmp.resolve("score.txt").toFile()).start();
        stopAtEnd.add(p);
        long deadline = System.currentTimeMillis() + 240_000;
        while (FaultTest.files(run, "profile/**").isEmpty() && p.isAlive() && System.currentTimeMillis() < deadline) Thread.sleep(20);
        // Meanwhile a second compress on the same run directory is refused, not interleaved.
        CliTest.badInput(CliTest.run("compress", cfg.toString()), "another puzzle process is working in this run directory");
        while (FaultTest.files(run, "score/jobs/**.json").size() < 4 && p.isAlive() && System.currentTimeMillis() < deadline) Thread.sleep(20);
        assertTrue(p.isAlive(), "stopped during scoring");
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(ExitCodes.INTERRUPTED, p.exitValue(), Files.readString(tmp.resolve("score.txt")));
        assertEquals(List.of(), partials(run), "no half-written file is left behind");
        var scored = FaultTest.stamps(FaultTest.files(run, "score/jobs/**.json"));
        // Again, stopped during GKD this time.
        Process q = BldPipelineTest.puzzleProcess("compress", cfg.toString()).redirectOutput(tmp.resolve("gkd.txt").toFile()).start();
        stopAtEnd.add(q);
        while (FaultTest.files(run, "compress/**/gkd-checkpoint.safetensors").isEmpty() && q.isAlive() && System.currentTimeMillis() < deadline) Thread.sleep(20);
        assertTrue(q.isAlive(), "stopped during GKD");
        q.destroy();
        assertTrue(q.waitFor(60, TimeUnit.SECONDS));
        String out = Files.readString(tmp.resolve("gkd.txt"));
        assertEquals(ExitCodes.INTERRUPTED, q.exitValue(), out);
        assertTrue(out.contains("puzzle: interrupted (SIGTERM)") && !out.contains("Exception"), out);
        assertEquals(List.of(), partials(run), "no half-written file is left behind");
        for (var e : scored.entrySet()) assertEquals(e.getValue(), Files.getLastModifiedTime(Path.of(e.getKey())), "rescored: " + e.getKey());
        List<Path> checkpoints = FaultTest.files(run, "compress/**/gkd-checkpoint.safetensors");
        assertFalse(checkpoints.isEmpty());
        for (Path c : checkpoints) assertNull(dev.puzzle.core.io.Safetensors.damage(c), "a GKD checkpoint is whole: " + c);
        CliTest.Run r = CliTest.run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(run.resolve("report/report.json")));
    }

    @Test
    void outOfHeapIsOneLineNamingTheHeap() throws Exception {
        List<String> cmd = new ArrayList<>(BldPipelineTest.puzzleProcess().command());
        cmd.add(1, "-Xmx24m");
        cmd.addAll(List.of("eval", CliTest.bin(), "--tokenizer", CliTest.tok(), "--text",
                CliTest.shared("models/tinystories-val-text/tinystories_val.txt").toString(), "--max-tokens", "4000000"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("oom.txt").toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        String out = Files.readString(tmp.resolve("oom.txt"), StandardCharsets.UTF_8);
        assertEquals(ExitCodes.SOFTWARE, p.exitValue(), out);
        List<String> lines = out.lines().filter(l -> l.startsWith("puzzle:")).toList();
        assertEquals(1, lines.size(), out);
        assertTrue(lines.get(0).contains("out of memory") && lines.get(0).contains("PUZZLE_JAVA_OPTS") && lines.get(0).contains("MiB"), out);
        assertFalse(out.contains("\tat ") || out.contains("Exception in thread"), out);
    }
}
