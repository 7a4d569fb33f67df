package dev.puzzle.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.cli.PuzzleCli;
import picocli.CommandLine;
import dev.puzzle.blocklibrary.CandidateInit;
import dev.puzzle.core.eval.Sampler;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static dev.puzzle.core.io.TensorNames.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * GGUF children checked by real llama.cpp: node-llama-cpp 3.21.1 from npm (prebuilt CPU binaries) loads
 * what {@code puzzle convert --to gguf} writes and generates greedily; its tokens must equal this
 * toolkit's, and its first next-token probabilities must agree with ours to 1e-3. Skipped, saying why,
 * where node/npm are absent or npm cannot be reached.
 */
class LlamaCppTest {
    static final String VERSION = "3.21.1";
    static Path runner;

    /** Installs node-llama-cpp once (cached under ~/.cache/puzzle), or skips saying why. */
    @BeforeAll
    static synchronized void install() throws Exception {
        if (runner != null) return;
        Path dir = Path.of(System.getProperty("user.home"), ".cache", "puzzle", "node-llama-cpp-" + VERSION);
        Path script = dir.resolve("generate.mjs");
        if (!Files.exists(dir.resolve("node_modules/node-llama-cpp/package.json"))) {
            Assumptions.assumeTrue(which("node") && which("npm"), "skipped: node and npm are not installed (Debian: apt-get install nodejs npm)");
            Files.createDirectories(dir);
            Process p = new ProcessBuilder("npm", "i", "-E", "node-llama-cpp@" + VERSION, "--no-audit", "--no-fund", "--prefix", dir.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("npm.log").toFile()).start();
            boolean ok = p.waitFor(600, TimeUnit.SECONDS) && p.exitValue() == 0;
            Assumptions.assumeTrue(ok, "skipped: npm could not install node-llama-cpp@" + VERSION + " (no network?); see " + dir.resolve("npm.log"));
        }
        try (InputStream in = LlamaCppTest.class.getResourceAsStream("/llamacpp/generate.mjs")) {
            Files.write(script, in.readAllBytes());
        }
        runner = script;
    }

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cl = PuzzleCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    static Path shared(String rel) {
        Path p = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize().resolve(rel);
        Assumptions.assumeTrue(Files.exists(p), "skipped: reference file " + p + " is absent (../shared not laid out beside the repository)");
        return p;
    }

    static String bin() {
        return shared("models/stories260K/stories260K.bin").toString();
    }

    static String tok() {
        return shared("models/stories260K/tok512.bin").toString();
    }

    static boolean which(String cmd) {
        try {
            return new ProcessBuilder("sh", "-c", "command -v " + cmd).start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** llama.cpp's greedy run of a GGUF. */
    static JsonNode llamaCpp(Path gguf, String prompt, int steps) throws Exception {
        Process p = new ProcessBuilder("node", runner.toString(), gguf.toString(), prompt, String.valueOf(steps))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return new ObjectMapper().readTree(out.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow());
    }

    /** This toolkit's greedy run (as `puzzle generate --temperature 0`), its token ids and every step's probabilities. */
    record Ours(int[] prompt, List<Integer> tokens, List<float[]> probs) {}

    static Ours ours(Checkpoint ck, Tokenizer tok, String prompt, int steps) {
        Decoder d = new Decoder(ck, Backend.cpu());
        int[] p = tok.encode(prompt, true, false);
        Decoder.State st = d.newState(steps);
        Sampler greedy = new Sampler(d.backend(), 0f, 0f, 1);
        int V = ck.config().vocabSize(), pos = 0, token = p[0];
        List<Integer> out = new ArrayList<>();
        List<float[]> probs = new ArrayList<>();
        while (pos < steps) {
            float[] logits = d.forward(st, new int[]{token}, 0, 1, false);
            pos++;
            if (pos < p.length) {
                token = p[pos];
                continue;
            }
            probs.add(softmax(logits, V));
            int next = greedy.sample(logits, 0, V);
            if (next == tok.bosId() || next == tok.eosId()) break;
            out.add(next);
            token = next;
        }
        return new Ours(p, out, probs);
    }

    static float[] softmax(float[] l, int V) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < V; i++) max = Math.max(max, l[i]);
        float[] p = new float[V];
        for (int i = 0; i < V; i++) sum += p[i] = (float) Math.exp(l[i] - max);
        for (int i = 0; i < V; i++) p[i] /= (float) sum;
        return p;
    }

    /** A list of token ids from llama.cpp's JSON line. */
    static List<Integer> ids(JsonNode ll, String key) {
        List<Integer> out = new ArrayList<>();
        ll.get(key).forEach(t -> out.add(t.asInt()));
        return out;
    }

    static void sameAsLlamaCpp(Checkpoint ck, Path gguf, String prompt, int steps) throws Exception {
        JsonNode ll = llamaCpp(gguf, prompt, steps);
        Ours o = ours(ck, ck.tokenizer(), prompt, steps);
        assertEquals(java.util.Arrays.stream(o.prompt()).boxed().toList(), ids(ll, "prompt_tokens"), "llama.cpp encodes the prompt to the same ids");
        List<Integer> gen = ids(ll, "tokens");
        int n = Math.min(o.tokens().size(), gen.size()); // the two loops count the last position differently: at most one token apart
        assertTrue(Math.abs(o.tokens().size() - gen.size()) <= 1, o.tokens().size() + " vs " + gen.size() + " tokens");
        assertEquals(o.tokens().subList(0, n), gen.subList(0, n), "greedy tokens of llama.cpp and of this toolkit");
        assertTrue(gen.size() >= 10, "generated something: " + gen);
        for (int s = 0; s < Math.min(3, o.probs().size()); s++) {
            for (JsonNode e : ll.get("top_probs").get(s)) {
                int tokenId = e.get(0).asInt();
                assertEquals(e.get(1).asDouble(), o.probs().get(s)[tokenId], 1e-3, "step " + s + " p(token " + tokenId + ")");
            }
        }
    }

