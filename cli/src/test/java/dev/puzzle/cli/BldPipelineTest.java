package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.io.Safetensors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.puzzle.cli.CliTest.badInput;
import static dev.puzzle.cli.CliTest.run;
import static dev.puzzle.cli.CliTest.shared;
import static org.junit.jupiter.api.Assertions.*;

/** library → distill → score on stories260K and TinyStories text: BLD improves candidates, resumes after kill -9, and shards. */
class BldPipelineTest {
    @TempDir
    static Path tmp;
    static Path reference; // an uninterrupted single-process run

    static Path config(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path f = dir.resolve("puzzle.yaml");
        Files.writeString(f, """
                parent: hf:karpathy/tinyllamas/stories260K/stories260K.bin
                tokenizer: hf:karpathy/tinyllamas/stories260K/tok512.bin
                mirrors: [%s]
                run_dir: run
                search_space:
                  attention: {kv_heads: [2], window: [16], linear: true, no_op: true}
                  ffn: {widths: [0.5], linear: true, no_op: true}
                data:
                  text: %s
                  seq_len: 64
                  calibration: {offset: 0, sequences: 24}
                  heldout: {offset: 300000, sequences: 6}
                distill: {mode: decoupled, tokens: 6144, batch_sequences: 2, lr: 2.0e-3, warmup: 0.1, weight_decay: 0.1, clip: 1.0, seed: 3}
                """.formatted(shared("models"), shared("models/tinystories-val-text/tinystories_val.txt")));
        return f;
    }

    @BeforeAll
    static void uninterrupted() throws IOException {
        reference = tmp.resolve("reference");
        Path cfg = config(reference);
        for (String stage : new String[]{"library", "distill", "score"}) {
            CliTest.Run r = run(stage, cfg.toString());
            assertEquals(0, r.code(), stage + ": " + r.err());
        }
    }

    /** Every loss curve of a run: job key → {loss_before, loss_after, kept_init}. */
    static Map<String, JsonNode> curves(Path runDir) throws IOException {
        Map<String, JsonNode> out = new TreeMap<>();
        if (!Files.exists(runDir.resolve("distill"))) return out;
        for (int attempt = 0; ; attempt++) { // a process writing meanwhile may remove a temporary file under the walk
            try (Stream<Path> s = Files.walk(runDir.resolve("distill"))) {
                for (Path p : s.filter(p -> p.toString().endsWith(".loss.json")).toList()) {
                    JsonNode n = new ObjectMapper().readTree(p.toFile());
                    out.put(n.get("job").asText(), n);
                }
                return out;
            } catch (java.io.UncheckedIOException e) {
                if (attempt >= 10 || !(e.getCause() instanceof java.nio.file.NoSuchFileException)) throw e;
                out.clear();
            }
        }
    }

