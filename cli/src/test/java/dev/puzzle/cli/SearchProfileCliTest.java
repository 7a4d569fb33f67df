package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.puzzle.cli.CliTest.badInput;
import static dev.puzzle.cli.CliTest.run;
import static dev.puzzle.cli.CliTest.shared;
import static org.junit.jupiter.api.Assertions.*;

/** puzzle search and puzzle profile, driven in-process. */
class SearchProfileCliTest {
    static final String LIB = """
            {"layer_0": {"parent": {"stats": {"memory_mib": 10, "runtime_ms": 5}, "metrics": {"kl_div": 0}},
                         "small":  {"stats": {"memory_mib": 4,  "runtime_ms": 2}, "metrics": {"kl_div": 0.5}}},
             "layer_1": {"parent": {"stats": {"memory_mib": 10, "runtime_ms": 5}, "metrics": {"kl_div": 0}},
                         "small":  {"stats": {"memory_mib": 3,  "runtime_ms": 2}, "metrics": {"kl_div": 0.2}},
                         "skip":   {"stats": {"memory_mib": 0,  "runtime_ms": 0}, "metrics": {"kl_div": 3}}}}
            """;

    static Path lib(Path dir, String json) throws IOException {
        Files.createDirectories(dir);
        Path f = dir.resolve("block_library.json");
        Files.writeString(f, json);
        return f;
    }

