package dev.puzzle.core.ops;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Mixture-of-experts parents against PyTorch (golden/moe/make_moe_fixtures.py: Mixtral and Qwen2-MoE
 * written from their published definitions, FP32 and BF16 weights, and Qwen2-MoE in the packed expert
 * layout): logits of prefill and of decode, and the MoE block's output and gradients (router included).
 */
class MoeGoldenTest {
    static Path dir(String name) {
        try {
            return Path.of(MoeGoldenTest.class.getResource("/golden/moe/" + name + "/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, float[]> reference(Path dir) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("reference.bin"))).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[4];
        bb.get(magic);
        assertEquals("PZGF", new String(magic, StandardCharsets.US_ASCII));
        assertEquals(1, bb.getInt());
        int n = bb.getInt();
        Map<String, float[]> out = new HashMap<>();
        for (int r = 0; r < n; r++) {
            byte[] name = new byte[bb.getInt()];
            bb.get(name);
            int rank = bb.getInt(), count = 1;
            for (int i = 0; i < rank; i++) count *= bb.getInt();
            float[] data = new float[count];
            bb.asFloatBuffer().get(data);
            bb.position(bb.position() + 4 * count);
            out.put(new String(name, StandardCharsets.UTF_8), data);
        }
        return out;
    }

    static int[] tokens(Map<String, float[]> ref) {
        float[] t = ref.get("tokens");
        int[] a = new int[t.length];
        for (int i = 0; i < t.length; i++) a[i] = Math.round(t[i]);
        return a;
    }

    static void close(float[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], tol * Math.max(1, Math.abs(want[i])), what + " [" + i + "]");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mixtral-f32", "mixtral-bf16", "qwen2moe-f32", "qwen2moe-bf16", "qwen2moe-packed", "qwen3moe-f32", "qwen3moe-bf16"})
    void prefillAndDecodeLogitsMatchPyTorch(String name) throws IOException {
        Checkpoint ck = Checkpoints.load(dir(name));
        assertTrue(ck.config().blocks().get(0).ffn() instanceof FfnConfig.Moe, ck.config().blocks().get(0).toString());
        logitsMatch(name, ck, reference(dir(name)));
    }

    /** The teacher-forced prefill's logits and every decode step's equal the reference's (1e-4, relative above 1). */
    static void logitsMatch(String name, Checkpoint ck, Map<String, float[]> ref) {
        int[] tok = tokens(ref);
        Decoder dec = new Decoder(ck, Backend.cpu());
        int V = ck.config().vocabSize();
        float[] prefill = dec.forward(dec.newState(tok.length), tok, 0, tok.length, true);
        close(ref.get("logits"), prefill, 1e-4, name + " prefill logits");
        Decoder.State st = dec.newState(tok.length);
        float[] want = ref.get("logits");
        for (int t = 0; t < tok.length; t++) {
            float[] step = dec.forward(st, tok, t, 1, false);
            float[] row = java.util.Arrays.copyOfRange(want, t * V, (t + 1) * V);
            close(row, java.util.Arrays.copyOf(step, V), 1e-4, name + " decode logits at " + t);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mixtral-f32", "qwen2moe-f32", "qwen3moe-f32", "mixtral-bf16", "qwen2moe-bf16", "qwen3moe-bf16"})
    void moeBlockForwardAndBackwardMatchPyTorch(String name) throws IOException {
        Path d = dir(name);
        Checkpoint ck = Checkpoints.load(d);
        blockMatches(name, "block", trainable(ck, name).moe(0, (dev.puzzle.core.model.FfnConfig.Moe) ck.config().blocks().get(0).ffn()), reference(d),
                ck.config().dim());
    }

    /** The block factory over heap copies of the checkpoint's tensors (trainable: their gradients can be read). */
    static BlockOps trainable(Checkpoint ck, String name) {
        Map<String, Tensor> heap = new LinkedHashMap<>();
        ck.tensors().forEach((n, t) -> heap.put(n, t.copy()));
        return new BlockOps(ck.config(), heap, name, Backend.cpu());
    }

    /**
     * Layer 0's sub-block {@code op} against the reference records {@code prefix}.x/.dout/.out/.dx/.grad.NAME: its training
     * forward, dx, the gradient of every parameter (and no reference gradient left unchecked), and its inference step.
     */
    static void blockMatches(String name, String prefix, BlockOp op, Map<String, float[]> ref, int D) {
        float[] x = ref.get(prefix + ".x");
        int N = x.length / D;
        BlockOp.Saved s = op.forward(x.clone(), 1, N);
        close(ref.get(prefix + ".out"), s.out(), 1e-5, name + " " + prefix + " f(x)");
        float[] dx = op.backward(s, ref.get(prefix + ".dout"));
        close(ref.get(prefix + ".dx"), dx, 1e-4, name + " " + prefix + " dx");
        int checked = 0;
        for (Param p : op.params()) {
            String key = prefix + ".grad." + p.name.substring("model.layers.0.".length());
            float[] want = ref.get(key);
            assertNotNull(want, "no reference gradient for " + p.name);
            close(want, p.grad(), 1e-4, name + " d " + p.name);
            checked++;
        }
        long refGrads = ref.keySet().stream().filter(k -> k.startsWith(prefix + ".grad.")).count();
        assertEquals(refGrads, checked, "every tensor of the " + prefix + " block has its gradient checked");
        // Inference on the same rows equals the training forward.
        float[] y = x.clone();
        op.step(op.newState(N), y, N, 0);
        for (int i = 0; i < y.length; i++) y[i] -= x[i];
        close(ref.get(prefix + ".out"), y, 1e-5, name + " " + prefix + " step");
    }

    @Test
    void mixtralWritesBackInItsOwnNamesAndReloadsToTheSameLogits(@TempDir Path tmp) throws IOException {
        Path d = dir("mixtral-f32");
        Map<String, float[]> ref = reference(d);
        int[] tok = tokens(ref);
        Checkpoints.writeHfDir(Checkpoints.load(d), tmp.resolve("out"), DType.F32);
        try (Safetensors st = Safetensors.open(tmp.resolve("out/model.safetensors"))) {
            assertTrue(st.entries().containsKey("model.layers.0.block_sparse_moe.gate.weight"));
            assertTrue(st.entries().containsKey("model.layers.1.block_sparse_moe.experts.3.w2.weight"));
            assertFalse(st.entries().keySet().stream().anyMatch(n -> n.contains(".mlp.")), st.entries().keySet().toString());
        }
        String cfg = Files.readString(tmp.resolve("out/config.json"));
        assertTrue(cfg.contains("\"MixtralForCausalLM\"") && cfg.contains("\"num_local_experts\" : 4"), cfg);
        Decoder dec = new Decoder(Checkpoints.load(tmp.resolve("out")), Backend.cpu());
        close(ref.get("logits"), dec.forward(dec.newState(tok.length), tok, 0, tok.length, true), 1e-4, "reloaded");
    }

    @Test
    void qwen2MoeWritesBackWithItsSharedExpertAndDenseLayer(@TempDir Path tmp) throws IOException {
        Path d = dir("qwen2moe-packed");
        Map<String, float[]> ref = reference(d);
        int[] tok = tokens(ref);
        Checkpoints.writeHfDir(Checkpoints.load(d), tmp.resolve("out"), DType.BF16);
        String cfg = Files.readString(tmp.resolve("out/config.json"));
        assertTrue(cfg.contains("\"Qwen2MoeForCausalLM\"") && cfg.contains("\"shared_expert_intermediate_size\" : 12"), cfg);
        Checkpoint back = Checkpoints.load(tmp.resolve("out"));
        assertEquals(new FfnConfig.Dense(20), back.config().blocks().get(1).ffn());
        Decoder dec = new Decoder(back, Backend.cpu());
        close(ref.get("logits"), dec.forward(dec.newState(tok.length), tok, 0, tok.length, true), 0.05, "reloaded in BF16");
    }

    @Test
    void qwen3MoeAndAHeterogeneousChildOfItKeepTheirQkNormsWhenWrittenBack(@TempDir Path tmp) throws IOException {
        Path d = dir("qwen3moe-f32");
        Map<String, float[]> ref = reference(d);
        int[] tok = tokens(ref);
        Checkpoint ck = Checkpoints.load(d);
        assertTrue(ck.config().qkNorm());
        Checkpoints.writeHfDir(ck, tmp.resolve("same"), DType.F32);
        assertTrue(Files.readString(tmp.resolve("same/config.json")).contains("\"Qwen3MoeForCausalLM\""));
        Decoder dec = new Decoder(Checkpoints.load(tmp.resolve("same")), Backend.cpu());
        close(ref.get("logits"), dec.forward(dec.newState(tok.length), tok, 0, tok.length, true), 1e-4, "reloaded");
        // A child with one layer's experts sliced to 3 is DeciLM; q/k norms survive through this toolkit's qk_norm field.
        FfnConfig.Moe m = (FfnConfig.Moe) ck.config().blocks().get(1).ffn();
        java.util.List<dev.puzzle.core.model.BlockConfig> blocks = new java.util.ArrayList<>(ck.config().blocks());
        blocks.set(1, new dev.puzzle.core.model.BlockConfig(blocks.get(1).attention(), m.withExperts(3)));
        Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
        t.remove("model.layers.1.mlp.experts.3.gate_proj.weight");
        t.remove("model.layers.1.mlp.experts.3.up_proj.weight");
        t.remove("model.layers.1.mlp.experts.3.down_proj.weight");
        float[] router = t.get("model.layers.1.mlp.gate.weight").data();
        t.put("model.layers.1.mlp.gate.weight", new Tensor(java.util.Arrays.copyOf(router, 3 * ck.config().dim()), 3, ck.config().dim()));
        Checkpoint child = new Checkpoint(ck.config().withBlocks(blocks), t, ck.storedTypes(), null, "child");
        Checkpoints.writeHfDir(child, tmp.resolve("child"), DType.F32);
        String cfg = Files.readString(tmp.resolve("child/config.json"));
        assertTrue(cfg.contains("\"DeciLMForCausalLM\"") && cfg.contains("\"qk_norm\" : true"), cfg);
        Checkpoint back = Checkpoints.load(tmp.resolve("child"));
        assertTrue(back.config().qkNorm());
        Decoder a = new Decoder(child, Backend.cpu()), b = new Decoder(back, Backend.cpu());
        assertArrayEquals(a.forward(a.newState(tok.length), tok, 0, tok.length, true), b.forward(b.newState(tok.length), tok, 0, tok.length, true));
    }

    /** Copies a fixture, lets {@code edit} change it, and returns the one-line error of loading and running it. */
    static String badInput(Path tmp, String fixture, java.util.function.Consumer<Path> edit) throws IOException {
        Path d = tmp.resolve("bad");
        Files.createDirectories(d);
        for (String f : new String[]{"config.json", "model.safetensors"}) Files.copy(dir(fixture).resolve(f), d.resolve(f));
        edit.accept(d);
        PuzzleException e = assertThrows(PuzzleException.class, () -> new Decoder(Checkpoints.load(d), Backend.cpu()));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void topKLargerThanTheExpertsIsRefusedNamingTheField(@TempDir Path tmp) throws IOException {
        String m = badInput(tmp, "mixtral-f32", d -> rewrite(d.resolve("config.json"), "\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 5"));
        assertTrue(m.contains("num_experts_per_tok") && m.contains("5") && m.contains("config.json"), m);
    }

    @Test
    void aMissingExpertTensorIsRefusedNamingIt(@TempDir Path tmp) throws IOException {
        String m = badInput(tmp, "qwen2moe-f32", d -> rewrite(d.resolve("config.json"), "\"num_experts\": 4", "\"num_experts\": 5"));
        assertTrue(m.contains("model.layers.0.mlp.gate.weight") || m.contains("mlp.experts.4"), m);
    }

    @Test
    void routerRowsThatDoNotMatchTheExpertsAreRefused(@TempDir Path tmp) throws IOException {
        String m = badInput(tmp, "mixtral-f32", d -> rewrite(d.resolve("config.json"), "\"num_local_experts\": 4", "\"num_local_experts\": 3"));
        assertTrue(m.contains("model.layers.0.mlp.gate.weight") && m.contains("[4, 16]") && m.contains("[3, 16]"), m);
    }

    static void rewrite(Path f, String from, String to) {
        try {
            String s = Files.readString(f);
            assertTrue(s.contains(from), "fixture config lacks " + from + ": " + s);
            Files.writeString(f, s.replace(from, to));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
