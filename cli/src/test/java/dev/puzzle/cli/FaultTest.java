package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.puzzle.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Faults of long runs: killed during scoring (resumes per candidate, nothing finished redone), files damaged
 * after they were written (detected by their checksums and rebuilt, not used), training that diverges (the job
 * stops, the others go on, the report says what was left out), and a disk that fills up (one clear line, the
 * earlier state intact).
 */
class FaultTest {
    @TempDir
    Path tmp;

    static List<Path> files(Path dir, String glob) throws IOException {
        if (!Files.exists(dir)) return List.of();
        var m = dir.getFileSystem().getPathMatcher("glob:" + glob);
        for (int attempt = 0; ; attempt++) { // a process writing meanwhile may remove a temporary file under the walk
            try (Stream<Path> s = Files.walk(dir)) {
                return s.filter(Files::isRegularFile).filter(p -> !p.toString().endsWith(".started") && !p.toString().endsWith(".tmp"))
                        .filter(p -> m.matches(dir.relativize(p))).sorted().toList();
            } catch (java.io.UncheckedIOException e) {
                if (attempt >= 10 || !(e.getCause() instanceof java.nio.file.NoSuchFileException)) throw e;
            }
        }
    }

    static Map<String, FileTime> stamps(List<Path> files) throws IOException {
        Map<String, FileTime> out = new TreeMap<>();
        for (Path f : files) out.put(f.toString(), Files.getLastModifiedTime(f));
        return out;
    }