    /** As a process: what a command prints without a final newline still reaches stdout before the JVM exits. */
    @Test
    void theSearchTablePrintedByAProcessReachesStdout(@TempDir Path tmp) throws Exception {
        Path f = lib(tmp, LIB);
        Process p = BldPipelineTest.puzzleProcess("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--max", "stats.memory_mib=14")
                .redirectOutput(tmp.resolve("out.txt").toFile()).redirectError(tmp.resolve("err.txt").toFile()).start();
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("err.txt")));
        String out = Files.readString(tmp.resolve("out.txt"));
        assertTrue(out.contains("solution 1: optimal") && out.contains("small"), "stdout: '" + out + "'");
    }

    @Test
    void jsonSolutionsWithTotals(@TempDir Path tmp) throws IOException {
        Path f = lib(tmp, LIB);
        for (String solver : new String[]{"cp-sat", "scip"}) {
            CliTest.Run r = run("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--max", "stats.memory_mib=14",
                    "--solver", solver, "--json");
            assertEquals(0, r.code(), r.err());
            JsonNode s = new ObjectMapper().readTree(r.out()).get("solutions").get(0);
            assertEquals("OPTIMAL", s.get("status").asText());
            assertEquals(0.2, s.get("total_value").asDouble(), 1e-9);
            assertEquals(13.0, s.get("total_costs").get("stats.memory_mib").asDouble(), 1e-9);
            assertEquals("parent", s.get("layers").get(0).get("variant").asText());
            assertEquals("small", s.get("layers").get(1).get("variant").asText());
        }
        // Diverse solutions, and a table for people.
        CliTest.Run r = run("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--solutions", "3", "--diversity", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("solution 1: optimal") && r.out().contains("solution 3"), r.out());
        // Throughput target → runtime budget: 1000 · 2 · 10 / 2500 = 8 ms.
        r = run("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--throughput", "2500", "--batch", "2",
                "--generation-length", "10", "--json");
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertEquals(8.0, doc.get("budgets").get(0).get("max").asDouble(), 1e-9);
        assertEquals(0.2, doc.get("solutions").get(0).get("total_value").asDouble(), 1e-9);
        // A frontier.
        r = run("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--sweep", "stats.memory_mib", "--points", "4", "--json");
        JsonNode fr = new ObjectMapper().readTree(r.out()).get("frontier");
        assertEquals(4, fr.size());
        assertEquals(3.5, fr.get(0).get("total_value").asDouble(), 1e-9, "the smallest memory: small (0.5) and skip (3)");
        assertEquals(0.0, fr.get(3).get("total_value").asDouble(), 1e-9, "the largest allows the parent");
    }

    @Test
    void badLibrariesAndBudgets(@TempDir Path tmp) throws IOException {
        Path f = lib(tmp, LIB);
        String e = badInput(run("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--max", "stats.memory_mib=2"),
                "no architecture", "smallest achievable stats.memory_mib is 4");
        assertTrue(e.contains(f.toString()), e);
        badInput(run("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--max", "stats.energy_j=2"), "stats.energy_j", "no variant");
        badInput(run("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--max", "stats.memory_mib"), "--max", "KEY=VALUE");
        badInput(run("search", "--library", f.toString(), "--objective", "metrics.kl_div", "--solver", "gurobi"), "gurobi");
        Path missingKey = lib(tmp.resolve("m"), LIB.replace("\"small\":  {\"stats\": {\"memory_mib\": 3,  \"runtime_ms\": 2}", "\"small\":  {\"stats\": {\"runtime_ms\": 2}"));
        badInput(run("search", "--library", missingKey.toString(), "--objective", "metrics.kl_div", "--max", "stats.memory_mib=14"),
                "layer_1", "'small'", "stats.memory_mib");
        Path malformed = lib(tmp.resolve("x"), "{\"layer_0\": [1, 2]}");
        badInput(run("search", "--library", malformed.toString(), "--objective", "metrics.kl_div"), "layer_0");
        Path notJson = lib(tmp.resolve("y"), "{oops");
        badInput(run("search", "--library", notJson.toString(), "--objective", "metrics.kl_div"), notJson.toString());
        Path gap = lib(tmp.resolve("z"), "{\"layer_0\": {\"a\": {\"metrics\": {\"kl_div\": 0}}}, \"layer_2\": {\"a\": {\"metrics\": {\"kl_div\": 0}}}}");
        badInput(run("search", "--library", gap.toString(), "--objective", "metrics.kl_div"), "layer_1 has no variant");
        badInput(run("search", "--library", tmp.resolve("none.json").toString(), "--objective", "metrics.kl_div"), "none.json");
    }

    static Path config(Path dir, String extra) throws IOException {
        Path mirror = shared("models");
        Path f = dir.resolve("puzzle.yaml");
        Files.writeString(f, """
                parent: hf:karpathy/tinyllamas/stories260K/stories260K.bin
                mirrors: [%s]
                run_dir: run
                hardware: h100-80gb-sxm
                workload: {batch: 4, prefill_length: 32, generation_length: 32, weight_dtype: bf16, kv_dtype: bf16}
                search_space:
                  attention: {kv_heads: [2, 1], window: [8], linear: true, no_op: true}
                  ffn: {widths: [0.5, 86], no_op: true}
                  overrides:
                    - layers: "0-1"
                      ffn: {widths: [1.0]}
                search:
                  objective: stats.num_params
                  maximize: true
                  budgets: {throughput: 40000}
                %s""".formatted(mirror, extra));
        return f;
    }

    @Test
    void profileWritesALibraryTheSearchReads(@TempDir Path tmp) throws IOException {
        Path cfg = config(tmp, "");
        CliTest.Run r = run("profile", cfg.toString());
        assertEquals(0, r.code(), r.err());
        Path costs = tmp.resolve("run/profile/block_costs.json");
        JsonNode lib = new ObjectMapper().readTree(costs.toFile()); // the block_library.json layout: layer_i -> variant -> {stats}
        assertEquals(5, lib.size());
        // 7 attention variants: the parent's gqa4, gqa2, gqa1, window 8 with each listed KV count (2, 1), linear, no-op.
        // Layers 0-1 keep the parent's FFN only; the others have 3 FFN variants (172, 86, no-op: 0.5 and 86 are one width).
        assertEquals(7, lib.get("layer_0").size());
        assertEquals(21, lib.get("layer_2").size());
        assertTrue(lib.get("layer_0").fieldNames().next().startsWith("attention = gqa 4 kv heads (parent * 100%) && ffn = dense 172"));
        JsonNode mc = new ObjectMapper().readTree(tmp.resolve("run/profile/model_costs.json").toFile());
        assertEquals(260_032, mc.get("parent_total").get("num_params").asLong());
        // The parent's layer sum + embeddings/head = the parent total.
        double layers = 0;
        for (int l = 0; l < 5; l++) layers += lib.get("layer_" + l).elements().next().get("stats").get("runtime_ms").asDouble();
        assertEquals(mc.get("parent_total").get("runtime_ms").asDouble(), layers + mc.get("embeddings_and_head").get("runtime_ms").asDouble(), 1e-6);
        // search --config: budgets from the config, the whole-model throughput net of the embeddings and head.
        CliTest.Run s = run("search", "--config", cfg.toString(), "--json");
        assertEquals(0, s.code(), s.err());
        JsonNode doc = new ObjectMapper().readTree(s.out());
        double wholeModel = 1000.0 * 4 * 32 / 40000;
        assertEquals(wholeModel - mc.get("embeddings_and_head").get("runtime_ms").asDouble(), doc.get("budgets").get(0).get("max").asDouble(), 1e-9);
        assertTrue(doc.get("solutions").get(0).get("total_costs").get("stats.runtime_ms").asDouble() <= doc.get("budgets").get(0).get("max").asDouble() + 1e-9);
    }

    /**
     * profile --validate: random children predicted as the search predicts them (the profile's own block and fixed
     * costs, summed here from its files) and measured; the summary's statistics are those of the children listed.
     */
    @Test
    void validateDrawsRandomChildrenPredictsThemFromTheProfileAndMeasuresThem(@TempDir Path tmp) throws IOException {
        Path cfg = config(tmp, "");
        CliTest.Run r = run("profile", cfg.toString(), "--validate", "3", "--reps", "3", "--seed", "7");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("on 3 random children: MAPE ") && r.out().contains("noise floor: the parent's interquartile range is"), r.out());
        JsonNode v = new ObjectMapper().readTree(tmp.resolve("run/profile/validation.json").toFile());
        JsonNode lib = new ObjectMapper().readTree(tmp.resolve("run/profile/block_costs.json").toFile());
        double fixed = new ObjectMapper().readTree(tmp.resolve("run/profile/model_costs.json").toFile()).get("embeddings_and_head").get("runtime_ms").asDouble();
        assertEquals(3, v.get("children").size());
        double absErr = 0, worst = 0;
        java.util.Set<String> distinct = new java.util.HashSet<>();
        for (JsonNode c : v.get("children")) {
            double ms = fixed;
            for (int l = 0; l < 5; l++) ms += lib.get("layer_" + l).get(c.get("variants").get(l).asText()).get("stats").get("runtime_ms").asDouble();
            assertEquals(1000.0 * 4 * 32 / ms, c.get("predicted_tokens_per_s").asDouble(), 1e-6, "batch × generated tokens / the profile's runtime");
            double m = c.get("measured_tokens_per_s").asDouble(), err = (c.get("predicted_tokens_per_s").asDouble() - m) / m;
            assertTrue(m > 0 && c.get("measured_spread").get("q1").asDouble() <= m && m <= c.get("measured_spread").get("q3").asDouble(), c.toString());
            absErr += Math.abs(err) / 3;
            if (Math.abs(err) > Math.abs(worst)) worst = err;
            distinct.add(c.get("variants").toString());
        }
        assertEquals(absErr, v.get("mape").asDouble(), 1e-12);
        assertEquals(worst, v.get("worst_error").asDouble(), 1e-12);
        assertTrue(Math.abs(v.get("spearman").asDouble()) <= 1);
        assertEquals(3, distinct.size(), "three different random children");
        assertTrue(v.get("roofline_mape").isNull(), "the cost model is the roofline already");
        badInput(run("profile", cfg.toString(), "--validate", "1"), "--validate needs at least 2 children");
    }

    /**
     * The measured cost model on this machine: whole models measured by the evaluation's harness fit {@code scale · Σ blocks
     * + fixed}, and the profile's files are that fit — every block's time scaled, the fixed time in embeddings_and_head,
     * the parent's total their sum — so the search's sums are whole-model times.
     */
    @Test
    void measuredCostsAreCalibratedOnWholeModels(@TempDir Path tmp) throws IOException {
        Path cfg = config(tmp, "cost_model: measured\n");
        Files.writeString(cfg, Files.readString(cfg).replace("hardware: h100-80gb-sxm", "hardware: local-cpu"));
        CliTest.Run r = run("profile", cfg.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("calibrated on 6 whole models measured here: whole = "), r.out());
        JsonNode mc = new ObjectMapper().readTree(tmp.resolve("run/profile/model_costs.json").toFile());
        JsonNode cal = mc.get("calibration");
        assertEquals(6, cal.get("whole_models").asInt());
        assertTrue(cal.get("scale").asDouble() > 0 && cal.get("fixed_ms").asDouble() >= 0 && cal.get("residual_rms").asDouble() >= 0, cal.toString());
        assertEquals(cal.get("fixed_ms").asDouble(), mc.get("embeddings_and_head").get("runtime_ms").asDouble(), 1e-9 * cal.get("fixed_ms").asDouble() + 1e-12);
        JsonNode lib = new ObjectMapper().readTree(tmp.resolve("run/profile/block_costs.json").toFile());
        double parent = cal.get("fixed_ms").asDouble();
        for (int l = 0; l < 5; l++) {
            parent += lib.get("layer_" + l).get("attention = gqa 4 kv heads (parent * 100%) && ffn = dense 172 (parent * 100%)").get("stats").get("runtime_ms").asDouble();
        }
        assertEquals(parent, mc.get("parent_total").get("runtime_ms").asDouble(), 1e-9 * parent);
    }

    @Test
    void badRunConfigsAreNamed(@TempDir Path tmp) throws IOException {
        Path cfg = config(tmp, "");
        String text = Files.readString(cfg);
        Files.writeString(cfg, text.replace("kv_heads: [2, 1]", "kv_heads: [3]"));
        badInput(run("profile", cfg.toString()), "search_space.attention.kv_heads", "3", "divide");
        Files.writeString(cfg, text.replace("widths: [0.5, 86]", "widths: [0.5, 400]"));
        badInput(run("profile", cfg.toString()), "search_space.ffn.widths", "400", "larger than the parent");
        Files.writeString(cfg, text.replace("run_dir: run", "run_dir: run\nrun_dri: x"));
        badInput(run("profile", cfg.toString()), "run_dri", "unknown key");
        Files.writeString(cfg, text.replace("hardware: h100-80gb-sxm", "hardware: tpu-v9"));
        badInput(run("profile", cfg.toString()), "tpu-v9");
        Files.writeString(cfg, text.replace("batch: 4", "batch: 0"));
        badInput(run("profile", cfg.toString()), "workload.batch", "0");
        Files.writeString(cfg, text.replace("layers: \"0-1\"", "layers: \"0-9\""));
        badInput(run("profile", cfg.toString()), "overrides[0].layers", "9");
        badInput(run("profile", tmp.resolve("absent.yaml").toString()), "absent.yaml");
    }
}
