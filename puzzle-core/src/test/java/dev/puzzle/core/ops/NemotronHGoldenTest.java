package dev.puzzle.core.ops;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.NemotronH;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.ops.MoeGoldenTest.reference;
import static dev.puzzle.core.ops.MoeGoldenTest.tokens;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A Nemotron-H parent (hybrid_override_pattern M*-M-*) against PyTorch (golden/nemotronh/make_nemotronh_fixture.py, written
 * from the published definition): Mamba-2 mixers, attention without RoPE, squared-ReLU MLPs, each under its own layer norm,
 * in HF's backbone.* layout. Prefill and decode logits; the MLP's and the attention's outputs and gradients; the layout
 * written back; a child the pattern cannot say; bad configs.
 */
class NemotronHGoldenTest {
    static Path dir() {
        return dir("nemotronh-f32");
    }

    static Path dir(String name) {
        try {
            return Path.of(NemotronHGoldenTest.class.getResource("/golden/nemotronh/" + name + "/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void thePatternBecomesOneMixerOrOneMlpPerLayer() {
        var c = Checkpoints.load(dir()).config();
        var mamba = new AttentionConfig.Mamba2(4, 4, 8, 2, 4);
        assertEquals(List.of(new BlockConfig(mamba, new FfnConfig.NoOp()), new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.NoOp()),
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(24)), new BlockConfig(mamba, new FfnConfig.NoOp()),
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(24)), new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.NoOp())),
                c.blocks());
        assertTrue(c.extensions().noRope());
        assertEquals("M*-M-*", NemotronH.pattern(c));
    }

    /** Nemotron 3's MoE layers (pattern ME*EM): a sigmoid router with a selection bias, squared-ReLU experts, an ungated shared expert. */
    @Test
    void theMoeLayersAreNemotron3s() {
        var c = Checkpoints.load(dir("nemotronh-moe-f32")).config();
        assertEquals("ME*EM", NemotronH.pattern(c));
        assertEquals(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Moe(4, 2, 16, true, 24)), c.blocks().get(1));
        assertEquals(2.5f, c.extensions().sigmoidExperts().scale());
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"nemotronh-f32", "nemotronh-moe-f32"})
    void prefillAndDecodeLogitsMatchPyTorch(String name) throws IOException {
        MoeGoldenTest.logitsMatch(name, Checkpoints.load(dir(name)), reference(dir(name)));
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"nemotronh-f32", "nemotronh-moe-f32"})
    void mlpAndAttentionBlockGradientsMatchPyTorch(String name) throws IOException {
        Map<String, float[]> ref = reference(dir(name));
        Checkpoint ck = Checkpoints.load(dir(name));
        boolean moe = name.contains("moe");
        // blockMatches reads layer 0's names: the MLP (or MoE) and the attention as layer 0 of a one-layer model
        for (int[] layerAndPart : moe ? new int[][]{{1, 0}, {2, 1}} : new int[][]{{2, 0}, {1, 1}}) {
            int l = layerAndPart[0];
            boolean attention = layerAndPart[1] == 1;
            Map<String, Tensor> heap = new java.util.LinkedHashMap<>();
            ck.tensors().forEach((n, t) -> {
                if (n.startsWith("model.layers." + l + ".")) heap.put("model.layers.0." + n.substring(("model.layers." + l + ".").length()), t.copy());
            });
            BlockConfig b = ck.config().blocks().get(l);
            BlockOps ops = new BlockOps(ck.config().withBlocks(List.of(b)), heap, name + " layer " + l, Backend.cpu());
            if (attention) MoeGoldenTest.blockMatches(name, "attn", ops.attention(0, b.attention()), ref, ck.config().dim());
            else MoeGoldenTest.blockMatches(name, "mlp", ops.ffn(0, b.ffn()), ref, ck.config().dim());
        }
    }

    private static float[] prefill(Checkpoint ck, int[] tok) {
        Decoder dec = new Decoder(ck, Backend.cpu());
        return dec.forward(dec.newState(tok.length), tok, 0, tok.length, true);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"nemotronh-f32", "nemotronh-moe-f32"})
    void writtenBackInNemotronHLayoutItReloadsToTheSameLogits(String name, @TempDir Path tmp) throws IOException {
        int[] tok = tokens(reference(dir(name)));
        Checkpoint ck = Checkpoints.load(dir(name));
        Checkpoints.writeHfDir(ck, tmp.resolve("out"), null);
        String cfg = Files.readString(tmp.resolve("out/config.json"));
        String pattern = name.contains("moe") ? "ME*EM" : "M*-M-*";
        assertTrue(cfg.contains("\"NemotronHForCausalLM\"") && cfg.contains("\"hybrid_override_pattern\" : \"" + pattern + "\"") && !cfg.contains("block_configs"), cfg);
        try (var in = dev.puzzle.core.io.Safetensors.open(tmp.resolve("out/model.safetensors"));
             var src = dev.puzzle.core.io.Safetensors.open(dir(name).resolve("model.safetensors"))) {
            assertEquals(src.entries().keySet(), in.entries().keySet());
            assertArrayEquals(new int[]{48, 1, 4}, in.entries().get("backbone.layers.0.mixer.conv1d.weight").shape());
            for (String t : src.entries().keySet()) assertArrayEquals(src.read(t).data(), in.read(t).data(), t);
        }
        // the same weights; 1e-5 as GptOssGoldenTest's: a warmed JVM may sum a vector's lanes in another order
        MoeGoldenTest.close(prefill(ck, tok), prefill(Checkpoints.load(tmp.resolve("out")), tok), 1e-5, "reloaded");
    }

    /** Written in BF16 (as released Nemotron-H checkpoints are), it reads back mapped in BF16 and stays close to the FP32 logits. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"nemotronh-f32", "nemotronh-moe-f32"})
    void writtenInBf16ItReadsBackClose(String name, @TempDir Path tmp) throws IOException {
        int[] tok = tokens(reference(dir(name)));
        Checkpoint ck = Checkpoints.load(dir(name));
        Checkpoints.writeHfDir(ck, tmp.resolve("bf16"), dev.puzzle.core.tensor.DType.BF16);
        Checkpoint back = Checkpoints.load(tmp.resolve("bf16"));
        assertEquals(dev.puzzle.core.tensor.DType.BF16, back.storedTypes().get("model.layers.0.self_attn.in_proj.weight"));
        assertEquals(ck.config().blocks(), back.config().blocks());
        float[] want = prefill(ck, tok), got = prefill(back, tok);
        double max = 0;
        for (int i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i] - got[i]));
        assertTrue(max > 0 && max < 0.1, name + " BF16 max logit difference " + max);
    }

    @Test
    void aChildThePatternCannotSayCarriesBlockConfigsAndRoundTrips(@TempDir Path tmp) throws IOException {
        Checkpoint ck = Checkpoints.load(dir());
        List<BlockConfig> blocks = new ArrayList<>(ck.config().blocks());
        blocks.set(3, BlockConfig.EMPTY); // a Mamba-2 layer dropped
        Map<String, Tensor> t = new java.util.LinkedHashMap<>(ck.tensors());
        t.keySet().removeIf(n -> n.startsWith("model.layers.3."));
        Checkpoint child = new Checkpoint(ck.config().withBlocks(blocks), t, ck.storedTypes(), ck.tokenizer(), "child");
        Checkpoints.writeHfDir(child, tmp.resolve("child"), null);
        String cfg = Files.readString(tmp.resolve("child/config.json"));
        assertTrue(cfg.contains("block_configs") && !cfg.contains("hybrid_override_pattern"), cfg);
        Checkpoint back = Checkpoints.load(tmp.resolve("child"));
        assertEquals(blocks, back.config().blocks());
        assertEquals("M*-.-*", NemotronH.pattern(back.config()));
        int[] tok = tokens(reference(dir()));
        MoeGoldenTest.close(prefill(child, tok), prefill(back, tok), 1e-5, "child reloaded");
    }

    @Test
    void aLayerWithBothAMixerAndAnFfnIsRefusedInOneLine(@TempDir Path tmp) {
        Checkpoint ck = Checkpoints.load(dir());
        List<BlockConfig> blocks = new ArrayList<>(ck.config().blocks());
        blocks.set(1, new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Relu2(24)));
        Checkpoint bad = new Checkpoint(ck.config().withBlocks(blocks), ck.tensors(), ck.storedTypes(), ck.tokenizer(), "bad");
        var e = assertThrows(PuzzleException.class, () -> Checkpoints.writeHfDir(bad, tmp.resolve("bad"), null));
        assertTrue(e.getMessage().contains("layer 1") && e.getMessage().contains("has one"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("bad/config.json")), "nothing half-written");
    }

    private static Path copy(Path tmp, java.util.function.Consumer<com.fasterxml.jackson.databind.node.ObjectNode> edit) throws IOException {
        Path d = tmp.resolve("m");
        Files.createDirectories(d);
        Files.copy(dir().resolve("model.safetensors"), d.resolve("model.safetensors"));
        var m = new com.fasterxml.jackson.databind.ObjectMapper().enable(com.fasterxml.jackson.core.JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS);
        var o = (com.fasterxml.jackson.databind.node.ObjectNode) m.readTree(dir().resolve("config.json").toFile());
        edit.accept(o);
        Files.writeString(d.resolve("config.json"), o.toString());
        return d;
    }

    @Test
    void badConfigsAreRefusedNamingTheField(@TempDir Path tmp) throws IOException {
        var e = assertThrows(PuzzleException.class, () -> Checkpoints.load(copy(tmp.resolve("a"), o -> o.put("hybrid_override_pattern", "M*-M-"))));
        assertTrue(e.getMessage().contains("hybrid_override_pattern") && e.getMessage().contains("num_hidden_layers is 6"), e.getMessage());
        e = assertThrows(PuzzleException.class, () -> Checkpoints.load(copy(tmp.resolve("b"), o -> o.put("hybrid_override_pattern", "M*-MX*"))));
        assertTrue(e.getMessage().contains("hybrid_override_pattern[4]") && e.getMessage().contains("X"), e.getMessage());
        e = assertThrows(PuzzleException.class, () -> Checkpoints.load(copy(tmp.resolve("c"), o -> o.put("mlp_hidden_act", "gelu"))));
        assertTrue(e.getMessage().contains("mlp_hidden_act"), e.getMessage());
        e = assertThrows(PuzzleException.class, () -> Checkpoints.load(copy(tmp.resolve("d"), o -> o.put("n_groups", 3))));
        assertTrue(e.getMessage().contains("n_groups"), e.getMessage());
        // the conv's shape disagrees with the config's state size: the tensor is named with both shapes
        e = assertThrows(PuzzleException.class, () -> new Decoder(Checkpoints.load(copy(tmp.resolve("e"), o -> o.put("ssm_state_size", 4))), Backend.cpu()));
        assertTrue(e.getMessage().contains("model.layers.0.self_attn.in_proj.weight") || e.getMessage().contains("conv1d"), e.getMessage());
        e = assertThrows(PuzzleException.class, () -> Checkpoints.load(copy(tmp.resolve("f"), o -> o.put("hybrid_override_pattern", "M*EM-*"))));
        assertTrue(e.getMessage().contains("n_routed_experts") && e.getMessage().contains("missing"), e.getMessage());
        e = assertThrows(PuzzleException.class, () -> Checkpoints.load(copy(tmp.resolve("g"), o -> o.put("hybrid_override_pattern", "M*EM-*")
                .put("n_routed_experts", 4).put("num_experts_per_tok", 2).put("moe_intermediate_size", 8).put("moe_shared_expert_intermediate_size", 8)
                .put("n_group", 2).put("topk_group", 1))));
        assertTrue(e.getMessage().contains("topk_group") && e.getMessage().contains("1 of 2 expert groups"), e.getMessage());
    }
}
