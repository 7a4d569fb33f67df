package dev.puzzle.core.ops;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Fp8E4M3;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** FP8 KV caches per layer: the cache holds E4M3 values times the scales, prefill = decode = training forward, and children round-trip. */
class Fp8KvTest {
    static ModelConfig config() {
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Gqa(2, true), new FfnConfig.Dense(24)),
                new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(24)),
                new BlockConfig(new AttentionConfig.Window(1, 5, true), new FfnConfig.Dense(24)));
        return new ModelConfig("LlamaForCausalLM", 16, 4, 4, 2, 24, 40, 32, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, false, false, blocks);
    }

    @Test
    void theCacheHoldsScaledE4M3ValuesAndPrefillDecodeAndTrainingAgree() {
        Checkpoint ck = RandomWeights.of(config(), 3);
        BlockOps ops = new BlockOps(ck.config(), ck.tensors(), "random", Backend.cpu());
        GqaAttentionOp op = (GqaAttentionOp) ops.attention(0, ck.config().blocks().get(0).attention());
        int T = 9, D = 16;
        float[] x = new float[T * D];
        Random r = new Random(4);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        GqaAttentionOp.KvCache cache = (GqaAttentionOp.KvCache) op.newState(T);
        float[] prefill = x.clone();
        op.step(cache, prefill, T, 0);
        float[] ks = ck.tensors().get(TensorNames.layer(0, TensorNames.K_SCALE)).data();
        for (int i = 0; i < T * 8; i++) {
            float k = cache.keys()[i] / ks[(i % 8) / 4];
            assertEquals(Fp8E4M3.round(k), k, 1e-5f * Math.max(1, Math.abs(k)), "cached key " + i + " is on the E4M3 grid");
        }
        GqaAttentionOp.KvCache c2 = (GqaAttentionOp.KvCache) op.newState(T);
        float[] decode = x.clone();
        for (int t = 0; t < T; t++) {
            float[] row = java.util.Arrays.copyOfRange(decode, t * D, (t + 1) * D);
            op.step(c2, row, 1, t);
            System.arraycopy(row, 0, decode, t * D, D);
        }
        float[] train = op.forward(x.clone(), 1, T).out();
        for (int i = 0; i < x.length; i++) {
            assertEquals(prefill[i], decode[i], 1e-5, "prefill = decode at " + i);
            assertEquals(prefill[i] - x[i], train[i], 1e-5, "training forward = inference at " + i);
        }
    }

    @Test
    void aChildWithFp8LayersReloadsToTheSameLogits(@TempDir Path tmp) throws IOException {
        Checkpoint ck = RandomWeights.of(config(), 5);
        Checkpoints.writeHfDir(ck, tmp.resolve("child"), DType.BF16);
        String cfg = Files.readString(tmp.resolve("child/config.json"));
        assertTrue(cfg.contains("\"kv_cache_dtype\" : \"fp8_e4m3\""), cfg);
        Checkpoint back = Checkpoints.load(tmp.resolve("child"));
        assertEquals(ck.config().blocks(), back.config().blocks());
        Map<String, Tensor> rounded = new LinkedHashMap<>(); // the reference with the same BF16-rounded weights
        back.tensors().forEach((n, t) -> rounded.put(n, t.copy()));
        int[] tok = {1, 7, 3, 9, 22, 5, 31, 2, 11, 17};
        Decoder a = new Decoder(back, Backend.cpu()), b = new Decoder(new Checkpoint(back.config(), rounded, back.storedTypes(), null, "copy"), Backend.cpu());
        assertArrayEquals(a.forward(a.newState(tok.length), tok, 0, tok.length, true), b.forward(b.newState(tok.length), tok, 0, tok.length, true));
        // FP8 changes the logits (it is applied), but little.
        ModelConfig noFp8 = back.config().withBlocks(back.config().blocks().stream()
                .map(x -> new BlockConfig(x.attention().withoutFp8Kv(), x.ffn())).toList());
        Decoder c = new Decoder(new Checkpoint(noFp8, rounded, back.storedTypes(), null, "no fp8"), Backend.cpu());
        float[] la = a.forward(a.newState(tok.length), tok, 0, tok.length, true), lc = c.forward(c.newState(tok.length), tok, 0, tok.length, true);
        double diff = 0, norm = 0;
        for (int i = 0; i < la.length; i++) {
            diff = Math.max(diff, Math.abs(la[i] - lc[i]));
            norm = Math.max(norm, Math.abs(lc[i]));
        }
        assertTrue(diff > 0 && diff < 0.1 * norm, "FP8 moves the logits a little: " + diff + " of " + norm);
    }

    @Test
    void zeroOrNanScalesAreRefusedNamingTheTensor() {
        for (float bad : new float[]{0f, Float.NaN, -1f}) {
            Checkpoint ck = RandomWeights.of(config(), 6);
            ck.tensors().get(TensorNames.layer(2, TensorNames.V_SCALE)).data()[0] = bad;
            PuzzleException e = assertThrows(PuzzleException.class, () -> new Decoder(ck, Backend.cpu()));
            assertTrue(e.getMessage().contains("model.layers.2.self_attn.v_scale") && e.getMessage().contains("positive and finite"), e.getMessage());
        }
    }

    @Test
    void fp8ForALayerWithoutAttentionIsRefusedNamingTheKey(@TempDir Path tmp) throws IOException {
        ModelConfig c = config().withBlocks(List.of(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(24)),
                new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(24))));
        Checkpoints.writeHfDir(RandomWeights.of(c, 7), tmp.resolve("m"), DType.F32);
        Path f = tmp.resolve("m/config.json");
        String s = Files.readString(f);
        Files.writeString(f, s.replaceFirst("\"no_op\" : true,", "\"no_op\" : true, \"kv_cache_dtype\" : \"fp8_e4m3\","));
        PuzzleException e = assertThrows(PuzzleException.class, () -> Checkpoints.load(tmp.resolve("m")));
        assertTrue(e.getMessage().contains("block_configs[0].attention.kv_cache_dtype") && e.getMessage().contains("no_op"), e.getMessage());
    }
}
