package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.pipeline.Run;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
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

import static dev.puzzle.cli.CliTest.badInput;
import static dev.puzzle.cli.CliTest.run;
import static dev.puzzle.cli.CliTest.shared;
import static org.junit.jupiter.api.Assertions.*;

/** puzzle compress end to end on stories260K: children, baselines, evaluation, report, resume, infeasible budgets. */
class CompressTest {
    @TempDir
    static Path tmp;
    static Path dir;
    static JsonNode report;
    static CliTest.Run first;

    static Path config(Path d, String throughputs) throws IOException {
        Files.createDirectories(d);
        Path f = d.resolve("puzzle.yaml");
        Files.writeString(f, """
                parent: hf:karpathy/tinyllamas/stories260K/stories260K.bin
                tokenizer: hf:karpathy/tinyllamas/stories260K/tok512.bin
                mirrors: [%s]
                run_dir: run
                hardware: h100-80gb-sxm
                workload: {batch: 64, prefill_length: 256, generation_length: 256, weight_dtype: bf16, kv_dtype: bf16}
                search_space:
                  attention: {kv_heads: [2, 1], window: [32], linear: true, no_op: true}
                  ffn: {widths: [0.5], no_op: true}
                data:
                  text: %s
                  seq_len: 64
                  eval_context: 256
                  calibration: {offset: 0, sequences: 16}
                  heldout: {offset: 300000, sequences: 2}
                distill: {mode: decoupled, tokens: 4096, batch_sequences: 2, lr: 2.0e-3, seed: 5}
                compress:
                  throughputs: %s
                  memory_mib: 12
                  measure: {prompt: 32, generate: 32, reps: 3}
                """.formatted(shared("models"), shared("models/tinystories-val-text/tinystories_val.txt"), throughputs));
        return f;
    }

    @BeforeAll
    static void compress() throws IOException {
        dir = tmp.resolve("main");
        first = run("compress", config(dir, "[2.15e5, 2.6e5, 3.0e5]").toString());
        assertEquals(0, first.code(), first.err());
        report = new ObjectMapper().readTree(dir.resolve("run/report/report.json").toFile());
    }

