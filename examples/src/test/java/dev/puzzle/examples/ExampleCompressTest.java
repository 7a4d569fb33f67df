package dev.puzzle.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.cli.PuzzleCli;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.pipeline.RunConfig;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
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
    static Path tmp;
    static Path cfg;
    static int exit;
    static String output;

    /** Compresses the bundled example once (shared with the other tests that compare against it). */
    @BeforeAll
    static void compress() throws Exception {
        ExampleRun.Done d = ExampleRun.compressed();
        tmp = d.dir();
        cfg = d.config();
        exit = d.exit();
        output = d.output();
    }

    @Test
    void bundledExampleCompresses() throws Exception {
        assertEquals(0, exit, output);
        JsonNode report = new ObjectMapper().readTree(tmp.resolve("run/report/report.json").toFile());
        assertEquals(3, report.get("frontier").size(), "one Puzzle child per throughput target");
        for (JsonNode m : report.get("models")) {
            if (m.get("kind").asText().equals("parent")) continue;
            assertEquals(m.get("parameters").asLong(), Checkpoints.load(Path.of(m.get("model").asText())).parameterCount(), m.get("name").asText());
        }
        assertTrue(Files.readString(tmp.resolve("run/report/index.html")).contains("<svg class=\"plot\""));
        fusedRuns(cfg, tmp.resolve("run"));
        System.out.println(output);
    }

    /**
     * A sliding window's damage shows at the positions it is used at: the example scores and evaluates at the
     * workload's context (512). There, the parent with every layer's attention cut to the search space's window of
     * 64 has an NLL gap to the parent several times the one the same held-out tokens show cut into the 128-token
     * sequences scoring used before; the report states its context, and its LM losses are the NLL at it.
     */
    @Test
    void windowDamageIsMeasuredAtTheWorkloadsContext() throws Exception {
        assertEquals(0, exit, output);
        JsonNode report = new ObjectMapper().readTree(tmp.resolve("run/report/report.json").toFile());
        assertEquals(512, report.path("evaluation").path("context").asInt(), report.path("evaluation").toString());
        dev.puzzle.pipeline.Run run = dev.puzzle.pipeline.Run.open(cfg);
        int[][] held = run.heldout();
        for (int[] h : held) assertEquals(512, h.length, "held-out sequences are the workload's 256 + 256 tokens");
        int[][] short128 = new int[held.length * 4][];
        for (int i = 0; i < short128.length; i++) short128[i] = java.util.Arrays.copyOfRange(held[i / 4], (i % 4) * 128, (i % 4 + 1) * 128);
        dev.puzzle.core.io.Checkpoint p = run.parent;
        java.util.List<dev.puzzle.core.model.BlockConfig> windowed = new java.util.ArrayList<>();
        for (int l = 0; l < p.config().numLayers(); l++) {
            dev.puzzle.core.model.BlockConfig b = p.config().parentBlock(l);
            windowed.add(new dev.puzzle.core.model.BlockConfig(new dev.puzzle.core.model.AttentionConfig.Window(b.attention().kvHeads(), 64, false), b.ffn()));
        }
        dev.puzzle.core.io.Checkpoint w = new dev.puzzle.core.io.Checkpoint(p.config().withBlocks(windowed), p.tensors(), p.storedTypes(), p.tokenizer(),
                "the parent with window-64 attention");
        dev.puzzle.core.infer.Decoder parent = new dev.puzzle.core.infer.Decoder(p, run.backend), window = new dev.puzzle.core.infer.Decoder(w, run.backend);
        double gap512 = nll(window, held) - nll(parent, held), gap128 = nll(window, short128) - nll(parent, short128);
        System.out.printf(java.util.Locale.ROOT, "window 64 everywhere: NLL gap to the parent %.5f at context 512, %.5f on the same tokens at 128%n", gap512, gap128);
        assertTrue(gap512 > 2 * gap128 && gap512 > 1e-3, String.format(java.util.Locale.ROOT, "NLL gap %.5f at context 512 vs %.5f at 128", gap512, gap128));
        for (JsonNode m : report.get("models")) {
            dev.puzzle.core.io.Checkpoint ck = m.get("kind").asText().equals("parent") ? p : Checkpoints.load(Path.of(m.get("model").asText()));
            assertEquals(nll(new dev.puzzle.core.infer.Decoder(ck, run.backend), held), m.get("lm_loss").asDouble(), 1e-9,
                    m.get("name").asText() + ": the report's LM loss is the NLL at the workload's context");
        }
    }

    static double nll(dev.puzzle.core.infer.Decoder d, int[][] seqs) {
        double sum = 0;
        int n = 0;
        for (int[] s : seqs) {
            dev.puzzle.core.eval.Perplexity.Result r = dev.puzzle.core.eval.Perplexity.evaluate(d, s, s.length, null);
            sum += r.meanNll() * r.predicted();
            n += r.predicted();
        }
        return sum / n;
    }

    /** Every model of the example that GGUF can express generates in real llama.cpp what it generates here. */
    @Test
    void everyExportableModelRunsTheSameInLlamaCpp() throws Exception {
        assertEquals(0, exit, output);
        LlamaCppTest.install();
        int ran = LlamaCppTest.everyExportableModel(tmp.resolve("run"), tmp);
        assertTrue(ran >= 2, "at least the parent and a baseline export: " + ran);
    }

    /**
     * The example enables FFN fusion: its library holds fused runs (layers_i-j) with costs and metrics, the
     * report draws the dependency heatmap, and a child with a fused run reloads and re-evaluates, by the
     * score stage's own harness, to the KL its library entry reports.
     */
    static void fusedRuns(Path cfg, Path runDir) throws Exception {
        JsonNode lib = new ObjectMapper().readTree(runDir.resolve("score/block_library.json").toFile());
        int spans = 0;
        for (var it = lib.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!key.startsWith("layers_")) continue;
            for (JsonNode v : lib.get(key)) {
                assertTrue(v.path("stats").has("runtime_ms") && v.path("stats").has("memory_mib") && v.path("metrics").has("kl_div"), key + ": " + v);
                spans++;
            }
        }
        assertTrue(spans > 0, "fused runs in the library");
        assertTrue(Files.readString(runDir.resolve("report/index.html")).contains("FFN fusion: pairwise FFN dependency"));
        assertTrue(Files.readString(runDir.resolve("report/report.md")).contains("fused 3-4: attn=gqa4 ffn=dense344"),
                "the fastest target's child fuses a run (distilled fused runs beat the alternatives there), and the report says which");
        dev.puzzle.pipeline.Run run = dev.puzzle.pipeline.Run.open(cfg);
        var typed = dev.puzzle.blocklibrary.BlockLibraryJson.read(runDir.resolve("score/block_library.json"));
        var f = typed.replacements().stream().filter(r -> r.span() > 1).findFirst().orElseThrow();
        var pc = run.parent.config();
        java.util.List<dev.puzzle.blocklibrary.BlockLibrary.Replacement> choice = new java.util.ArrayList<>();
        for (var r : dev.puzzle.pipeline.Compress.parentChoice(typed, pc)) {
            if (r.first() == f.first()) choice.add(f);
            else if (r.first() < f.first() || r.first() > f.last()) choice.add(r);
        }
        dev.puzzle.pipeline.Plan plan = new dev.puzzle.pipeline.Plan("fused-check", dev.puzzle.pipeline.Plan.Kind.PUZZLE, null, Double.NaN, choice, "test");
        java.util.List<dev.puzzle.core.model.BlockConfig> blocks = plan.blocks();
        dev.puzzle.core.io.Checkpoint child = dev.puzzle.pipeline.RealizeStage.run(run, plan, dev.puzzle.pipeline.Listener.silent());
        assertEquals(blocks, child.config().blocks(), "the reloaded child keeps the fused run (wide FFN, then both-no-op layers)");
        int[][] held = run.heldout();
        var ref = dev.puzzle.bld.Scorer.run(run.backend, run.parent, held);
        double kl = dev.puzzle.bld.Scorer.metrics(run.backend, ref, dev.puzzle.bld.Scorer.run(run.backend, child, held), held, pc.vocabSize(), pc.dim())
                .get(dev.puzzle.core.model.LibraryKeys.KL_DIV);
        double reported = lib.get("layers_" + f.first() + "-" + f.last()).get(f.name()).get("metrics").get("kl_div").asDouble();
        assertEquals(reported, kl, 1e-6 * Math.max(1, reported), f.name());
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
