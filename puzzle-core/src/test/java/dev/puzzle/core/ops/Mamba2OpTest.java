package dev.puzzle.core.ops;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.ops.MoeGoldenTest.close;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The Mamba-2 mixer in an attention's place against PyTorch (golden/mamba2/make_mamba2_fixture.py, the published definition's
 * naive recurrence): its output, dx and every parameter's gradient; its inference step token by token and in chunks
 * against the training forward; and a model with a Mamba-2 layer through HF block_configs and back.
 */
class Mamba2OpTest {
    static final AttentionConfig.Mamba2 FIXTURE = new AttentionConfig.Mamba2(4, 4, 8, 2, 4);

    static Path dir() {
        try {
            return Path.of(Mamba2OpTest.class.getResource("/golden/mamba2/model.safetensors").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A one-layer model around the fixture's block (dim 16). */
    static ModelConfig config(AttentionConfig a, int layers) {
        return new ModelConfig("LlamaForCausalLM", 16, 4, 4, 4, 8, 9, 64, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, false, false,
                java.util.Collections.nCopies(layers, new BlockConfig(a, new FfnConfig.NoOp())));
    }

    static BlockOp fixtureOp() throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(dir().resolve("model.safetensors"))) {
            for (String n : st.entries().keySet()) t.put(n, st.read(n));
        }
        return new BlockOps(config(FIXTURE, 1), t, "the mamba2 fixture", Backend.cpu()).attention(0, FIXTURE);
    }

    @Test
    void forwardBackwardAndEveryGradientMatchPyTorch() throws IOException {
        Map<String, float[]> ref = MoeGoldenTest.reference(dir());
        MoeGoldenTest.blockMatches("mamba2", "mamba", fixtureOp(), ref, 16);
    }

    @Test
    void theStepInChunksEqualsTheTrainingForward() throws IOException {
        Map<String, float[]> ref = MoeGoldenTest.reference(dir());
        BlockOp op = fixtureOp();
        float[] x = ref.get("mamba.x");
        int T = x.length / 16;
        for (int[] chunks : new int[][]{{T}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 5, 1, 3}, {6, 5}}) {
            BlockOp.State st = op.newState(T);
            float[] y = x.clone();
            int pos = 0;
            for (int c : chunks) {
                float[] part = Arrays.copyOfRange(y, pos * 16, (pos + c) * 16);
                op.step(st, part, c, pos);
                System.arraycopy(part, 0, y, pos * 16, c * 16);
                pos += c;
            }
            for (int i = 0; i < y.length; i++) y[i] -= x[i];
            close(ref.get("mamba.out"), y, 1e-5, "chunks " + Arrays.toString(chunks));
        }
    }

    @Test
    void aModelWithMambaLayersDecodesAsItPrefillsAndRoundTripsThroughHf(@TempDir Path tmp) throws IOException {
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(8)),
                new BlockConfig(new AttentionConfig.Mamba2(2, 4, 4, 1, 3), new FfnConfig.Dense(8)),
                new BlockConfig(new AttentionConfig.Mamba2(4, 2, 8, 2, 4), new FfnConfig.NoOp()));
        ModelConfig c = new ModelConfig("LlamaForCausalLM", 16, 4, 4, 2, 8, 9, 64, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, false, false, blocks);
        Checkpoint ck = RandomWeights.of(c, 3);
        int[] tok = {1, 4, 2, 8, 5, 7, 3, 0, 6, 2};
        Decoder d = new Decoder(ck, Backend.cpu());
        float[] prefill = d.forward(d.newState(tok.length), tok, 0, tok.length, true);
        Decoder.State st = d.newState(tok.length);
        for (int t = 0; t < tok.length; t++) {
            close(Arrays.copyOfRange(prefill, t * 9, (t + 1) * 9), Arrays.copyOf(d.forward(st, tok, t, 1, false), 9), 1e-5, "decode at " + t);
        }
        Checkpoints.writeHfDir(ck, tmp.resolve("hf"), DType.F32);
        Checkpoint back = Checkpoints.load(tmp.resolve("hf"));
        assertEquals(c.blocks(), back.config().blocks());
        Decoder b = new Decoder(back, Backend.cpu());
        // The same weights; 1e-5, not bit-equality: warmed by other tests, the Vector API's compiled and fallback forms may sum
        // a vector's lanes in another order (2e-6 apart once, through three layers).
        close(prefill, b.forward(b.newState(tok.length), tok, 0, tok.length, true), 1e-5, "reloaded");
        for (BlockConfig bc : blocks) assertEquals(bc, BlockNames.parse(BlockNames.library(c, bc)).orElseThrow(), BlockNames.library(c, bc));
    }

    /** Bad input: a Mamba-2 entry whose groups do not divide its heads names the field; an A_log of the wrong length names the tensor. */
    @Test
    void badMamba2SettingsAndTensorsAreRefusedInOneLineNamingThem(@TempDir Path tmp) throws IOException {
        ModelConfig c = config(FIXTURE, 2);
        Checkpoints.writeHfDir(RandomWeights.of(c, 4), tmp.resolve("hf"), DType.F32);
        Path cfg = tmp.resolve("hf/config.json");
        String good = java.nio.file.Files.readString(cfg);
        java.nio.file.Files.writeString(cfg, good.replaceFirst("\"n_groups\" : 2", "\"n_groups\" : 3"));
        var e = assertThrows(dev.puzzle.core.PuzzleException.class, () -> Checkpoints.load(tmp.resolve("hf")));
        assertTrue(e.getMessage().contains("block_configs[0].attention.mamba2.n_groups") && e.getMessage().contains("3") && !e.getMessage().contains("\n"),
                e.getMessage());
        java.nio.file.Files.writeString(cfg, good);
        Map<String, Tensor> t = new LinkedHashMap<>(RandomWeights.of(c, 4).tensors());
        t.put("model.layers.1.self_attn.A_log", new Tensor(new float[3], 3));
        Checkpoint bad = new Checkpoint(c, t, RandomWeights.of(c, 4).storedTypes(), null, "bad");
        var e2 = assertThrows(dev.puzzle.core.PuzzleException.class, () -> new Decoder(bad, Backend.cpu()));
        assertTrue(e2.getMessage().contains("model.layers.1.self_attn.A_log") && e2.getMessage().contains("[3]") && e2.getMessage().contains("[4]"),
                e2.getMessage());
    }
}
