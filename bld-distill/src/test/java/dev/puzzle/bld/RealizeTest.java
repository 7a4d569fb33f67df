package dev.puzzle.bld;

import dev.puzzle.blocklibrary.CandidateStore;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;
import static org.junit.jupiter.api.Assertions.*;

/** A child is the parent with each replaced layer's tensors taken from the run's stores: distilled where BLD trained, else the initialization. */
class RealizeTest {
    final ModelConfig c = BldFixtures.parent(3, null);
    final Checkpoint parent = RandomWeights.of(c, 31);
    final BlockConfig linearFfn = new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Linear());

    static Map<String, Tensor> linear(int layer, float value, int D) {
        Tensor w = Tensor.zeros(D, D), n = Tensor.zeros(D);
        java.util.Arrays.fill(w.data(), value);
        java.util.Arrays.fill(n.data(), 1f);
        return Map.of(layer(layer, FFN_LINEAR), w, layer(layer, FFN_NORM), n);
    }

    @Test
    void replacedLayersComeFromTheStoresAndTheRestFromTheParent(@TempDir Path run) throws Exception {
        int D = c.dim();
        CandidateStore lib = Bld.library(run), distilled = Bld.distilled(run);
        lib.write(1, BlockNames.id(new FfnConfig.Linear()), linear(1, 0.5f, D));
        lib.write(2, BlockNames.id(new FfnConfig.Linear()), linear(2, 0.25f, D));
        distilled.write(1, BlockNames.id(new FfnConfig.Linear()), linear(1, 0.75f, D)); // BLD trained layer 1 only
        List<BlockConfig> blocks = List.of(c.parentBlock(0), linearFfn, linearFfn);
        Checkpoint child = Bld.realize(parent, blocks, run, false);

        assertEquals(blocks, child.config().blocks());
        assertSame(parent.tensors().get(layer(0, GATE)), child.tensors().get(layer(0, GATE)), "an unchanged layer keeps the parent's tensors");
        assertEquals(0.75f, child.tensors().get(layer(1, FFN_LINEAR)).data()[0], "layer 1: the distilled weights");
        assertEquals(0.25f, child.tensors().get(layer(2, FFN_LINEAR)).data()[0], "layer 2: not trained, the initialization");
        for (int l : new int[]{1, 2}) {
            for (String gone : List.of(GATE, UP, DOWN)) assertNull(child.tensors().get(layer(l, gone)), "layer " + l + " " + gone + " is dropped");
            assertSame(parent.tensors().get(layer(l, Q)), child.tensors().get(layer(l, Q)), "the parent's own attention part comes from the parent");
        }
        assertEquals(DType.F32, child.storedTypes().get(layer(1, FFN_NORM)), "norms stay F32");
        assertEquals(parent.dominantDType(), child.storedTypes().get(layer(1, FFN_LINEAR)));
        // It runs, and it is not the parent.
        int[] toks = BldFixtures.sequences(1, 7, c.vocabSize(), 1)[0];
        Decoder dc = new Decoder(child), dp = new Decoder(parent);
        float[] a = dc.forward(dc.newState(7), toks, 0, 7, false), b = dp.forward(dp.newState(7), toks, 0, 7, false);
        assertFalse(java.util.Arrays.equals(a, b));

        // Coupled mode takes a whole distilled block when there is one.
        String blockId = new BldJob(1, linearFfn.attention(), linearFfn.ffn()).id();
        Map<String, Tensor> whole = new java.util.LinkedHashMap<>(linear(1, 0.125f, D));
        for (String s : List.of(ATTN_NORM, Q, K, V, O)) whole.put(layer(1, s), parent.tensors().get(layer(1, s)));
        distilled.write(1, blockId, whole);
        Checkpoint coupled = Bld.realize(parent, blocks, run, true);
        assertEquals(0.125f, coupled.tensors().get(layer(1, FFN_LINEAR)).data()[0]);
        assertEquals(0.25f, coupled.tensors().get(layer(2, FFN_LINEAR)).data()[0]);
    }

    @Test
    void aWrongNumberOfBlocksIsRefused(@TempDir Path run) {
        assertThrows(IllegalArgumentException.class, () -> Bld.realize(parent, List.of(c.parentBlock(0)), run, false));
    }
}