    @Test
    void theParentInGgufGeneratesInLlamaCppWhatItGeneratesHere(@TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("stories260K.gguf");
        Run r = run("convert", bin(), "--tokenizer", tok(), "--to", "gguf", gguf.toString());
        assertEquals(0, r.code(), r.err());
        Checkpoint ck = Checkpoints.load(Path.of(bin())).withTokenizer(BpeTokenizer.readLlama2c(Path.of(tok()), 512));
        sameAsLlamaCpp(ck, gguf, "Once upon a time", 80);
        // The GGUF reads back here too, to the same tokens.
        sameAsLlamaCpp(Checkpoints.load(gguf), gguf, "The little dog", 60);
        // In 16-bit weights (--dtype): llama.cpp and this toolkit read the same rounded weights.
        for (String dt : new String[]{"f16", "bf16"}) {
            Path g16 = tmp.resolve("stories260K-" + dt + ".gguf");
            Run r16 = run("convert", bin(), "--tokenizer", tok(), "--to", "gguf", g16.toString(), "--dtype", dt);
            assertEquals(0, r16.code(), r16.err());
            sameAsLlamaCpp(Checkpoints.load(g16), g16, "Once upon a time", 60);
        }
    }

    /**
     * The F16 GGUF with an untied classifier and Llama-2's 32000-token vocabulary, as llama.cpp itself reads it: the
     * same prompt ids, the same greedy tokens, and the first steps' probabilities within 0.1% of each other (random
     * weights: near-uniform probabilities, so the tolerance is relative).
     */
    @Test
    void anUntiedF16GgufGivesLlamaCppsProbabilities() throws Exception {
        Path gguf = shared("models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
        Checkpoint ck = Checkpoints.load(gguf);
        JsonNode ll = llamaCpp(gguf, "Hello world", 12);
        Ours o = ours(ck, ck.tokenizer(), "Hello world", 12);
        List<Integer> gen = ids(ll, "tokens");
        assertEquals(java.util.Arrays.stream(o.prompt()).boxed().toList(), ids(ll, "prompt_tokens"));
        int n = Math.min(o.tokens().size(), gen.size());
        assertTrue(n >= 1, "generated: " + gen + " / " + o.tokens());
        assertEquals(o.tokens().subList(0, n), gen.subList(0, n), "greedy tokens of llama.cpp and of this toolkit");
        int compared = 0;
        for (int s = 0; s < Math.min(3, o.probs().size()); s++) {
            for (JsonNode e : ll.get("top_probs").get(s)) {
                double theirs = e.get(1).asDouble(), mine = o.probs().get(s)[e.get(0).asInt()];
                assertEquals(theirs, mine, 1e-3 * theirs, "step " + s + " p(token " + e.get(0).asInt() + ")");
                compared++;
            }
        }
        assertTrue(compared >= 5, "compared " + compared + " probabilities");
    }

    /**
     * A heterogeneous child of stories260K written as deci: a narrower FFN, pooled KV heads, no attention,
     * no FFN with attention kept (the zero-FFN stand-in for llama.cpp's skip), and a linear attention map.
     */
    /** Layer l's FFN cut to its first {@code keep} of F channels (gate and up rows, down columns), in t. */
    static void firstChannels(Map<String, Tensor> t, int l, int D, int F, int keep) {
        float[] g = t.get(layer(l, GATE)).data(), u = t.get(layer(l, UP)).data(), dn = t.get(layer(l, DOWN)).data();
        float[] d2 = new float[D * keep];
        for (int i = 0; i < D; i++) System.arraycopy(dn, i * F, d2, i * keep, keep);
        t.put(layer(l, GATE), new Tensor(java.util.Arrays.copyOf(g, keep * D), keep, D));
        t.put(layer(l, UP), new Tensor(java.util.Arrays.copyOf(u, keep * D), keep, D));
        t.put(layer(l, DOWN), new Tensor(d2, D, keep));
    }

    @Test
    void aHeterogeneousChildAsDeciRunsExactlyInLlamaCpp(@TempDir Path tmp) throws Exception {
        Checkpoint parent = Checkpoints.load(Path.of(bin())).withTokenizer(BpeTokenizer.readLlama2c(Path.of(tok()), 512));
        ModelConfig c = parent.config();
        Map<String, Tensor> t = new LinkedHashMap<>();
        parent.tensors().forEach((k, v) -> t.put(k, v.copy()));
        int D = c.dim(), F = c.intermediateSize(), keep = 86;
        firstChannels(t, 0, D, F, keep); // layer 0: the first 86 channels of the FFN
        // layer 1: 2 KV heads pooled from 4
        t.putAll(CandidateInit.attention(Backend.cpu(), c, parent.tensors(), 1, new AttentionConfig.Gqa(2), null, null, 0));
        // layer 2: no attention
        for (String s : new String[]{ATTN_NORM, Q, K, V, O}) t.remove(layer(2, s));
        // layer 3: no FFN, attention kept
        for (String s : new String[]{FFN_NORM, GATE, UP, DOWN}) t.remove(layer(3, s));
        // layer 4: attention replaced by a linear map of the normed input
        for (String s : new String[]{Q, K, V, O}) t.remove(layer(4, s));
        float[] map = new float[D * D];
        Random r = new Random(7);
        for (int i = 0; i < map.length; i++) map[i] = (float) (0.05 * r.nextGaussian());
        t.put(layer(4, ATTN_LINEAR), new Tensor(map, D, D));
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Gqa(4), new FfnConfig.Dense(keep)),
                new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(F)),
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(F)),
                new BlockConfig(new AttentionConfig.Gqa(4), new FfnConfig.NoOp()),
                new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.Dense(F)));
        Path hf = tmp.resolve("child"), gguf = tmp.resolve("child.gguf");
        assertTrue(asDeciGguf(new Checkpoint(c.withBlocks(blocks), t, parent.storedTypes(), parent.tokenizer(), "child"), hf, gguf).contains("GGUF deci"));
        sameAsLlamaCpp(Checkpoints.load(hf), gguf, "Once upon a time", 60);
    }

    /** A child written as a HF directory, then converted by {@code puzzle convert --to gguf}; convert's output. */
    static String asDeciGguf(Checkpoint child, Path hf, Path gguf) throws IOException {
        Checkpoints.writeHfDir(child, hf, null);
        Run cr = run("convert", hf.toString(), "--to", "gguf", gguf.toString());
        assertEquals(0, cr.code(), cr.err());
        return cr.out();
    }

    /**
     * Two layers llama.cpp's deci graph cannot take as they are: a layer 0 without attention (llama.cpp takes the head
     * size from layer 0's head count, so every attention tensor would have size 0 — it aborted loading) and a last layer
     * with neither part (it skips the selection of the output rows — llama.cpp aborted decoding). The writer puts a
     * zero linear attention in the first and a zero FFN of width 1 in the second: llama.cpp generates what this toolkit
     * generates, and the GGUF reads back to the same blocks.
     */
    @Test
    void aChildWithoutAttentionInLayer0AndAnEmptyLastLayerRunsInLlamaCpp(@TempDir Path tmp) throws Exception {
        Checkpoint parent = Checkpoints.load(Path.of(bin())).withTokenizer(BpeTokenizer.readLlama2c(Path.of(tok()), 512));
        ModelConfig c = parent.config();
        Map<String, Tensor> t = new LinkedHashMap<>(parent.tensors());
        for (String s : new String[]{ATTN_NORM, Q, K, V, O}) t.remove(layer(0, s));
        for (String s : new String[]{ATTN_NORM, Q, K, V, O, FFN_NORM, GATE, UP, DOWN}) t.remove(layer(4, s));
        List<BlockConfig> blocks = new ArrayList<>(c.blocks());
        blocks.set(0, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(c.intermediateSize())));
        blocks.set(4, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp()));
        Path hf = tmp.resolve("child"), gguf = tmp.resolve("child.gguf");
        asDeciGguf(new Checkpoint(c.withBlocks(blocks), t, parent.storedTypes(), parent.tokenizer(), "child"), hf, gguf);
        sameAsLlamaCpp(Checkpoints.load(hf), gguf, "Once upon a time", 60);
        assertEquals(blocks, Checkpoints.load(gguf).config().blocks(), "the stand-ins read back as the no-op parts they stand for");
    }

    /** A model without any KV cache (every attention no-op or linear): llama.cpp makes no context for it, so no GGUF is written. */
    @Test
    void aModelWithoutAnyKvCacheIsRefusedForLlamaCpp(@TempDir Path tmp) throws Exception {
        Checkpoint parent = Checkpoints.load(Path.of(bin())).withTokenizer(BpeTokenizer.readLlama2c(Path.of(tok()), 512));
        ModelConfig c = parent.config().withBlocks(java.util.Collections.nCopies(5, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(172))));
        Checkpoint ck = dev.puzzle.core.io.RandomWeights.of(c, 1).withTokenizer(parent.tokenizer());
        Path gguf = tmp.resolve("nokv.gguf");
        var e = assertThrows(dev.puzzle.core.io.GgufWriter.Unsupported.class, () -> dev.puzzle.core.io.GgufWriter.write(ck, gguf, null));
        assertTrue(e.getMessage().contains("KV cache"), e.getMessage());
        assertFalse(Files.exists(gguf));
    }

    /**
     * {@code hardware: llamacpp-cpu}: block costs timed in llama.cpp itself (one thread), the parts made to add up to
     * whole models measured there, and {@code profile --validate} measuring random children there too. The timing is
     * real: the parent's block (4 KV heads, full FFN) costs more than a block without attention and with half the FFN,
     * and the predictions are near what llama.cpp measures (the benchmark bench/llamacpp-cost.sh holds the 15% check on
     * ten children; here three, within 50%). A candidate llama.cpp cannot run, and a missing llama.cpp, are refused
     * before any timing, naming the field.
     */
    @Test
    void theLlamaCppCpuProfileTimesBlocksInLlamaCppAndValidatesOnChildrenItNeverSaw(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(runner != null, "skipped: node-llama-cpp is not installed");
        String shared = shared("models").toString();
        String cfg = "parent: " + bin() + "\ntokenizer: " + tok() + "\nrun_dir: " + tmp.resolve("run") + "\nhardware: llamacpp-cpu\ncost_model: measured\n"
                + "workload: {batch: 1, prefill_length: 32, generation_length: 32, weight_dtype: bf16, kv_dtype: bf16}\n"
                + "search_space:\n  attention: {kv_heads: [4, 1], no_op: true}\n  ffn: {widths: [1.0, 0.5], no_op: true}\n"
                + "data: {text: " + shared + "/tinystories-val-text/tinystories_val.txt, seq_len: 64, calibration: {offset: 0, sequences: 4},"
                + " heldout: {offset: 400000, sequences: 2}}\n"
                + "distill: {mode: decoupled, tokens: 1024, batch_sequences: 2, lr: 2.0e-3, seed: 5}\n"
                + "compress:\n  throughputs: [1.5x]\n  baselines: false\n  measure: {prompt: 16, generate: 16, reps: 3}\n";
        Path noDir = tmp.resolve("nodir.yaml");
        Files.writeString(noDir, cfg);
        Run r = run("profile", noDir.toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("compress.llama_cpp.dir") && r.err().strip().lines().count() == 1, r.err());
        Path window = tmp.resolve("window.yaml");
        Files.writeString(window, cfg.replace("no_op: true}\n  ffn", "no_op: true, window: [16]}\n  ffn") + "  llama_cpp: {dir: " + runner.getParent() + "}\n");
        r = run("profile", window.toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("search_space") && r.err().contains("window") && r.err().contains("llama.cpp"), r.err());
        assertFalse(Files.exists(tmp.resolve("run/profile/block_costs.json")));

        Path ok = tmp.resolve("ok.yaml");
        Files.writeString(ok, cfg + "  llama_cpp: {dir: " + runner.getParent() + "}\n");
        r = run("profile", ok.toString(), "--validate", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("llamacpp-cpu (llama.cpp, 1 thread)"), r.out());
        ObjectMapper om = new ObjectMapper();
        JsonNode mc = om.readTree(tmp.resolve("run/profile/model_costs.json").toFile());
        assertTrue(mc.get("measured_on").asText().startsWith("llama.cpp"), mc.toString());
        JsonNode costs = om.readTree(tmp.resolve("run/profile/block_costs.json").toFile()).get("layer_0");
        double parentBlock = -1, cheap = -1;
        for (var it = costs.fields(); it.hasNext(); ) {
            var e = it.next();
            double ms = e.getValue().get("stats").get("runtime_ms").asDouble();
            if (e.getKey().contains("gqa 4 kv heads") && e.getKey().contains("dense 172")) parentBlock = ms;
            if (e.getKey().startsWith("attention = no_op") && e.getKey().contains("dense 86")) cheap = ms;
        }
        assertTrue(parentBlock > cheap && cheap >= 0, "parent block " + parentBlock + " ms, no-op attention + half FFN " + cheap + " ms: " + costs);
        JsonNode v = om.readTree(tmp.resolve("run/profile/validation.json").toFile());
        assertEquals(3, v.get("children").size(), v.toString());
        for (JsonNode ch : v.get("children")) assertTrue(ch.get("measured_tokens_per_s").asDouble() > 0 && ch.get("predicted_tokens_per_s").asDouble() > 0, ch.toString());
        assertTrue(v.get("mape").asDouble() < 0.5, "predicted vs llama.cpp-measured: " + v);

        // compress on the same profile: every model's speed measured in llama.cpp, on its GGUF, and the child's target checked there
        r = run("compress", ok.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("in real llama.cpp (one thread; each model's GGUF)") && r.out().contains("as measured"), r.out());
        assertTrue(Files.exists(tmp.resolve("run/compress/parent/model.gguf")), "the parent's GGUF, timed beside the children's");
        JsonNode speeds = om.readTree(tmp.resolve("run/compress/timings.json").toFile()).get("speeds");
        assertEquals(2, speeds.size(), speeds.toString());
        for (JsonNode sp : speeds) assertTrue(sp.get("workload").asDouble() > 0 && sp.get("decode").asDouble() > 0, sp.toString());
    }

    /**
     * For quantized weights: llama.cpp and this toolkit compute the same products (both round the activations
     * to Q8_0 before a product with Q8_0, Q4_0 or MXFP4 weights), but llama.cpp keeps its KV cache in F16 and
     * sums in another order, so the probabilities drift apart by up to a few 1e-2 over a long generation. The
     * greedy tokens must be equal at every step, except at a near-tie (llama.cpp's two most probable tokens
     * within {@code NEAR_TIE} of each other, where that drift may flip the choice; the contexts differ after a
     * flip, so the comparison ends there), at least {@code minTokens} of them, every compared probability
     * within {@code tolerance}.
     * Returns how many tokens were compared.
     */
    static int agreesWithLlamaCppUntilANearTie(Checkpoint ck, Path gguf, String prompt, int steps, int minTokens, double tolerance) throws Exception {
        JsonNode ll = llamaCpp(gguf, prompt, steps);
        Ours o = ours(ck, ck.tokenizer(), prompt, steps);
        List<Integer> gen = ids(ll, "tokens");
        assertEquals(java.util.Arrays.stream(o.prompt()).boxed().toList(), ids(ll, "prompt_tokens"), "llama.cpp encodes the prompt to the same ids");
        int n = Math.min(Math.min(o.tokens().size(), gen.size()), ll.get("top_probs").size()), compared = 0;
        for (int s = 0; s < n; s++) {
            JsonNode top = ll.get("top_probs").get(s);
            for (JsonNode e : top) {
                int id = e.get(0).asInt();
                assertEquals(e.get(1).asDouble(), o.probs().get(s)[id], tolerance, gguf.getFileName() + " step " + s + " p(token " + id + ")");
            }
            if (!gen.get(s).equals(o.tokens().get(s))) { // only a near-tie may flip; the contexts differ after it
                double gap = top.get(0).get(1).asDouble() - top.get(1).get(1).asDouble();
                assertTrue(gap < NEAR_TIE, gguf.getFileName() + " step " + s + ": llama.cpp chose " + gen.get(s) + ", this toolkit "
                        + o.tokens().get(s) + ", though llama.cpp's top two are " + gap + " apart");
                break;
            }
            compared++;
        }
        assertTrue(compared >= minTokens, gguf.getFileName() + ": only " + compared + " tokens before a near-tie flipped: " + gen);
        return compared;
    }

    static final double NEAR_TIE = 0.05;

    /**
     * The parent quantized whole (convert --dtype) in each of llama.cpp's formats this toolkit writes: llama.cpp
     * generates from the GGUF what this toolkit generates from the same GGUF, read back in its stored type.
     */
    @Test
    void quantizedGgufsGenerateInLlamaCppWhatTheyGenerateHere(@TempDir Path tmp) throws Exception {
        for (String dt : new String[]{"q8_0", "q4_0", "mxfp4"}) {
            Path gguf = tmp.resolve("stories260K-" + dt + ".gguf");
            Run r = run("convert", bin(), "--tokenizer", tok(), "--to", "gguf", gguf.toString(), "--dtype", dt);
            assertEquals(0, r.code(), r.err());
            Checkpoint ck = Checkpoints.load(gguf);
            assertEquals(dev.puzzle.core.tensor.DType.fromName(dt), ck.tensors().get(layer(0, Q)).dtype(), dt + ": read back in its stored type");
            agreesWithLlamaCppUntilANearTie(ck, gguf, "Once upon a time", 60, 20, 3e-2);
        }
        // The embeddings (the tied classifier) in Q8_0 too, as llama.cpp's quantize stores them: llama.cpp reads its rows and multiplies by it.
        Path gguf = tmp.resolve("stories260K-q4_0-embq8_0.gguf");
        Run r = run("convert", bin(), "--tokenizer", tok(), "--to", "gguf", gguf.toString(), "--dtype", "q4_0", "--embedding-dtype", "q8_0");
        assertEquals(0, r.code(), r.err());
        Checkpoint ck = Checkpoints.load(gguf);
        assertEquals(dev.puzzle.core.tensor.DType.Q8_0, ck.tensors().get(dev.puzzle.core.io.TensorNames.EMBED).dtype());
        // 5e-2: most steps agree within 1.5e-2; the classifier's Q8_0-rounded input adds code flips (measured 0.045 once).
        agreesWithLlamaCppUntilANearTie(ck, gguf, "Once upon a time", 60, 20, 5e-2);
    }

    /**
     * A child whose layers mix precisions (Q8_0, Q4_0, MXFP4, F32 — attention and FFN apart) and architectures
     * (a narrower FFN), written as deci: llama.cpp runs it to the tokens this toolkit's quantized forward gives
     * from the Hugging Face directory it came from (the toolkit's own reference for its child).
     */
    @Test
    void aMixedPrecisionChildRunsInLlamaCppAsItRunsHere(@TempDir Path tmp) throws Exception {
        Checkpoint parent = Checkpoints.load(Path.of(bin())).withTokenizer(BpeTokenizer.readLlama2c(Path.of(tok()), 512));
        ModelConfig c = parent.config();
        Map<String, Tensor> t = new LinkedHashMap<>();
        Map<String, dev.puzzle.core.tensor.DType> types = new LinkedHashMap<>(parent.storedTypes());
        parent.tensors().forEach((k, v) -> t.put(k, v.copy()));
        int keep = 64;
        firstChannels(t, 1, c.dim(), c.intermediateSize(), keep);
        var Q8 = dev.puzzle.core.tensor.DType.Q8_0;
        var Q4 = dev.puzzle.core.tensor.DType.Q4_0;
        var MX = dev.puzzle.core.tensor.DType.MXFP4;
        dev.puzzle.core.tensor.DType[][] plan = {{Q8, Q4}, {MX, Q8}, {Q4, MX}, {null, Q8}, {MX, null}}; // {attention, FFN} per layer
        for (int l = 0; l < c.numLayers(); l++) {
            for (int part = 0; part < 2; part++) {
                var dt = plan[l][part];
                if (dt == null) continue;
                for (String s : part == 0 ? new String[]{Q, K, V, O} : new String[]{GATE, UP, DOWN}) {
                    Tensor w = t.get(layer(l, s));
                    if (!dt.fits(w.cols())) continue; // stories260K's down projection has rows of 172: not whole blocks, kept in F32
                    t.put(layer(l, s), w.quantized(dt));
                    types.put(layer(l, s), dt);
                }
            }
        }
        List<BlockConfig> blocks = new ArrayList<>(c.blocks());
        blocks.set(1, new BlockConfig(new AttentionConfig.Gqa(c.numKvHeads()), new FfnConfig.Dense(keep)));
        Checkpoint child = new Checkpoint(c.withBlocks(blocks), t, types, parent.tokenizer(), "child");
        Path hf = tmp.resolve("child");
        Checkpoints.writeHfDir(child, hf, null);
        Checkpoint back = Checkpoints.load(hf);
        assertEquals(MX, back.tensors().get(layer(1, Q)).dtype(), "the HF directory keeps each matrix's type");
        assertEquals(Q8, back.tensors().get(layer(1, DOWN)).dtype());
        Path gguf = tmp.resolve("child.gguf");
        Run cr = run("convert", hf.toString(), "--to", "gguf", gguf.toString());
        assertEquals(0, cr.code(), cr.err());
        Checkpoint fromGguf = Checkpoints.load(gguf);
        assertEquals(Q4, fromGguf.tensors().get(layer(2, Q)).dtype(), "the GGUF keeps each matrix's type");
        agreesWithLlamaCppUntilANearTie(back, gguf, "Once upon a time", 60, 10, 3e-2);
    }

    /**
     * Weight precision searched per part (the bundled examples/stories260K/precision.yaml: {@code precision: [bf16, q8_0,
     * q4_0]}, batch 1 under 0.45 MiB, where the MIP mixes Q8_0 and Q4_0): llama.cpp runs the child compress wrote, and the uniform Q4_0
     * baseline, to the tokens this toolkit's quantized forward gives; the report carries llama.cpp's own decode speed
     * of each beside this toolkit's, one thread each ({@code compress.llama_cpp}).
     */
    @Test
    void aChildWhosePrecisionTheMipChoseRunsInLlamaCppAndTheReportSaysHowFast(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(runner != null, "skipped: node-llama-cpp is not installed");
        Path cfg = ExampleRun.config(tmp, "precision.yaml"); // the bundled example, with llama.cpp's speed asked for
        Files.writeString(cfg, Files.readString(cfg) + "  llama_cpp: {dir: " + runner.getParent() + ", steps: 64}\n");
        Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode report = new ObjectMapper().readTree(tmp.resolve("run/report/report.json").toFile());
        int measured = 0;
        for (JsonNode m : report.get("models")) {
            String kind = m.get("kind").asText();
            if (!kind.equals("puzzle") && !kind.equals("uniform-format")) continue;
            JsonNode l = m.get("llama_cpp");
            assertTrue(l.get("llama_cpp_tokens_per_s").asDouble() > 0 && l.get("puzzle_tokens_per_s").asDouble() > 0, m.toString());
            assertEquals(VERSION, l.get("version").asText());
            Checkpoint ck = Checkpoints.load(Path.of(m.get("model").asText()));
            if (kind.equals("puzzle")) {
                assertTrue(ck.config().blocks().stream().anyMatch(b -> b.attention().quantizedWeights() != null || b.ffn().quantizedWeights() != null),
                        "the child has quantized parts: " + ck.config().blocks());
            }
            // 5e-2: llama.cpp's F16 KV cache and its sums' order move most probabilities by under 1e-2 here, but where an
            // input of a Q4_0 product lies on a Q8_0 rounding boundary one code flips (measured: 0.037 once in 60 steps).
            agreesWithLlamaCppUntilANearTie(ck, Path.of(m.get("gguf").asText()), "Once upon a time", 60, 10, 5e-2);
            measured++;
        }
        assertTrue(measured >= 2, "the Puzzle child and the uniform Q4_0 baseline: " + report.get("models"));
    }

    @Test
    void variantsLlamaCppCannotRunAreRefusedWithNoFileLeft(@TempDir Path tmp) throws Exception {
        Checkpoint parent = Checkpoints.load(Path.of(bin())).withTokenizer(BpeTokenizer.readLlama2c(Path.of(tok()), 512));
        ModelConfig c = parent.config();
        List<BlockConfig> blocks = new ArrayList<>(c.blocks());
        blocks.set(2, new BlockConfig(new AttentionConfig.Window(4, 32), new FfnConfig.Dense(c.intermediateSize())));
        Path hf = tmp.resolve("window");
        Checkpoints.writeHfDir(new Checkpoint(c.withBlocks(blocks), parent.tensors(), parent.storedTypes(), parent.tokenizer(), "w"), hf, null);
        Path gguf = tmp.resolve("window.gguf");
        Run bad = run("convert", hf.toString(), "--to", "gguf", gguf.toString());
        assertEquals(3, bad.code(), bad.err());
        String e = bad.err().strip();
        assertTrue(!e.contains("\n") && e.startsWith("puzzle: ") && e.contains("layer 2") && e.contains("window") && e.contains("deci"), e);
        assertFalse(Files.exists(gguf), e);
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().contains("window.gguf")).toList(), "no temporary file either");
        }
    }

    /**
     * Every model of a compress run that GGUF can express (llama.cpp's llama and deci graphs) generates in
     * llama.cpp what it generates here: the children and baselines from the GGUF that compress wrote beside
     * them, the parent converted here. The others carry compress's one-line refusal, and convert refuses
     * them too (exit 3, no file). Returns how many ran.
     */
    static int everyExportableModel(Path runDir, Path tmp) throws Exception {
        Assumptions.assumeTrue(runner != null, "skipped: node-llama-cpp is not installed");
        JsonNode report = new ObjectMapper().readTree(runDir.resolve("report/report.json").toFile());
        int ran = 0;
        for (JsonNode m : report.get("models")) {
            String model = m.get("model").asText(), name = m.get("name").asText();
            Path gguf;
            if (m.get("kind").asText().equals("parent")) {
                gguf = tmp.resolve(name + ".gguf");
                Run r = run("convert", model, "--tokenizer", tok(), "--to", "gguf", gguf.toString());
                assertEquals(0, r.code(), name + ": " + r.err());
            } else if (m.get("gguf").isNull()) {
                String why = m.get("gguf_refused").asText();
                assertTrue(why.startsWith("layer "), name + ": compress says why there is no GGUF: " + why);
                Path out = tmp.resolve(name + ".gguf");
                Run r = run("convert", model, "--to", "gguf", out.toString());
                assertEquals(3, r.code(), name + ": " + r.err());
                assertFalse(Files.exists(out), name + " refused but a file was left: " + r.err());
                continue;
            } else {
                gguf = Path.of(m.get("gguf").asText());
                assertEquals(runDir.resolve("compress").resolve(name).resolve("model.gguf"), gguf, "the GGUF lies beside the child");
            }
            Checkpoint ck = Checkpoints.load(Path.of(model));
            if (ck.tokenizer() == null) ck = ck.withTokenizer(BpeTokenizer.readLlama2c(Path.of(tok()), 512));
            sameAsLlamaCpp(ck, gguf, "Once upon a time", 48);
            ran++;
        }
        return ran;
    }

    /**
     * A random-weight gpt-oss (GptOssForCausalLM: sinks, q/k/v/o biases, YaRN, head_dim ≠ hidden/heads, sliding and full
     * layers alternating, a biased router and clamped-SwiGLU experts with biases) on stories260K's tokenizer, its classifier
     * scaled so that greedy decoding has clear winners. Experts in F32, or in MXFP4.
     */
    static Checkpoint gptOss(dev.puzzle.core.tensor.DType experts, long seed) {
        var yarn = new dev.puzzle.core.model.Yarn(32f, 4096, 32f, 1f, true, 0f);
        var ext = new ModelConfig.Extensions(true, true, yarn, new ModelConfig.ClampedSwiGlu(7f, 1.702f));
        FfnConfig moe = new FfnConfig.Moe(4, 2, 64, true, 0);
        if (experts != null) moe = moe.withWeights(experts);
        List<BlockConfig> blocks = new ArrayList<>();
        for (int l = 0; l < 4; l++) blocks.add(new BlockConfig(l % 2 == 0 ? new AttentionConfig.Window(2, 8) : new AttentionConfig.Gqa(2), moe));
        ModelConfig c = new ModelConfig(dev.puzzle.core.io.HfConfig.GPT_OSS, 64, 4, 24, 2, 64, 512, 4096 * 32, 1e-5f, 10000f,
                dev.puzzle.core.model.RopeStyle.HALF_SPLIT, false, true, blocks, false, ext);
        Checkpoint ck = dev.puzzle.core.io.RandomWeights.of(c, seed);
        Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
        float[] head = t.get(LM_HEAD).copy().data();
        for (int i = 0; i < head.length; i++) head[i] *= 3;
        t.put(LM_HEAD, new Tensor(head, 512, 64));
        for (int l = 0; l < 4; l++) { // decisive routing: quantized experts' rounding should not flip a token's choice of experts
            float[] router = t.get(layer(l, ROUTER)).copy().data();
            for (int i = 0; i < router.length; i++) router[i] *= 4;
            t.put(layer(l, ROUTER), new Tensor(router, 4, 64));
        }
        return new Checkpoint(c, t, ck.storedTypes(), BpeTokenizer.readLlama2c(Path.of(tok()), 512), "gpt-oss-random");
    }

    /** {@code ck} (element-type experts) with layer l keeping its first keep[l] experts (0: all), as expert pruning realizes it. */
    static Checkpoint keepExperts(Checkpoint ck, int... keep) {
        List<BlockConfig> blocks = new ArrayList<>(ck.config().blocks());
        Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
        for (int l = 0; l < keep.length; l++) {
            if (keep[l] == 0) continue;
            FfnConfig.Moe m = (FfnConfig.Moe) blocks.get(l).ffn();
            blocks.set(l, new BlockConfig(blocks.get(l).attention(), m.withExperts(keep[l])));
            final int layer = l;
            t.keySet().removeIf(n -> TensorNames.inPart(n, layer, false));
            t.putAll(CandidateInit.experts(ck.tensors(), l, m, java.util.stream.IntStream.range(0, keep[l]).toArray()));
        }
        return new Checkpoint(ck.config().withBlocks(blocks), t, ck.storedTypes(), ck.tokenizer(), ck.source() + " (experts kept)");
    }

    /** Written as HF (GptOssForCausalLM), converted by the CLI to GGUF; the reloaded HF model with its tokenizer. */
    static Checkpoint throughHfToGguf(Checkpoint ck, Path dir, Path gguf) throws IOException {
        return throughHfToGguf(ck, dir, gguf, "gpt-oss");
    }

    static Checkpoint throughHfToGguf(Checkpoint ck, Path dir, Path gguf, String arch) throws IOException {
        Checkpoints.writeHfDir(ck, dir, null);
        Run r = run("convert", dir.toString(), "--tokenizer", tok(), "--to", "gguf", gguf.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("GGUF " + arch), r.out());
        return Checkpoints.load(dir).withTokenizer(ck.tokenizer());
    }

    /**
     * The parent and a child whose layers 1 and 2 keep 3 and 2 of their 4 experts (llama.cpp's stacks padded with experts
     * top-k never picks): llama.cpp's greedy tokens and first probabilities equal this toolkit's (1e-3), over 40 positions
     * — past the sliding layers' window of 8.
     */
    @Test
    void aRandomGptOssAndAnExpertPrunedChildInGgufGenerateInLlamaCppWhatTheyGenerateHere(@TempDir Path tmp) throws Exception {
        Checkpoint ck = gptOss(null, 11);
        sameAsLlamaCpp(throughHfToGguf(ck, tmp.resolve("gpt-oss"), tmp.resolve("gpt-oss.gguf")), tmp.resolve("gpt-oss.gguf"), "Once upon a time", 40);
        Checkpoint child = keepExperts(ck, 0, 3, 2, 0);
        sameAsLlamaCpp(throughHfToGguf(child, tmp.resolve("child"), tmp.resolve("child.gguf")), tmp.resolve("child.gguf"), "Once upon a time", 40);
    }

    /**
     * MXFP4 experts: llama.cpp and this toolkit both round each expert product's input to Q8_0, so inputs that differ by
     * ~1e-4 (llama.cpp's F16 KV cache, another summation order) flip a few Q8_0 codes and the probabilities agree within
     * 3e-2, as for dense quantized weights (see {@link #agreesWithLlamaCppUntilANearTie}); measured 2.6e-2 at most over the
     * steps before this random model's first near-tie (its fifth step).
     */
    @Test
    void aGptOssWithMxfp4ExpertsRunsInLlamaCppAsHere(@TempDir Path tmp) throws Exception {
        Checkpoint ck = gptOss(dev.puzzle.core.tensor.DType.MXFP4, 12);
        Checkpoint back = throughHfToGguf(ck, tmp.resolve("gpt-oss-mxfp4"), tmp.resolve("gpt-oss-mxfp4.gguf"));
        assertEquals(dev.puzzle.core.tensor.DType.MXFP4, back.tensors().get(layer(1, expert(2, EXPERT_UP))).dtype(), "MXFP4 experts read back as MXFP4");
        agreesWithLlamaCppUntilANearTie(back, tmp.resolve("gpt-oss-mxfp4.gguf"), "Once upon a time", 40, 4, 3e-2);
    }

    /**
     * A random-weight Nemotron-H (NemotronHForCausalLM, pattern M-*M-M*-: Mamba-2 mixers, attention without RoPE,
     * squared-ReLU MLPs) on stories260K's tokenizer, its classifier scaled so that greedy decoding has clear winners.
     */
    static Checkpoint nemotronH(long seed) {
        String pattern = "M-*M-M*-";
        var mamba = new AttentionConfig.Mamba2(8, 8, 16, 2, 4);
        List<BlockConfig> blocks = new ArrayList<>();
        for (char ch : pattern.toCharArray()) {
            blocks.add(switch (ch) {
                case 'M' -> new BlockConfig(mamba, new FfnConfig.NoOp());
                case '*' -> new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.NoOp());
                default -> new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(128));
            });
        }
        ModelConfig c = new ModelConfig(dev.puzzle.core.io.NemotronH.ARCH, 64, 4, 16, 2, 128, 512, 4096, 1e-5f, 10000f,
                dev.puzzle.core.model.RopeStyle.HALF_SPLIT, false, false, blocks, false, new ModelConfig.Extensions(false, false, null, null, true));
        Checkpoint ck = dev.puzzle.core.io.RandomWeights.of(c, seed);
        Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
        float[] head = t.get(LM_HEAD).copy().data();
        for (int i = 0; i < head.length; i++) head[i] *= 3;
        t.put(LM_HEAD, new Tensor(head, 512, 64));
        return new Checkpoint(c, t, ck.storedTypes(), BpeTokenizer.readLlama2c(Path.of(tok()), 512), "nemotron-h-random");
    }

    /**
     * The random Nemotron-H parent, and a child as the search makes them — its MLP of layer 1 at half width (the first
     * channels), its attention of layer 2 with one KV head (pooled), its Mamba-2 layer 3 dropped (a both-no-op layer,
     * left out of the GGUF) — give llama.cpp's nemotron_h the greedy tokens and first probabilities (1e-3) they give here,
     * over 40 positions.
     */
    @Test
    void aRandomNemotronHAndAChildInGgufGenerateInLlamaCppWhatTheyGenerateHere(@TempDir Path tmp) throws Exception {
        Checkpoint ck = nemotronH(21);
        sameAsLlamaCpp(throughHfToGguf(ck, tmp.resolve("nemotron-h"), tmp.resolve("nemotron-h.gguf"), "nemotron_h"), tmp.resolve("nemotron-h.gguf"),
                "Once upon a time", 40);
        List<BlockConfig> blocks = new ArrayList<>(ck.config().blocks());
        Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
        blocks.set(1, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(64)));
        float[] up = t.get(layer(1, UP)).data(), down = t.get(layer(1, DOWN)).data(), d2 = new float[64 * 64];
        for (int i = 0; i < 64; i++) System.arraycopy(down, i * 128, d2, i * 64, 64);
        t.put(layer(1, UP), new Tensor(java.util.Arrays.copyOf(up, 64 * 64), 64, 64));
        t.put(layer(1, DOWN), new Tensor(d2, 64, 64));
        blocks.set(2, new BlockConfig(new AttentionConfig.Gqa(1), new FfnConfig.NoOp()));
        for (String n : new String[]{K, V}) {
            float[] w = t.get(layer(2, n)).data(), pooled = new float[16 * 64];
            for (int i = 0; i < pooled.length; i++) pooled[i] = (w[i] + w[16 * 64 + i]) / 2;
            t.put(layer(2, n), new Tensor(pooled, 16, 64));
        }
        blocks.set(3, BlockConfig.EMPTY);
        t.keySet().removeIf(n -> n.startsWith("model.layers.3."));
        Checkpoint child = new Checkpoint(ck.config().withBlocks(blocks), t, ck.storedTypes(), ck.tokenizer(), "nemotron-h-child");
        Checkpoint back = throughHfToGguf(child, tmp.resolve("child"), tmp.resolve("child.gguf"), "nemotron_h");
        assertEquals(blocks, back.config().blocks());
        sameAsLlamaCpp(back, tmp.resolve("child.gguf"), "Once upon a time", 40);
        readsBackAsWritten(back, tmp.resolve("child.gguf"), 3);
    }

    /**
     * A nemotron_h GGUF this toolkit wrote reads back here to the model it came from: the same blocks (a left-out no-op
     * layer, given as {@code dropped}, aside; -1: none) and the same logits.
     */
    static void readsBackAsWritten(Checkpoint ck, Path gguf, int dropped) {
        Checkpoint g = Checkpoints.load(gguf);
        List<BlockConfig> want = new ArrayList<>(ck.config().blocks());
        if (dropped >= 0) want.remove(dropped);
        assertEquals(want, g.config().blocks());
        int[] tok = ck.tokenizer().encode("Once upon a time there was", true, false);
        Decoder a = new Decoder(ck, Backend.cpu()), b = new Decoder(g, Backend.cpu());
        float[] x = a.forward(a.newState(tok.length), tok, 0, tok.length, true), y = b.forward(b.newState(tok.length), tok, 0, tok.length, true);
        for (int i = 0; i < x.length; i++) assertEquals(x[i], y[i], 1e-4 * Math.max(1, Math.abs(x[i])), "logit " + i + " read back from " + gguf.getFileName());
    }

    /**
     * A random-weight Nemotron 3 (NemotronHForCausalLM with MoE layers, pattern ME*EME: a sigmoid router whose selection
     * bias steers the choice, squared-ReLU experts, an ungated shared expert, weights normalized and × 2.5), its routers
     * scaled so that routing is decisive, and a child whose layer 1 keeps 3 of its 4 experts (llama.cpp's stack padded with
     * an expert the selection never picks) and whose layer 3 routes top-1: llama.cpp's nemotron_h_moe gives the greedy
     * tokens and first probabilities (1e-3) they give here, over 40 positions.
     */
    @Test
    void aRandomNemotron3WithMoeLayersAndAnExpertPrunedChildRunInLlamaCppAsHere(@TempDir Path tmp) throws Exception {
        String pattern = "ME*EME";
        var mamba = new AttentionConfig.Mamba2(8, 8, 16, 2, 4);
        FfnConfig.Moe moe = new FfnConfig.Moe(4, 2, 64, true, 96);
        List<BlockConfig> blocks = new ArrayList<>();
        for (char ch : pattern.toCharArray()) {
            blocks.add(switch (ch) {
                case 'M' -> new BlockConfig(mamba, new FfnConfig.NoOp());
                case '*' -> new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.NoOp());
                default -> new BlockConfig(new AttentionConfig.NoOp(), moe);
            });
        }
        ModelConfig c = new ModelConfig(dev.puzzle.core.io.NemotronH.ARCH, 64, 4, 16, 2, 128, 512, 4096, 1e-5f, 10000f,
                dev.puzzle.core.model.RopeStyle.HALF_SPLIT, false, false, blocks, false,
                new ModelConfig.Extensions(false, false, null, null, true, new ModelConfig.SigmoidExperts(2.5f)));
        Checkpoint rnd = dev.puzzle.core.io.RandomWeights.of(c, 31);
        Map<String, Tensor> t = new LinkedHashMap<>(rnd.tensors());
        float[] head = t.get(LM_HEAD).copy().data();
        for (int i = 0; i < head.length; i++) head[i] *= 3;
        t.put(LM_HEAD, new Tensor(head, 512, 64));
        for (int l = 0; l < blocks.size(); l++) {
            if (blocks.get(l).ffn().numExperts() == 0) continue;
            float[] router = t.get(layer(l, ROUTER)).copy().data();
            for (int i = 0; i < router.length; i++) router[i] *= 4;
            t.put(layer(l, ROUTER), new Tensor(router, 4, 64));
        }
        Checkpoint ck = new Checkpoint(c, t, rnd.storedTypes(), BpeTokenizer.readLlama2c(Path.of(tok()), 512), "nemotron3-random");
        sameAsLlamaCpp(throughHfToGguf(ck, tmp.resolve("nemotron3"), tmp.resolve("nemotron3.gguf"), "nemotron_h_moe"), tmp.resolve("nemotron3.gguf"),
                "Once upon a time", 40);
        Checkpoint child = keepExperts(ck, 0, 3);
        List<BlockConfig> cb = new ArrayList<>(child.config().blocks());
        cb.set(3, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Moe(4, 1, 64, true, 96)));
        child = new Checkpoint(child.config().withBlocks(cb), child.tensors(), child.storedTypes(), child.tokenizer(), "nemotron3-child");
        Checkpoint back = throughHfToGguf(child, tmp.resolve("child"), tmp.resolve("child.gguf"), "nemotron_h_moe");
        assertEquals(cb, back.config().blocks());
        sameAsLlamaCpp(back, tmp.resolve("child.gguf"), "Once upon a time", 40);
        readsBackAsWritten(back, tmp.resolve("child.gguf"), -1); // layer 1's padding expert left out again
    }

    @Test
    void aGptOssThatLlamaCppWouldComputeDifferentlyIsRefusedInOneLine(@TempDir Path tmp) throws Exception {
        Checkpoint ck = gptOss(null, 13);
        var x = ck.config().extensions();
        var untruncated = new ModelConfig.Extensions(true, true, new dev.puzzle.core.model.Yarn(32f, 4096, 32f, 1f, false, 0f), x.experts());
        Path hf = tmp.resolve("gpt-oss");
        Checkpoints.writeHfDir(new Checkpoint(ck.config().withExtensions(untruncated), ck.tensors(), ck.storedTypes(), ck.tokenizer(), "x"), hf, null);
        Path gguf = tmp.resolve("gpt-oss.gguf");
        Run r = run("convert", hf.toString(), "--tokenizer", tok(), "--to", "gguf", gguf.toString());
        assertNotEquals(0, r.code());
        assertTrue(r.err().contains("truncate") && r.err().strip().lines().count() == 1, r.err());
        assertFalse(Files.exists(gguf), "nothing written");
    }
}