    /** KL(p ‖ q) of two logit rows, in double, written here independently of the toolkit's Losses. */
    static double kl(float[] p, float[] q, int off, int V) {
        double mp = Double.NEGATIVE_INFINITY, mq = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < V; i++) {
            mp = Math.max(mp, p[off + i]);
            mq = Math.max(mq, q[off + i]);
        }
        double zp = 0, zq = 0;
        for (int i = 0; i < V; i++) {
            zp += Math.exp(p[off + i] - mp);
            zq += Math.exp(q[off + i] - mq);
        }
        double kl = 0;
        for (int i = 0; i < V; i++) {
            double lp = p[off + i] - mp - Math.log(zp), lq = q[off + i] - mq - Math.log(zq);
            kl += Math.exp(lp) * (lp - lq);
        }
        return kl;
    }

    @Test
    void everyChildReloadsAndTheReportAgreesWithIndependentComputations() throws IOException {
        Checkpoint parent = Checkpoints.load(shared("models/stories260K/stories260K.bin"));
        Run run = Run.open(dir.resolve("puzzle.yaml"));
        int[][] held = run.heldout();
        JsonNode costs = new ObjectMapper().readTree(dir.resolve("run/profile/block_costs.json").toFile());
        JsonNode fixed = new ObjectMapper().readTree(dir.resolve("run/profile/model_costs.json").toFile()).get("embeddings_and_head");
        int children = 0;
        for (JsonNode m : report.get("models")) {
            if (m.get("kind").asText().equals("parent")) {
                assertEquals(0.0, m.get("kl_div").asDouble(), 0.0);
                continue;
            }
            Checkpoint child = Checkpoints.load(Path.of(m.get("model").asText()));
            assertEquals(m.get("blocks").size(), child.config().numLayers());
            for (int l = 0; l < child.config().numLayers(); l++) {
                assertEquals(m.get("blocks").get(l).get("block").asText(), child.config().blocks().get(l).toString(), m.get("name").asText() + " layer " + l);
            }
            assertNotNull(child.tokenizer(), "the tokenizer travels with every child");
            // KL to the parent through the one-token decode path (the report scored batched prefill), in double here.
            Decoder pd = new Decoder(parent), cd = new Decoder(child);
            int V = parent.config().vocabSize();
            double kl = 0;
            int n = 0;
            for (int[] seq : held) {
                Decoder.State ps = pd.newState(seq.length), cs = cd.newState(seq.length);
                for (int t = 0; t < seq.length; t++) {
                    kl += kl(pd.forward(ps, seq, t, 1, false), cd.forward(cs, seq, t, 1, false), 0, V);
                    n++;
                }
            }
            assertEquals(kl / n, m.get("kl_div").asDouble(), 1e-4 * Math.max(1e-3, kl / n), m.get("name").asText() + " KL");
            // The realized child's predicted runtime is what the MIP summed: embeddings and head plus each chosen variant's library cost.
            double runtime = fixed.get("runtime_ms").asDouble();
            for (JsonNode b : m.get("blocks")) runtime += costs.get("layer_" + b.get("layer").asInt()).get(b.get("variant").asText()).get("stats").get("runtime_ms").asDouble();
            assertEquals(runtime, m.get("predicted_runtime_ms").asDouble(), 1e-9 * runtime, m.get("name").asText() + " runtime");
            assertEquals(child.parameterCount(), m.get("parameters").asLong());
            assertTrue(m.get("measured_workload_tokens_per_s").asDouble() > 0 && m.get("measured_decode_tokens_per_s").asDouble() > 0, m.toString());
            if (m.get("kind").asText().equals("puzzle")) assertTrue(m.get("solved_by").asText().startsWith("cp-sat, metrics.kl_div limit 60 s"), m.toString());
            children++;
        }
        assertTrue(children >= 4, "Puzzle children and baselines: " + children);
        // Every model's speed from the same interleaved rounds (timings.json), as the report shows it.
        JsonNode timings = new ObjectMapper().readTree(dir.resolve("run/compress/timings.json").toFile());
        assertEquals(3, timings.get("reps").asInt());
        assertEquals(report.get("models").size(), timings.get("models").size());
        for (JsonNode m : report.get("models")) {
            JsonNode s = timings.get("speeds").get(m.get("name").asText());
            assertEquals(s.get("workload").asDouble(), m.get("measured_workload_tokens_per_s").asDouble(), 0, m.get("name").asText());
            assertTrue(s.get("workload_spread").get("q1").asDouble() <= s.get("workload").asDouble() && s.get("workload").asDouble() <= s.get("workload_spread").get("q3").asDouble());
        }
        // The children load into the other commands too.
        JsonNode puzzle = report.get("frontier").get(0);
        String model = dir.resolve("run/compress").resolve(puzzle.get("name").asText()).resolve("model").toString();
        assertEquals(0, run("inspect", model).code());
        CliTest.Run g = run("generate", model, "--prompt", "Once upon a time", "--temperature", "0", "--steps", "30");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().startsWith("Once upon a time"));
    }

    @Test
    void frontierIsMonotoneAndEveryBudgetHasAPlainVerdict() {
        JsonNode f = report.get("frontier");
        assertEquals(3, f.size());
        for (int i = 1; i < f.size(); i++) {
            assertTrue(f.get(i).get("target_tokens_per_s").asDouble() > f.get(i - 1).get("target_tokens_per_s").asDouble());
            assertTrue(f.get(i).get("kl_div").asDouble() >= f.get(i - 1).get("kl_div").asDouble(),
                    "a looser budget has no higher KL: " + f.get(i - 1) + " vs " + f.get(i));
            assertTrue(f.get(i).get("predicted_tokens_per_s").asDouble() >= f.get(i).get("target_tokens_per_s").asDouble() * (1 - 1e-9));
        }
        JsonNode cmp = report.get("comparisons");
        assertEquals(3, cmp.size());
        for (JsonNode c : cmp) {
            String v = c.get("verdict").asText();
            if (c.hasNonNull("uniform")) {
                assertTrue(v.contains(c.get("puzzle_better").asBoolean() ? "Puzzle is better" : "Puzzle is NOT better"), v);
            } else {
                assertTrue(v.contains("no uniform-width baseline fits the budget"), v);
            }
        }
        assertTrue(report.get("summary").asText().matches(".* on \\d+ of \\d+ budgets\\.|No uniform-width baseline fits any budget.*"), report.get("summary").asText());
    }

    @Test
    void htmlReportRendersWithPlotsThatHaveData() throws Exception {
        Path html = dir.resolve("run/report/index.html");
        String s = Files.readString(html);
        assertTrue(Files.exists(dir.resolve("run/report/report.md")));
        String[] plots = s.split("<svg class=\"plot\"");
        assertEquals(3, plots.length, "two frontiers: predicted and measured");
        int models = report.get("models").size();
        for (int i = 1; i < plots.length; i++) {
            String plot = plots[i].substring(0, plots[i].indexOf("</svg>"));
            assertEquals(models, plot.split("<g class=\"point\"").length - 1, "frontier " + i + " has a point per model");
        }
        String bars = s.substring(s.indexOf("<svg class=\"plot bars\""));
        bars = bars.substring(0, bars.indexOf("</svg>"));
        assertEquals(models * report.get("models").get(0).get("blocks").size(), bars.split("<rect x=\"[0-9.]+\" y=\"[0-9.]+\" width=\"[0-9.]+\" height=\"[0-9.]+\" fill=\"#").length - 1 - models,
                "a bar per model and layer (beside a legend swatch per model)");
        String curves = s.substring(s.indexOf("<svg class=\"plot lines\""));
        curves = curves.substring(0, curves.indexOf("</svg>"));
        assertEquals(6, curves.split("<polyline class=\"curve\"").length - 1, "a BLD loss curve per candidate family (gqa2, gqa1, window32 kv2 and kv1, linear, dense86)");
        assertFalse(s.contains("<script"), "self-contained, no scripts");
        assertFalse(s.replace("xmlns=\"http://www.w3.org/2000/svg\"", "").matches("(?s).*(https?:)?//[a-zA-Z0-9.-]+\\.[a-z]{2,}/.*"),
                "no external resources: every URL but the SVG namespace is refused");
        assertFalse(s.contains(" src=") || s.contains("<link"), "nothing loaded from elsewhere");
        Path chromium = Stream.of("/usr/bin/chromium", "/usr/bin/chromium-browser").map(Path::of).filter(Files::isExecutable).findFirst().orElse(null);
        Assumptions.assumeTrue(chromium != null, "skipped the browser check: Debian's chromium is not installed (.ci/run installs it)");
        Process p = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + tmp.resolve("chromium-profile"),
                "--enable-logging=stderr", "--v=0", "--dump-dom", html.toUri().toString()).redirectError(tmp.resolve("chromium.err").toFile()).start();
        String dom = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("chromium.err")));
        assertTrue(dom.contains("<svg class=\"plot\"") && dom.contains("Puzzle against the baselines"), "rendered DOM");
        dev.puzzle.pipeline.ReportModelTest.assertPlotsReadable(dom); // round ticks, labelled points, as the browser has them
        for (String part : List.of("Recommended child per budget", "binds:", "Accuracy: KL, top-1 agreement", "held-out sequences of 256 tokens",
                "Samples (greedy, the same prompt", "Once upon a time", "budget 215000 tok/s", "(log scale)", "seed 5", "commit ", "median [IQR]")) {
            assertTrue(dom.contains(part), "the rendered report shows: " + part);
        }
        List<String> console = Files.readAllLines(tmp.resolve("chromium.err")).stream().filter(l -> l.contains("CONSOLE")).toList();
        assertEquals(List.of(), console, "no console messages");
    }

    @Test
    void killedMidwayResumesWithoutRedoingFinishedStages() throws Exception {
        Path d = tmp.resolve("killed");
        Path cfg = config(d, "[2.15e5, 2.6e5]");
        Process p = BldPipelineTest.puzzleProcess("compress", cfg.toString()).start();
        long deadline = System.currentTimeMillis() + 180_000;
        while (BldPipelineTest.curves(d.resolve("run")).size() < 4 && p.isAlive() && System.currentTimeMillis() < deadline) Thread.sleep(50);
        assertTrue(p.isAlive(), "killed during distillation");
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        int done = BldPipelineTest.curves(d.resolve("run")).size();
        Map<String, FileTime> stamps = new TreeMap<>();
        try (Stream<Path> s = Files.walk(d.resolve("run"))) {
            for (Path f : s.filter(Files::isRegularFile).filter(f -> !f.toString().endsWith(".tmp") && !f.toString().endsWith(".started")).toList()) stamps.put(f.toString(), Files.getLastModifiedTime(f));
        }
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("[profile] done earlier, skipped"), r.out());
        int total = BldPipelineTest.curves(d.resolve("run")).size();
        assertTrue(r.out().contains("[distill] trained " + (total - done) + " jobs") || (total == done && r.out().contains("all jobs done earlier")), r.out());
        for (var e : stamps.entrySet()) assertEquals(e.getValue(), Files.getLastModifiedTime(Path.of(e.getKey())), "rewritten: " + e.getKey());
        assertTrue(Files.exists(d.resolve("run/report/index.html")));
        // A third run finds everything done.
        CliTest.Run again = run("compress", cfg.toString());
        assertTrue(again.out().contains("[score] done earlier, skipped") && again.out().contains("all jobs done earlier"), again.out());
    }

    @Test
    void optionalGkdTrainsEveryChildAndTheReportSaysSo() throws IOException {
        Path d = tmp.resolve("gkd");
        Path cfg = config(d, "[2.15e5]");
        Files.writeString(cfg, Files.readString(cfg).replace("  memory_mib: 12\n", "  memory_mib: 12\n  gkd: {tokens: 1024, batch_sequences: 2, lr: 3.0e-4, checkpoint_every: 4}\n"));
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode rep = new ObjectMapper().readTree(d.resolve("run/report/report.json").toFile());
        for (JsonNode m : rep.get("models")) {
            assertEquals(!m.get("kind").asText().equals("parent"), m.get("gkd").asBoolean(), m.get("name").asText());
            if (m.get("gkd").asBoolean()) assertTrue(Files.exists(d.resolve("run/compress").resolve(m.get("name").asText()).resolve("gkd-checkpoint.safetensors")));
        }
        Path bad = config(tmp.resolve("badgkd"), "[2.15e5]");
        Files.writeString(bad, Files.readString(bad).replace("  memory_mib: 12\n", "  memory_mib: 12\n  gkd: {tokens: 0}\n"));
        badInput(run("compress", bad.toString()), "compress.gkd", "tokens", "0");
        // GKD and QAD train on one pass of distinct text from the calibration offset: a budget whose text could reach the
        // held-out region (offset 300000; at most 8 bytes a token) is refused before any work.
        for (String key : new String[] {"gkd", "qad"}) {
            Path far = config(tmp.resolve("far" + key), "[2.15e5]");
            Files.writeString(far, Files.readString(far).replace("  memory_mib: 12\n", "  memory_mib: 12\n  " + key + ": {tokens: 40000}\n"));
            CliTest.Run f = run("compress", far.toString());
            badInput(f, "compress." + key + ".tokens", "40000", "held-out text at byte 300000");
            assertFalse(Files.exists(tmp.resolve("far" + key).resolve("run")), "nothing written");
        }
        // Calibration text near the end of the file (held-out text before it): GKD's one pass runs out of text, and the
        // error names the budget that asked for it.
        Path late = config(tmp.resolve("late"), "[2.15e5]");
        Files.writeString(late, Files.readString(late).replace("calibration: {offset: 0,", "calibration: {offset: 700000,")
                .replace("  memory_mib: 12\n", "  memory_mib: 12\n  baselines: false\n  gkd: {tokens: 60000}\n"));
        CliTest.Run r2 = run("compress", late.toString());
        assertEquals(3, r2.code(), r2.err());
        String lastLine = r2.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertFalse(r2.err().contains("Exception") || r2.err().contains("\tat "), r2.err());
        for (String want : new String[]{"puzzle: ", "compress.gkd.tokens", "60000", "more than the text holds"}) assertTrue(lastLine.contains(want), lastLine);
    }

    @Test
    void compareOverlaysRuns() throws IOException {
        Path other = tmp.resolve("other");
        CompressTest.copyTree(dir.resolve("run"), other.resolve("run"));
        Path html = tmp.resolve("compare.html");
        CliTest.Run r = run("report", "--compare", dir.resolve("run").toString(), other.resolve("run").toString(), "--out", html.toString());
        assertEquals(0, r.code(), r.err());
        String s = Files.readString(html);
        assertTrue(s.contains("data-series=\"main/run (H100-80GB-SXM): puzzle\"") && s.contains("data-series=\"other/run (H100-80GB-SXM): puzzle\""),
                "each run's frontier is a series, named by as much of its directory as tells it apart");
        dev.puzzle.pipeline.ReportModelTest.assertPlotsReadable(s);
        assertEquals(2, s.split("<section class=\"run\">").length - 1, "a section per run");
        badInput(run("report", "--compare", dir.resolve("run").toString(), "--out", html.toString()), "at least two");
        badInput(run("report", dir.resolve("run").toString(), other.resolve("run").toString()), "add --compare");
        Files.delete(other.resolve("run/report/index.html"));
        CliTest.Run again = run("report", other.resolve("run").toString());
        assertEquals(0, again.code(), again.err());
        assertTrue(Files.readString(other.resolve("run/report/index.html")).contains("Recommended child per budget"), "one run: its page written again");
        badInput(run("report", tmp.resolve("nowhere").toString()), "nowhere", "report.json");
    }

    @Test
    void unreachableBudgetsEndWithTheSmallestAchievableCosts() throws IOException {
        Path d = tmp.resolve("infeasible");
        // Reuse the finished run's files: same settings, only the targets differ.
        Path cfg = config(d, "[1.0e9]");
        copyTree(dir.resolve("run"), d.resolve("run"));
        Files.deleteIfExists(d.resolve("run/run.fingerprint.json"));
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(ExitCodes.INPUT, r.code());
        List<String> lines = r.err().strip().lines().toList();
        String e = lines.get(lines.size() - 1); // progress of the earlier stages precedes it
        assertTrue(e.startsWith("puzzle: ") && !r.err().contains("Exception"), r.err());
        for (String want : new String[]{"puzzle.yaml", "compress.throughputs", "1000000000 tokens/s", "the parent runs 2", "the fastest architecture reaches", "the smallest needs"}) {
            assertTrue(e.contains(want), want + " missing from " + e);
        }
        badInput(run("compress", config(tmp.resolve("nothroughput"), "[]").toString()), "compress.throughputs");
        Path noParent = config(tmp.resolve("noparent"), "[2.15e5]");
        Files.writeString(noParent, Files.readString(noParent).replace("parent: hf:karpathy/tinyllamas/stories260K/stories260K.bin", "parent: not-made-yet"));
        badInput(run("compress", noParent.toString()), "puzzle.yaml", "field 'parent'", "not-made-yet", "no such file");
        // Changing the settings of an existing run directory is refused rather than silently mixing results.
        Files.writeString(cfg, Files.readString(cfg).replace("seed: 5", "seed: 6").replace("[1.0e9]", "[2.15e5]"));
        badInput(run("compress", cfg.toString()), "run_dir", "other");
    }

    @Test
    void searchSettingsOfTheRunConfigChooseTheSolverAndTheReportSaysSo() throws IOException {
        Path d = tmp.resolve("scip");
        Path cfg = config(d, "[2.15e5, 2.6e5]");
        Files.writeString(cfg, Files.readString(cfg) + "search: {objective: metrics.kl_div, solver: scip, time_limit: 5}\n");
        reuseFinishedRun(d);
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode rep = new ObjectMapper().readTree(d.resolve("run/report/report.json").toFile());
        int puzzle = 0;
        for (JsonNode m : rep.get("models")) {
            if (!m.get("kind").asText().equals("puzzle")) continue;
            assertTrue(m.get("solved_by").asText().startsWith("scip, metrics.kl_div limit 5 s, optimal"), m.get("solved_by").asText());
            puzzle++;
        }
        assertEquals(2, puzzle);
        // The same optimum as CP-SAT's (both prove optimality): the same KL per target.
        for (int i = 0; i < 2; i++) {
            assertEquals(report.get("frontier").get(i).get("kl_div").asDouble(), rep.get("frontier").get(i).get("kl_div").asDouble(), 1e-9);
        }
    }

    @Test
    void relativeTargetsAreSpeedupsOverTheParentAndUnreachableOnesNameItsFigure() throws IOException {
        Path d = tmp.resolve("relative");
        Path cfg = config(d, "[1.01x, 50x]");
        reuseFinishedRun(d);
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        double parent = new ObjectMapper().readTree(d.resolve("run/profile/model_costs.json").toFile()).get("parent_total").get("throughput_tokens_per_s").asDouble();
        JsonNode rep = new ObjectMapper().readTree(d.resolve("run/report/report.json").toFile());
        JsonNode child = rep.get("frontier").get(0);
        assertEquals("1.01x", child.get("target").asText());
        assertEquals(1.01 * parent, child.get("target_tokens_per_s").asDouble(), 1e-6 * parent);
        assertTrue(child.get("predicted_tokens_per_s").asDouble() >= 1.01 * parent * (1 - 1e-9));
        assertEquals(1, rep.get("infeasible").size());
        String why = rep.get("infeasible").get(0).asText();
        assertTrue(why.startsWith("50x (") && why.contains(String.format(java.util.Locale.ROOT, "the parent runs %.0f tokens/s", parent)), why);
    }

    @Test
    void everyChildHasAGgufOrSaysWhyNotAndRequiredSearchesOnlyBlocksLlamaCppRuns() throws IOException {
        for (JsonNode m : report.get("models")) {
            if (m.get("kind").asText().equals("parent")) {
                assertTrue(m.get("gguf").isNull() && m.get("gguf_refused").isNull(), "the parent is the user's own");
                continue;
            }
            boolean refusable = false;
            for (JsonNode b : m.get("blocks")) refusable |= b.get("block").asText().matches(".*(window|ffn=linear|fp8).*");
            Path gguf = Path.of(m.get("model").asText()).resolveSibling("model.gguf");
            assertEquals(!refusable, Files.exists(gguf), m.get("name").asText() + " " + m.get("blocks"));
            if (refusable) assertTrue(m.get("gguf_refused").asText().matches("layer \\d+ \\(.*\\): .*"), m.get("gguf_refused").asText());
            else assertEquals(gguf.toString(), m.get("gguf").asText());
        }
        Path d = tmp.resolve("gguf");
        Path cfg = config(d, "[2.15e5, 2.6e5]");
        Files.writeString(cfg, Files.readString(cfg).replace("  memory_mib: 12\n", "  memory_mib: 12\n  gguf: required\n"));
        reuseFinishedRun(d);
        Files.delete(d.resolve("run/run.fingerprint.json")); // required narrows the search: a run of its own (same library here)
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode rep = new ObjectMapper().readTree(d.resolve("run/report/report.json").toFile());
        int puzzle = 0;
        for (JsonNode m : rep.get("models")) {
            if (!m.get("kind").asText().equals("puzzle")) continue;
            for (JsonNode b : m.get("blocks")) assertFalse(b.get("block").asText().matches(".*(window|ffn=linear|fp8).*"), m.get("name") + ": " + b);
            assertTrue(Files.exists(Path.of(m.get("gguf").asText())), m.toString());
            assertEquals(0, run("inspect", m.get("gguf").asText()).code(), "the GGUF reads back here");
            puzzle++;
        }
        assertEquals(2, puzzle);
        // KL can only rise when the choice narrows.
        for (int i = 0; i < 2; i++) assertTrue(rep.get("frontier").get(i).get("kl_div").asDouble() >= report.get("frontier").get(i).get("kl_div").asDouble() - 1e-9);
        Path bad = config(tmp.resolve("badgguf"), "[2.15e5]");
        Files.writeString(bad, Files.readString(bad).replace("  memory_mib: 12\n", "  memory_mib: 12\n  gguf: maybe\n"));
        badInput(run("compress", bad.toString()), "compress", "gguf", "maybe", "true, false or required");
    }

    @Test
    void shardedScoringMergesOnlyWhenEveryCandidateWasScoredOnceByItsShard() throws Exception {
        Path d = tmp.resolve("merge");
        Path cfg = config(d, "[2.15e5]");
        reuseFinishedRun(d);
        Path run = d.resolve("run");
        Files.delete(run.resolve("score/block_library.json"));
        dev.puzzle.core.io.AtomicFiles.deleteTree(run.resolve("score/jobs"));
        CliTest.Run s0 = run("score", cfg.toString(), "--shard", "0/2");
        assertEquals(0, s0.code(), s0.err());
        assertTrue(s0.out().startsWith("scored shard 0/2: "), s0.out());
        assertFalse(Files.exists(run.resolve("score/block_library.json")), "a shard writes no library");
        badInput(run("score", cfg.toString(), "--merge", "2"), "candidates were not scored", "score the missing shards i/2 first");
        badInput(run("score", cfg.toString(), "--merge", "3"), "candidates were not scored");
        assertEquals(0, run("score", cfg.toString(), "--shard", "1/2").code());
        badInput(run("score", cfg.toString(), "--merge", "3"), "scored by a shard of another split than 3");
        CliTest.Run m = run("score", cfg.toString(), "--merge", "2");
        assertEquals(0, m.code(), m.err());
        // The same library as the one-process scoring of the finished run.
        JsonNode merged = new ObjectMapper().readTree(run.resolve("score/block_library.json").toFile()),
                whole = new ObjectMapper().readTree(dir.resolve("run/score/block_library.json").toFile());
        List<String> a = new ArrayList<>(), b = new ArrayList<>();
        whole.fields().forEachRemaining(l -> l.getValue().fieldNames().forEachRemaining(v -> a.add(l.getKey() + " " + v)));
        merged.fields().forEachRemaining(l -> l.getValue().fieldNames().forEachRemaining(v -> b.add(l.getKey() + " " + v)));
        assertEquals(a, b, "the same candidates, in the same order");
        for (String k : a) {
            String layer = k.substring(0, k.indexOf(' ')), v = k.substring(k.indexOf(' ') + 1);
            JsonNode x = whole.get(layer).get(v), y = merged.get(layer).get(v);
            assertEquals(x.get("stats"), y.get("stats"), k);
            x.get("metrics").fields().forEachRemaining(e -> assertEquals(e.getValue().asDouble(), y.get("metrics").get(e.getKey()).asDouble(),
                    1e-6 * Math.max(1, Math.abs(e.getValue().asDouble())), k + " " + e.getKey())); // the vectorized exp differs in the last bits between JIT tiers
        }
        badInput(run("score", cfg.toString(), "--shard", "0/2", "--merge", "2"), "one at a time");
    }

    /** The finished run's profile, library, distillation and scores (same settings), with no realized or evaluated model. */
    static void reuseFinishedRun(Path d) throws IOException {
        copyTree(dir.resolve("run"), d.resolve("run"));
        dev.puzzle.core.io.AtomicFiles.deleteTree(d.resolve("run/compress"));
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
    }
}