    /** Every trained tensor of a run, by job file and tensor name. */
    static Map<String, float[]> weights(Path runDir) throws IOException {
        Map<String, float[]> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(runDir.resolve("distill"))) {
            for (Path p : s.filter(p -> p.toString().endsWith(".safetensors")).toList()) {
                try (Safetensors st = Safetensors.open(p)) {
                    for (String n : st.entries().keySet()) out.put(runDir.resolve("distill").relativize(p) + ":" + n, st.read(n).data());
                }
            }
        }
        return out;
    }

    static void sameLibrary(Path a, Path b) throws IOException {
        Map<String, float[]> wa = weights(a.resolve("run")), wb = weights(b.resolve("run"));
        assertEquals(wa.keySet(), wb.keySet());
        for (String k : wa.keySet()) {
            float[] x = wa.get(k), y = wb.get(k);
            for (int i = 0; i < x.length; i++) {
                // Bitwise equal except where the Vector API's pre-JIT fallback rounded differently (last bits).
                assertEquals(x[i], y[i], 1e-4f * Math.max(1f, Math.abs(x[i])), k + "[" + i + "]");
            }
        }
    }

    @Test
    void distillationImprovesEveryTrainableCandidate() throws IOException {
        Map<String, JsonNode> c = curves(reference.resolve("run"));
        // Attention variants: the parent's gqa4, gqa2, window 16 with the listed 2 KV heads, linear, no-op; FFN: 172, 86, linear, no-op.
        assertEquals(5 * (3 + 2), c.size(), "5 layers × (3 attention + 2 FFN variants that differ from the parent and have weights)");
        for (var e : c.entrySet()) {
            double before = e.getValue().get("loss_before").asDouble(), after = e.getValue().get("loss_after").asDouble();
            if (e.getKey().contains("linear")) {
                // A least-squares fit starts at the optimum of this loss: BLD may not improve it, and must not worsen it.
                assertTrue(after <= before, e.getKey() + ": " + before + " -> " + after);
            } else {
                assertTrue(after < before, e.getKey() + ": normalized MSE " + before + " -> " + after);
                assertFalse(e.getValue().get("kept_init").asBoolean(), e.getKey());
            }
            assertEquals(6144 / (2 * 64), e.getValue().get("steps").size(), "the token budget sets the steps");
        }
    }

    /** The variant ids of a candidate name, e.g. "attention = gqa 2 kv heads (...) && ffn = linear" → [attn-gqa2, ffn-linear]. */
    static List<String> partIds(String name) {
        String[] p = name.split(" && ");
        String a = p[0].substring("attention = ".length()), f = p[1].substring("ffn = ".length());
        String aid = a.startsWith("gqa ") ? "attn-gqa" + a.split(" ")[1] : a.startsWith("window ") ? "attn-window" + a.split("[ ,]+")[1] + "-kv" + a.split("[ ,]+")[2]
                : a.equals("linear") ? "attn-linear" : "attn-noop";
        String fid = f.startsWith("dense ") ? "ffn-dense" + f.split(" ")[1] : f.equals("linear") ? "ffn-linear" : "ffn-noop";
        return List.of(aid, fid);
    }

    @Test
    void scoresImproveAndTheParentScoresZero() throws IOException {
        JsonNode lib = new ObjectMapper().readTree(reference.resolve("run/score/block_library.json").toFile());
        Map<String, JsonNode> curves = curves(reference.resolve("run"));
        int changed = 0, better = 0, untouched = 0;
        for (Iterator<Map.Entry<String, JsonNode>> layers = lib.fields(); layers.hasNext(); ) {
            var layer = layers.next();
            assertEquals(5 * 4, layer.getValue().size(), "every attention × FFN combination is scored");
            for (Iterator<Map.Entry<String, JsonNode>> vs = layer.getValue().fields(); vs.hasNext(); ) {
                var v = vs.next();
                JsonNode m = v.getValue().get("metrics");
                if (v.getKey().equals("attention = gqa 4 kv heads (parent * 100%) && ffn = dense 172 (parent * 100%)")) {
                    assertEquals(0.0, m.get("kl_div").asDouble(), 0.0, layer.getKey() + ": the parent's own block");
                    assertEquals(1.0, m.get("top1_agreement").asDouble(), 0.0);
                    continue;
                }
                // Did BLD change any part of this candidate? (Parent parts are exact, no-op has no weights, and a
                // least-squares linear map starts at the optimum, where training keeps its initialization.)
                boolean trained = false;
                for (String id : partIds(v.getKey())) {
                    JsonNode c = curves.get(layer.getKey() + "/" + id);
                    trained |= c != null && !c.get("kept_init").asBoolean();
                }
                if (trained) {
                    changed++;
                    if (m.get("kl_div").asDouble() < m.get("kl_div_init").asDouble()) better++;
                } else {
                    untouched++;
                    // the same weights scored twice: equal but for the vectorized exp's last bits, which differ between JIT tiers
                    assertEquals(m.get("kl_div_init").asDouble(), m.get("kl_div").asDouble(), 1e-6 * m.get("kl_div").asDouble(), v.getKey() + ": untouched by BLD, same KL");
                }
            }
        }
        System.out.printf("replace-1-block KL lower after BLD for %d of %d candidates BLD changed (%.1f%%); %d candidates differ from the parent"
                + " but BLD leaves them as initialized%n", better, changed, 100.0 * better / changed, untouched);
        assertTrue(changed >= 50, "most candidates are trained: " + changed);
        assertTrue(better >= 0.9 * changed, better + " of " + changed);
    }

    /**
     * A library score is the metric of the parent with that one block in place, recomputed here from the two models'
     * logits and hidden states by the metrics' definitions (mean over held-out positions of KL(parent ‖ child), of
     * top-1 agreement, of the final hidden states' cosine) — for a trained window, a linear FFN and a coupled pruned block.
     */
    @Test
    void aScoreIsTheMetricOfTheParentWithThatOneBlockRecomputedHere() throws IOException {
        dev.puzzle.pipeline.Run run = dev.puzzle.pipeline.Run.open(reference.resolve("puzzle.yaml"));
        JsonNode lib = new ObjectMapper().readTree(reference.resolve("run/score/block_library.json").toFile());
        int l = 2, V = run.parent.config().vocabSize(), D = run.parent.config().dim();
        int[][] held = run.heldout();
        dev.puzzle.core.infer.Decoder parent = new dev.puzzle.core.infer.Decoder(run.parent);
        for (String name : List.of("attention = window 16, 2 kv heads && ffn = dense 172 (parent * 100%)",
                "attention = gqa 4 kv heads (parent * 100%) && ffn = linear", "attention = gqa 2 kv heads (parent * 50%) && ffn = dense 86 (parent * 50%)")) {
            dev.puzzle.core.model.BlockConfig b = dev.puzzle.core.model.BlockNames.parse(name).orElseThrow();
            var t = dev.puzzle.bld.Bld.blockTensors(run.parent, run.dir.root(), l, b, false, true);
            dev.puzzle.core.infer.Decoder child = new dev.puzzle.core.infer.Decoder(dev.puzzle.bld.Scorer.replaced(run.parent, l, List.of(b), t));
            double kl = 0, agree = 0, cos = 0;
            int n = 0;
            for (int[] seq : held) {
                int T = seq.length;
                float[] hp = parent.hidden(parent.newState(T), seq, 0, T), hc = child.hidden(child.newState(T), seq, 0, T);
                float[] lp = parent.logits(hp, T, true), lc = child.logits(hc, T, true);
                for (int i = 0; i < T; i++, n++) {
                    double[] p = softmax(lp, i * V, V), q = softmax(lc, i * V, V);
                    int ap = 0, aq = 0;
                    for (int v = 0; v < V; v++) {
                        if (p[v] > 0) kl += p[v] * (Math.log(p[v]) - Math.log(q[v]));
                        if (lp[i * V + v] > lp[i * V + ap]) ap = v;
                        if (lc[i * V + v] > lc[i * V + aq]) aq = v;
                    }
                    if (ap == aq) agree++;
                    double dot = 0, a = 0, c = 0;
                    for (int d = 0; d < D; d++) {
                        dot += (double) hp[i * D + d] * hc[i * D + d];
                        a += (double) hp[i * D + d] * hp[i * D + d];
                        c += (double) hc[i * D + d] * hc[i * D + d];
                    }
                    cos += dot / Math.sqrt(a * c);
                }
            }
            JsonNode m = lib.get("layer_" + l).get(name).get("metrics");
            assertEquals(kl / n, m.get("kl_div").asDouble(), 1e-4 * kl / n + 1e-7, name + ": KL");
            assertTrue(kl / n > 1e-4, name + ": a different block changes the outputs");
            assertEquals(agree / n, m.get("top1_agreement").asDouble(), 1e-9, name + ": top-1");
            assertEquals(cos / n, m.get("hidden_cosine").asDouble(), 1e-5, name + ": cosine");
        }
    }

    static double[] softmax(float[] z, int off, int V) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int v = 0; v < V; v++) max = Math.max(max, z[off + v]);
        double[] p = new double[V];
        for (int v = 0; v < V; v++) sum += p[v] = Math.exp(z[off + v] - max);
        for (int v = 0; v < V; v++) p[v] /= sum;
        return p;
    }

    static ProcessBuilder puzzleProcess(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), "dev.puzzle.cli.PuzzleCli"));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    }

    @Test
    void killedMidwayAndRestartedFinishesWithoutRedoingJobs() throws Exception {
        Path dir = tmp.resolve("killed");
        Path cfg = config(dir);
        assertEquals(0, run("library", cfg.toString()).code());
        Process p = puzzleProcess("distill", cfg.toString(), "--threads", "1").start();
        long deadline = System.currentTimeMillis() + 120_000;
        while (curves(dir.resolve("run")).size() < 6 && p.isAlive() && System.currentTimeMillis() < deadline) Thread.sleep(50);
        assertTrue(p.isAlive(), "the distill process must still be running when it is killed");
        p.destroyForcibly(); // SIGKILL: no shutdown hooks, no cleanup
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        Map<String, JsonNode> before = curves(dir.resolve("run"));
        assertTrue(before.size() >= 6 && before.size() < 25, "killed mid-way: " + before.size() + " of 25 jobs done");
        Map<String, FileTime> stamps = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir.resolve("run/distill"))) {
            for (Path f : s.filter(Files::isRegularFile).toList()) stamps.put(f.toString(), Files.getLastModifiedTime(f));
        }
        CliTest.Run r = run("distill", cfg.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("trained " + (25 - before.size()) + " jobs"), r.out() + " after " + before.size() + " were done");
        for (var e : stamps.entrySet()) {
            if (e.getKey().endsWith(".tmp") || e.getKey().endsWith(".started")) continue; // in flight when killed: redone
            assertEquals(e.getValue(), Files.getLastModifiedTime(Path.of(e.getKey())), "finished job file rewritten: " + e.getKey());
        }
        try (Stream<Path> s = Files.walk(dir.resolve("run"))) {
            assertEquals(List.of(), s.filter(f -> f.getFileName().toString().endsWith(".tmp")).map(Path::toString).toList(), "no half-written files left");
        }
        sameLibrary(reference, dir);
    }

    @Test
    void twoShardProcessesMakeTheSameLibraryAsOne() throws Exception {
        Path dir = tmp.resolve("sharded");
        Path cfg = config(dir);
        assertEquals(0, run("library", cfg.toString()).code());
        Process a = puzzleProcess("distill", cfg.toString(), "--shard", "0/2", "--threads", "1").start();
        Process b = puzzleProcess("distill", cfg.toString(), "--shard", "1/2", "--threads", "1").start();
        assertTrue(a.waitFor(300, TimeUnit.SECONDS) && b.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, a.exitValue());
        assertEquals(0, b.exitValue());
        assertEquals(25, curves(dir.resolve("run")).size());
        sameLibrary(reference, dir);
        // A rerun of either shard has nothing left to do.
        CliTest.Run r = run("distill", cfg.toString(), "--shard", "1/2");
        assertTrue(r.out().contains("trained 0 jobs"), r.out());
    }

    @Test
    void coupledModeTrainsWholeBlocksFromABf16Cache() throws IOException {
        Path dir = tmp.resolve("coupled");
        Path cfg = config(dir);
        Files.writeString(cfg, Files.readString(cfg)
                .replace("attention: {kv_heads: [2], window: [16], linear: true, no_op: true}", "attention: {kv_heads: [2]}")
                .replace("ffn: {widths: [0.5], linear: true, no_op: true}", "ffn: {widths: [0.5]}")
                .replace("mode: decoupled", "mode: coupled").replace("seed: 3}", "seed: 3, cache_dtype: bf16}"));
        for (String stage : new String[]{"library", "distill", "score"}) assertEquals(0, run(stage, cfg.toString()).code(), stage);
        try (Safetensors st = Safetensors.open(dir.resolve("run/cache/layer_0.safetensors"))) {
            assertEquals(dev.puzzle.core.tensor.DType.BF16, st.entries().get("input").dtype());
        }
        Map<String, JsonNode> c = curves(dir.resolve("run"));
        assertEquals(5 * 3, c.size(), "5 layers × 3 whole blocks that differ from the parent (2 attention × 2 FFN − 1)");
        for (var e : c.entrySet()) {
            assertTrue(e.getKey().contains("/block-attn-") && e.getKey().contains("__ffn-"), e.getKey());
            assertTrue(e.getValue().get("loss_after").asDouble() < e.getValue().get("loss_before").asDouble(), e.getKey());
        }
        JsonNode lib = new ObjectMapper().readTree(dir.resolve("run/score/block_library.json").toFile());
        for (Iterator<Map.Entry<String, JsonNode>> layers = lib.fields(); layers.hasNext(); ) {
            for (Iterator<Map.Entry<String, JsonNode>> vs = layers.next().getValue().fields(); vs.hasNext(); ) {
                var v = vs.next();
                JsonNode m = v.getValue().get("metrics");
                if (v.getKey().contains("gqa 4") && v.getKey().contains("dense 172")) continue;
                assertTrue(m.get("kl_div").asDouble() < m.get("kl_div_init").asDouble(), v.getKey());
            }
        }
    }

    @Test
    void badConfigsAreRejectedUpFront() throws IOException {
        Path dir = tmp.resolve("bad");
        Path cfg = config(dir);
        String text = Files.readString(cfg);
        Files.writeString(cfg, text.replace("seq_len: 64", "seq_len: 64\n  seqlen: 3"));
        badInput(run("library", cfg.toString()), "data.seqlen", "unknown key");
        Files.writeString(cfg, text.replace("widths: [0.5]", "widths: [0.5, 500]"));
        badInput(run("library", cfg.toString()), "search_space.ffn.widths", "500", "larger than the parent");
        Files.writeString(cfg, text.replace("kv_heads: [2]", "kv_heads: [3]"));
        badInput(run("library", cfg.toString()), "search_space.attention.kv_heads", "3");
        Files.writeString(cfg, text.replace("tinystories_val.txt", "missing_text.txt"));
        badInput(run("library", cfg.toString()), "data.text", "missing_text.txt", "no such file");
        Files.writeString(cfg, text.replace("mode: decoupled", "mode: sideways"));
        badInput(run("library", cfg.toString()), "distill.mode", "sideways");
        Files.writeString(cfg, text.replace("offset: 300000", "offset: 100"));
        badInput(run("library", cfg.toString()), "data.heldout.offset", "overlap");
        Files.writeString(cfg, text);
        badInput(run("distill", cfg.toString()), "run 'puzzle library");
        badInput(run("distill", cfg.toString(), "--shard", "2/2"), "--shard", "2/2");
        assertFalse(Files.exists(dir.resolve("run/library")), "nothing written for a rejected config");
    }
}
