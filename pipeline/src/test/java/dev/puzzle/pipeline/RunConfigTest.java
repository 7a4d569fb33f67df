package dev.puzzle.pipeline;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.mip.ArchitectureSearch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Run config sections compress reads: relative targets, the search settings it honours; and the run directory's lock. */
class RunConfigTest {
    static Path config(Path dir, String compress, String search) throws Exception {
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "x".repeat(100));
        Path f = dir.resolve("puzzle.yaml");
        Files.writeString(f, """
                parent: p.bin
                run_dir: run
                hardware: h100-80gb-sxm
                workload: {batch: 8, prefill_length: 16, generation_length: 16}
                data: {text: text.txt, seq_len: 4, calibration: {offset: 0, sequences: 1}, heldout: {offset: 5000, sequences: 1}}
                compress: %s
                %s
                """.formatted(compress, search));
        return f;
    }

    @Test
    void throughputTargetsMayBeSpeedupsOverTheParent(@TempDir Path tmp) throws Exception {
        RunConfig rc = RunConfig.read(config(tmp, "{throughputs: [2x, 1.25x, 1.5X]}", ""));
        List<RunConfig.Target> t = rc.compress().throughputs();
        assertEquals(List.of(new RunConfig.Target(1.25, true), new RunConfig.Target(1.5, true), new RunConfig.Target(2, true)), t, "sorted");
        assertEquals(3000 * 1.25, t.get(0).tokensPerSecond(3000), 1e-9);
        assertEquals("1.25x", t.get(0).label());
        RunConfig abs = RunConfig.read(config(tmp, "{throughputs: [2.6e5]}", ""));
        assertEquals(2.6e5, abs.compress().throughputs().get(0).tokensPerSecond(3000));
        assertEquals("260000", abs.compress().throughputs().get(0).label());
        for (String bad : List.of("[1.5x, 2e5]", "[0x]", "[fast]", "[-3]", "[x]")) {
            PuzzleException e = assertThrows(PuzzleException.class, () -> RunConfig.read(config(tmp, "{throughputs: " + bad + "}", "")), bad);
            assertTrue(e.getMessage().contains("puzzle.yaml") && e.getMessage().contains("compress.throughputs"), e.getMessage());
        }
    }

    @Test
    void aMarginIsAShareOfSpeedBelowOne(@TempDir Path tmp) throws Exception {
        assertEquals(0.0, RunConfig.read(config(tmp, "{throughputs: [2x]}", "")).compress().margin());
        assertEquals(0.1, RunConfig.read(config(tmp, "{throughputs: [2x], margin: 0.1}", "")).compress().margin());
        for (String bad : List.of("-0.1", "1", "2.5")) {
            PuzzleException e = assertThrows(PuzzleException.class, () -> RunConfig.read(config(tmp, "{throughputs: [2x], margin: " + bad + "}", "")).compress(), bad);
            assertTrue(e.getMessage().contains("compress.margin") && e.getMessage().contains("[0, 1)"), e.getMessage());
        }
    }

    @Test
    void compressUsesTheSearchSectionsSolverAndTimeLimit(@TempDir Path tmp) throws Exception {
        RunConfig rc = RunConfig.read(config(tmp, "{throughputs: [2x]}", "search: {objective: metrics.lm_loss, solver: scip, time_limit: 5}"));
        RunConfig.Search s = rc.compressSearch();
        assertEquals(ArchitectureSearch.Backend.SCIP, s.solver());
        assertEquals(5, s.timeLimit());
        assertEquals("metrics.lm_loss", s.objective());
        RunConfig none = RunConfig.read(config(tmp, "{throughputs: [2x]}", ""));
        assertEquals(ArchitectureSearch.Backend.CP_SAT, none.compressSearch().solver());
        assertEquals(60, none.compressSearch().timeLimit());
        assertEquals("metrics.kl_div", none.compressSearch().objective());
    }

    @Test
    void heldOutTextIsReadAtTheWorkloadsContextUnlessEvalContextSaysOtherwise(@TempDir Path tmp) throws Exception {
        Path f = config(tmp, "{throughputs: [2x]}", "");
        assertNull(RunConfig.read(f).data().evalContext(), "absent: the workload's context, resolved against the parent by Run");
        String text = Files.readString(f);
        Files.writeString(f, text.replace("seq_len: 4,", "seq_len: 4, eval_context: 24,"));
        assertEquals(24, RunConfig.read(f).data().evalContext());
        Files.writeString(f, text.replace("seq_len: 4,", "seq_len: 4, eval_context: 1,"));
        PuzzleException bad = assertThrows(PuzzleException.class, () -> RunConfig.read(f));
        assertTrue(bad.getMessage().contains("puzzle.yaml") && bad.getMessage().contains("eval_context") && bad.getMessage().contains("1"), bad.getMessage());
        // The held-out region is bounded by its own sequence length: calibration at byte 200 is clear of one held-out
        // sequence of 4 tokens from byte 0 (at most 4 * 8 + 64 bytes) but not of one of the workload's 32 (32 * 8 + 64).
        String moved = text.replace("calibration: {offset: 0", "calibration: {offset: 200").replace("heldout: {offset: 5000", "heldout: {offset: 0");
        Files.writeString(f, moved);
        PuzzleException overlap = assertThrows(PuzzleException.class, () -> RunConfig.read(f));
        assertTrue(overlap.getMessage().contains("data.heldout.offset") && overlap.getMessage().contains("overlap"), overlap.getMessage());
        Files.writeString(f, moved.replace("seq_len: 4,", "seq_len: 4, eval_context: 4,"));
        assertEquals(200, RunConfig.read(f).data().calibrationOffset());
        assertTrue(RunConfig.read(f).fingerprint().path("data").has("eval_context"));
        assertEquals("workload", RunConfig.read(config(tmp, "{throughputs: [2x]}", "")).fingerprint().path("eval_context").asText(),
                "run directories scored at data.seq_len (before eval_context) are refused, not mixed");
    }

    @Test
    void aRunDirectoryIsLockedWhileARunWorksInIt(@TempDir Path tmp) throws Exception {
        RunDirectory d = new RunDirectory(tmp.resolve("run"));
        try (RunDirectory.Lock held = d.lock()) {
            PuzzleException e = assertThrows(PuzzleException.class, d::lock);
            assertTrue(e.getMessage().contains("another puzzle process") && e.getMessage().contains(tmp.resolve("run").toString()), e.getMessage());
        }
        try (RunDirectory.Lock again = d.lock()) {
            assertNotNull(again, "released on close");
        }
    }

    /** workload.requests: tokens per request per reasoning effort, in order; bad values name the field; outside the fingerprint. */
    @Test
    void requestsPerEffortAreReadCheckedAndLeftOutOfTheFingerprint(@TempDir Path tmp) throws Exception {
        Path f = config(tmp, "{throughputs: [2x]}", "");
        RunConfig plain = RunConfig.read(f);
        assertTrue(plain.requests().isEmpty());
        Files.writeString(f, Files.readString(f).replace("generation_length: 16}", "generation_length: 16, requests: {low: 600, medium: 2200, high: 9000}}"));
        RunConfig rc = RunConfig.read(f);
        assertEquals(new java.util.ArrayList<>(List.of("low", "medium", "high")), new java.util.ArrayList<>(rc.requests().keySet()));
        assertEquals(9000, rc.requests().get("high"));
        assertEquals(plain.fingerprint(), rc.fingerprint(), "tokens per request shape no stage's output");
        for (String bad : List.of("{low: 0}", "{low: 1.5}", "{low: many}", "[600]", "{}")) {
            Files.writeString(f, Files.readString(f).replaceAll("requests: \\{[^}]*}|requests: \\[[^]]*]", "requests: " + bad));
            PuzzleException e = assertThrows(PuzzleException.class, () -> RunConfig.read(f).requests(), bad);
            assertTrue(e.getMessage().contains("puzzle.yaml") && e.getMessage().contains("workload") && e.getMessage().contains("requests"), e.getMessage());
            Files.writeString(f, Files.readString(f).replace("requests: " + bad, "requests: {low: 600, medium: 2200, high: 9000}"));
        }
    }
}