    static void flipByteNearEnd(Path f) throws IOException {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            long at = r.length() - 5;
            r.seek(at);
            int b = r.read();
            r.seek(at);
            r.write(b ^ 0x5a);
        }
    }

    @Test
    void killedDuringScoringResumesPerCandidateAndDamagedFilesAreRebuiltNotUsed() throws Exception {
        Path d = tmp.resolve("score");
        Path cfg = CompressTest.config(d, "[2.15e5]");
        Path run = d.resolve("run");
        Process p = BldPipelineTest.puzzleProcess("compress", cfg.toString()).start();
        long deadline = System.currentTimeMillis() + 240_000;
        while (files(run, "score/jobs/**.json").size() < 6 && p.isAlive() && System.currentTimeMillis() < deadline) Thread.sleep(20);
        assertTrue(p.isAlive(), "killed during scoring");
        p.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // kill -9: no handler runs
        List<Path> scored = files(run, "score/jobs/**.json");
        assertFalse(Files.exists(run.resolve("score/block_library.json")), "scoring had not finished");
        Map<String, FileTime> before = stamps(new ArrayList<>() {{
            addAll(files(run, "cache/**"));
            addAll(files(run, "library/**"));
            addAll(files(run, "distill/**"));
            addAll(scored);
        }});
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        for (var e : before.entrySet()) assertEquals(e.getValue(), Files.getLastModifiedTime(Path.of(e.getKey())), "redone after the kill: " + e.getKey());
        int total = files(run, "score/jobs/**.json").size();
        assertTrue(total > scored.size(), total + " candidates scored in all, " + scored.size() + " before the kill");

        // Damage a cached layer, a candidate's initialization and a distilled candidate after the fact.
        Path cache = files(run, "cache/**.safetensors").get(2), init = files(run, "library/**.safetensors").get(1),
                distilled = files(run, "distill/**.safetensors").get(0);
        for (Path f : List.of(cache, init, distilled)) flipByteNearEnd(f);
        Path curve = distilled.resolveSibling(distilled.getFileName().toString().replace(".safetensors", ".loss.json"));
        Map<String, FileTime> others = stamps(new ArrayList<>() {{
            addAll(files(run, "cache/**"));
            addAll(files(run, "library/**"));
            addAll(files(run, "distill/**"));
        }});
        others.keySet().removeAll(List.of(cache.toString(), init.toString(), distilled.toString(), curve.toString()));
        CliTest.Run lib = run("library", cfg.toString());
        assertEquals(0, lib.code(), lib.err());
        CliTest.Run dist = run("distill", cfg.toString());
        assertEquals(0, dist.code(), dist.err());
        String said = lib.err() + dist.err();
        for (Path f : List.of(cache, init, distilled)) {
            assertTrue(said.contains(f + ": damaged: its data does not match the checksum"), "not detected: " + f + "\n" + said);
            assertNull(dev.puzzle.core.io.Safetensors.damage(f), "rebuilt intact: " + f);
        }
        for (var e : others.entrySet()) {
            if (e.getKey().contains("/cache/") && e.getKey().compareTo(cache.toString()) > 0) continue; // layers after the damaged one are recomputed from it
            assertEquals(e.getValue(), Files.getLastModifiedTime(Path.of(e.getKey())), "rewritten: " + e.getKey());
        }
    }

    @Test
    void divergingTrainingStopsThatJobTheOthersGoOnAndTheReportSaysWhatWasLeftOut() throws Exception {
        Path d = tmp.resolve("nan");
        Path cfg = CompressTest.config(d, "[1.0x]");
        Files.writeString(cfg, Files.readString(cfg)
                .replace("lr: 2.0e-3", "lr: 1.0e+30")
                .replace("  memory_mib: 12\n", "  memory_mib: 12\n  baselines: false\n  gkd: {tokens: 2048, batch_sequences: 2, lr: 1.0e+30, checkpoint_every: 2}\n"));
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        Path run = d.resolve("run");
        List<Path> failed = files(run, "distill/**.failed.txt");
        java.util.regex.Matcher jobs = java.util.regex.Pattern.compile("distill \\[#+\\] 100% (\\d+)/(\\d+)").matcher(r.err());
        assertTrue(jobs.find(), r.err());
        assertEquals(Integer.parseInt(jobs.group(2)), failed.size(), "every job ran to its own end, none stopped the others");
        for (Path f : failed) assertTrue(Files.readString(f).matches("layer \\d+ \\S+: BLD diverged: loss (NaN|-?Infinity) at step \\d+ of \\d+ \\(lr 1\\.0E30\\)\\n"), Files.readString(f));
        assertTrue(r.err().contains("BLD diverged") && r.err().contains("left out of the library"), r.err());
        JsonNode rep = new ObjectMapper().readTree(run.resolve("report/report.json").toFile());
        List<String> leftOut = new ArrayList<>();
        rep.get("left_out").forEach(n -> leftOut.add(n.asText()));
        assertEquals(failed.size() + 1, leftOut.size(), leftOut.toString());
        assertTrue(leftOut.stream().anyMatch(s -> s.startsWith("puzzle-1") && s.contains(": GKD diverged: loss") && s.endsWith("the child is the one before GKD")), leftOut.toString());
        JsonNode lib = new ObjectMapper().readTree(run.resolve("score/block_library.json").toFile());
        lib.fields().forEachRemaining(e -> e.getValue().fieldNames().forEachRemaining(v -> {
            for (String part : v.split(" && ")) { // left: the parent's own parts and the no-ops, which nothing trains
                assertTrue(part.endsWith("(parent * 100%)") || part.endsWith("= no_op"), "a part whose BLD diverged is still offered: " + e.getKey() + " " + v);
            }
        }));
        for (JsonNode m : rep.get("models")) if (m.get("kind").asText().equals("puzzle")) assertFalse(m.get("gkd").asBoolean(), "its GKD diverged");
        assertTrue(Files.readString(run.resolve("report/report.md")).contains("## Left out by training"));
    }

    @Test
    void aFullDiskWhileWritingIsOneClearLineAndTheEarlierStateIsIntact() throws Exception {
        Path out = tmp.resolve("hf");
        CliTest.Run first = run("convert", CliTest.bin(), "--tokenizer", CliTest.tok(), "--to", "hf", out.toString());
        assertEquals(0, first.code(), first.err());
        Map<String, FileTime> before = stamps(files(out, "**"));
        byte[] weights = Files.readAllBytes(out.resolve("model.safetensors"));
        for (String[] cmd : new String[][]{{"convert", CliTest.bin(), "--tokenizer", CliTest.tok(), "--to", "hf", out.toString(), "--force"},
                {"convert", CliTest.bin(), "--tokenizer", CliTest.tok(), "--to", "gguf", tmp.resolve("m.gguf").toString()}}) {
            List<String> c = new ArrayList<>(BldPipelineTest.puzzleProcess(cmd).command());
            c.add(1, "-Dpuzzle.faults.disk_full_after_bytes=300000"); // stories260K is ~1 MB: the disk fills up part way
            Process p = new ProcessBuilder(c).redirectErrorStream(true).start();
            String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(ExitCodes.IO, p.exitValue(), said);
            List<String> lines = said.strip().lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).toList();
            assertEquals(1, lines.size(), said);
            assertTrue(lines.get(0).startsWith("puzzle: ") && lines.get(0).contains("cannot write: No space left on device — free space and rerun"), said);
            assertFalse(said.contains("Exception") || said.contains("\tat "), said);
        }
        assertEquals(before, stamps(files(out, "**")), "the earlier directory is untouched");
        assertArrayEquals(weights, Files.readAllBytes(out.resolve("model.safetensors")));
        assertFalse(Files.exists(tmp.resolve("m.gguf")));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.filter(f -> f.getFileName().toString().startsWith(".")).toList(), "no temporary file or directory is left");
        }
    }
}
