package dev.puzzle.core;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
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

import static dev.puzzle.core.io.TensorNames.*;
import static org.junit.jupiter.api.Assertions.*;

/** A hand-built 6-layer model covering every attention and FFN variant: prefill equals decode, and it round-trips through HF. */
class HeterogeneousModelTest {

    public static Checkpoint randomModel(ModelConfig c, long seed) {
        return dev.puzzle.core.io.RandomWeights.of(c, seed);
    }

    static ModelConfig sixLayers(boolean bias, boolean tied) {
        List<BlockConfig> blocks = List.of(
                new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(48)),
                new BlockConfig(new AttentionConfig.Window(1, 5), new FfnConfig.Dense(20)),
                new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.Linear()),
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(33)),
                new BlockConfig(new AttentionConfig.Gqa(4), new FfnConfig.NoOp()),
                new BlockConfig(new AttentionConfig.Window(2, 3), new FfnConfig.Linear()),
                new BlockConfig(new AttentionConfig.Mamba2(4, 8, 8, 2, 4), new FfnConfig.Dense(20)), // a seventh: attention → Mamba-2
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(24))); // an eighth: Nemotron-H's squared-ReLU MLP
        return new ModelConfig("LlamaForCausalLM", 32, 4, 8, 2, 48, 61, 64, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, tied, bias, blocks);
    }

    static int[] tokens(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    static void prefillEqualsDecode(Checkpoint ck) {
        Decoder d = new Decoder(ck);
        int V = ck.config().vocabSize(), N = 23;
        int[] toks = tokens(N, V, 7);
        float[] all = d.forward(d.newState(N), toks, 0, N, true);
        // Token by token.
        Decoder.State st = d.newState(N);
        for (int t = 0; t < N; t++) {
            float[] one = d.forward(st, toks, t, 1, false);
            for (int j = 0; j < V; j++) assertEquals(all[t * V + j], one[j], 1e-4, "decode pos " + t + " logit " + j);
        }
        // Uneven chunks (prefill continuing from a cache, across window boundaries).
        Decoder.State st2 = d.newState(N);
        int[] chunks = {4, 1, 7, 2, 9};
        int pos = 0;
        for (int c : chunks) {
            float[] part = d.forward(st2, toks, pos, c, true);
            for (int t = 0; t < c; t++) {
                for (int j = 0; j < V; j++) assertEquals(all[(pos + t) * V + j], part[t * V + j], 1e-4, "chunked pos " + (pos + t));
            }
            pos += c;
        }
    }

    @Test
    void everyVariantPrefillEqualsDecode() {
        prefillEqualsDecode(randomModel(sixLayers(false, false), 1));
        prefillEqualsDecode(randomModel(sixLayers(true, true), 2));
        prefillEqualsDecode(randomModel(sixLayers(false, true).withRopeStyle(RopeStyle.INTERLEAVED), 3));
    }

    @Test
    void windowActuallyLimitsAttention() {
        // With window 1 every position sees only itself, so logits at position p do not depend on earlier tokens.
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Window(2, 1), new FfnConfig.Dense(16)));
        ModelConfig c = new ModelConfig("LlamaForCausalLM", 16, 2, 8, 2, 16, 30, 32, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, true, false, blocks);
        Decoder d = new Decoder(randomModel(c, 9));
        float[] a = d.forward(d.newState(4), new int[]{3, 4, 5, 6}, 0, 4, true);
        float[] b = d.forward(d.newState(4), new int[]{9, 8, 7, 6}, 0, 4, true);
        for (int j = 0; j < 30; j++) assertEquals(a[3 * 30 + j], b[3 * 30 + j], 1e-5);
        // With full attention they differ.
        ModelConfig full = c.withBlocks(List.of(new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(16))));
        Decoder f = new Decoder(randomModel(full, 9));
        float[] fa = f.forward(f.newState(4), new int[]{3, 4, 5, 6}, 0, 4, true);
        float[] fb = f.forward(f.newState(4), new int[]{9, 8, 7, 6}, 0, 4, true);
        assertNotEquals(fa[3 * 30], fb[3 * 30]);
    }

    @Test
    void heterogeneousRoundTripsThroughHf(@TempDir Path tmp) throws IOException {
        for (boolean bias : new boolean[]{false, true}) {
            Checkpoint ck = randomModel(sixLayers(bias, false).withRopeStyle(RopeStyle.INTERLEAVED), 4);
            Path dir = tmp.resolve("m" + bias);
            Checkpoints.writeHfDir(ck, dir, DType.F32);
            Checkpoint back = Checkpoints.load(dir);
            assertEquals("DeciLMForCausalLM", back.config().architecture());
            assertEquals(ck.config().blocks(), back.config().blocks());
            assertEquals(bias, back.config().qkvBias());
            int[] toks = tokens(12, 61, 5);
            Decoder a = new Decoder(ck), b = new Decoder(back);
            assertArrayEquals(a.forward(a.newState(12), toks, 0, 12, true), b.forward(b.newState(12), toks, 0, 12, true), 1e-4f);
        }
    }

    /** Quantized parts of every format over several variants (dim 32: the projections' rows are whole blocks of each format). */
    static ModelConfig quantizedLayers() {
        List<BlockConfig> blocks = List.of(
                new BlockConfig(new AttentionConfig.Quantized(new AttentionConfig.Gqa(2), DType.Q4_0), new FfnConfig.Quantized(new FfnConfig.Dense(64), DType.Q8_0)),
                new BlockConfig(new AttentionConfig.Quantized(new AttentionConfig.Window(1, 5), DType.MXFP4), new FfnConfig.Dense(48)),
                new BlockConfig(new AttentionConfig.Quantized(new AttentionConfig.Linear(), DType.FP8), new FfnConfig.Quantized(new FfnConfig.Dense(40), DType.NVFP4)),
                new BlockConfig(new AttentionConfig.Gqa(4), new FfnConfig.Quantized(new FfnConfig.Linear(), DType.Q4_0)));
        return new ModelConfig("LlamaForCausalLM", 32, 4, 8, 2, 48, 61, 64, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, false, false, blocks);
    }

    @Test
    void quantizedPartsStoreTheirMatricesInTheirFormatAndRoundTripThroughHf(@TempDir Path tmp) throws IOException {
        Checkpoint ck = randomModel(quantizedLayers(), 12);
        // Where the rows are whole blocks the matrices are stored in the part's format; norms and the rest are not.
        assertEquals(DType.Q4_0, ck.tensors().get(layer(0, Q)).dtype());
        assertEquals(DType.Q4_0, ck.tensors().get(layer(0, O)).dtype());
        assertEquals(DType.Q8_0, ck.tensors().get(layer(0, GATE)).dtype());
        assertEquals(DType.Q8_0, ck.tensors().get(layer(0, DOWN)).dtype(), "rows of 64: whole Q8_0 blocks");
        assertEquals(DType.F32, ck.tensors().get(layer(2, DOWN)).dtype(), "rows of 40 are not whole NVFP4 blocks: as llama.cpp, left unquantized");
        assertEquals(DType.NVFP4, ck.tensors().get(layer(2, UP)).dtype());
        assertEquals(DType.FP8, ck.tensors().get(layer(2, ATTN_LINEAR)).dtype());
        assertEquals(DType.F32, ck.tensors().get(layer(0, ATTN_NORM)).dtype());
        assertEquals(DType.F32, ck.tensors().get(layer(1, GATE)).dtype(), "an unquantized part keeps its type");
        prefillEqualsDecode(ck);
        Path dir = tmp.resolve("q");
        Checkpoints.writeHfDir(ck, dir, null);
        assertTrue(Files.readString(dir.resolve("config.json")).contains("\"weights_dtype\" : \"mxfp4\""));
        Checkpoint back = Checkpoints.load(dir);
        assertEquals(ck.config().blocks(), back.config().blocks());
        for (var e : ck.tensors().entrySet()) {
            Tensor a = e.getValue(), b = back.tensors().get(e.getKey());
            assertEquals(a.dtype(), b.dtype(), e.getKey());
            if (a.dtype().isQuantized()) {
                byte[] x = new byte[(int) a.storedBytes()], y = new byte[(int) b.storedBytes()];
                a.rawBytes(0, a.rows(), x, 0);
                b.rawBytes(0, b.rows(), y, 0);
                assertArrayEquals(x, y, e.getKey() + ": the stored bytes");
            }
        }
        int[] toks = tokens(12, 61, 5);
        Decoder d1 = new Decoder(ck), d2 = new Decoder(back);
        assertArrayEquals(d1.forward(d1.newState(12), toks, 0, 12, true), d2.forward(d2.newState(12), toks, 0, 12, true), 1e-5f);
    }

    @Test
    void aQuantizedPartComputesWithItsWeightsRoundedAndNothingElse() {
        // The same random model unquantized, its parts' matrices rounded to their formats by hand (Quant.roundTrip, FP32):
        // the quantized model's logits differ only by llama.cpp's Q8_0 rounding of a product's inputs (Q8_0/Q4_0/MXFP4).
        Checkpoint q = randomModel(quantizedLayers(), 12);
        List<BlockConfig> plain = q.config().blocks().stream().map(b -> new BlockConfig(b.attention().unquantized(), b.ffn().unquantized())).toList();
        Checkpoint f = randomModel(q.config().withBlocks(plain), 12);
        Map<String, Tensor> rounded = new LinkedHashMap<>();
        f.tensors().forEach((k, v) -> {
            DType want = q.tensors().get(k).dtype();
            rounded.put(k, want.isQuantized() ? new Tensor(dev.puzzle.core.tensor.Quant.roundTrip(want, v.data(), v.rows(), v.cols()), v.shape()) : v);
        });
        Checkpoint byHand = new Checkpoint(f.config(), rounded, f.storedTypes(), null, "rounded by hand");
        int[] toks = tokens(12, 61, 5);
        Decoder a = new Decoder(q), b = new Decoder(byHand);
        float[] x = a.forward(a.newState(12), toks, 0, 12, true), y = b.forward(b.newState(12), toks, 0, 12, true);
        double worst = 0, scale = 0;
        for (int i = 0; i < x.length; i++) {
            worst = Math.max(worst, Math.abs(x[i] - y[i]));
            scale = Math.max(scale, Math.abs(y[i]));
        }
        assertTrue(worst < 0.02 * scale, "worst " + worst + " of logits up to " + scale);
        assertTrue(worst > 0, "the quantized forward rounds its inputs as llama.cpp does");
    }

    @Test
    void uniformFamiliesKeepTheirHfArchitecture(@TempDir Path tmp) throws IOException {
        ModelConfig qwen = ModelConfig.builder("Qwen2ForCausalLM").dim(32).layers(2).heads(4).kvHeads(2).intermediateSize(48).vocabSize(61).maxSeqLen(64).normEps(1e-6f).ropeTheta(1e6f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(true).qkvBias(true).build();
        ModelConfig mistral = ModelConfig.builder("MistralForCausalLM").dim(32).layers(2).heads(4).kvHeads(2).intermediateSize(48).vocabSize(61).maxSeqLen(64).normEps(1e-5f).ropeTheta(1e4f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(false).qkvBias(false).build();
        mistral = mistral.withBlocks(java.util.Collections.nCopies(2, new BlockConfig(new AttentionConfig.Window(2, 4), new FfnConfig.Dense(48))));
        for (ModelConfig c : List.of(qwen, mistral)) {
            Checkpoint ck = randomModel(c, 11);
            Path dir = tmp.resolve(c.architecture());
            Checkpoints.writeHfDir(ck, dir, DType.F32);
            Checkpoint back = Checkpoints.load(dir);
            assertEquals(c.architecture(), back.config().architecture());
            assertEquals(c.blocks(), back.config().blocks());
            assertEquals(c.qkvBias(), back.config().qkvBias());
            assertEquals(c.ropeTheta(), back.config().ropeTheta());
            int[] toks = tokens(9, 61, 3);
            Decoder a = new Decoder(ck), b = new Decoder(back);
            assertArrayEquals(a.forward(a.newState(9), toks, 0, 9, true), b.forward(b.newState(9), toks, 0, 9, true), 1e-5f);
        }
    }

    @Test
    void bf16AndF16WritesStayClose(@TempDir Path tmp) throws IOException {
        Checkpoint ck = randomModel(sixLayers(false, true), 6);
        int[] toks = tokens(10, 61, 8);
        Decoder ref = new Decoder(ck);
        float[] want = ref.forward(ref.newState(10), toks, 0, 10, true);
        for (DType dt : new DType[]{DType.F16, DType.BF16}) {
            Path dir = tmp.resolve(dt.name());
            Checkpoints.writeHfDir(ck, dir, dt);
            Checkpoint back = Checkpoints.load(dir);
            assertEquals(dt, back.storedTypes().get(TensorNames.layer(0, TensorNames.Q)));
            Decoder d = new Decoder(back);
            float[] got = d.forward(d.newState(10), toks, 0, 10, true);
            double maxDiff = 0;
            for (int i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
            // F16: 0.0224 at most with eight layers (the squared-ReLU MLP doubles its input's relative rounding), 0.02 with seven
            assertTrue(maxDiff < (dt == DType.F16 ? 0.03 : 0.15), dt + " max diff " + maxDiff);
            assertTrue(maxDiff > 0, "narrowing must change something");
            // The weights stay mapped in their stored dtype; the kernels read them as the heap copy would.
            assertTrue(back.tensors().get(TensorNames.layer(0, TensorNames.Q)).isMapped());
            assertEquals(dt, back.tensors().get(TensorNames.layer(0, TensorNames.Q)).dtype());
            Map<String, Tensor> heap = new LinkedHashMap<>();
            back.tensors().forEach((n, t) -> heap.put(n, t.copy()));
            Decoder h = new Decoder(new Checkpoint(back.config(), heap, back.storedTypes(), null, "heap copy"));
            float[] onHeap = h.forward(h.newState(10), toks, 0, 10, true);
            for (int i = 0; i < want.length; i++) assertEquals(onHeap[i], got[i], 1e-5 * (1 + Math.abs(onHeap[i])), dt + " mapped vs heap, logit " + i);
            // Decode (one row: BF16 read in place from the mapping) gives the prefill's rows (a GEMM over widened copies).
            Decoder.State st = d.newState(10);
            int V = back.config().vocabSize();
            for (int t = 0; t < 10; t++) {
                float[] step = d.forward(st, toks, t, 1, false);
                for (int v = 0; v < V; v++) assertEquals(got[t * V + v], step[v], 1e-4 * (1 + Math.abs(got[t * V + v])), dt + " decode at " + t + ", logit " + v);
            }
            // Rewriting a mapped checkpoint in its own dtype copies its bytes.
            Path again = tmp.resolve(dt.name() + "-again");
            Checkpoints.writeHfDir(back, again, dt);
            assertArrayEquals(Files.readAllBytes(dir.resolve("model.safetensors")), Files.readAllBytes(again.resolve("model.safetensors")));
        }
    }
}
