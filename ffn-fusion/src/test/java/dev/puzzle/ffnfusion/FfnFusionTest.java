package dev.puzzle.ffnfusion;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class FfnFusionTest {
    static final ModelConfig C = new ModelConfig("LlamaForCausalLM", 16, 4, 4, 2, 24, 30, 32, 1e-5f, 1e4f, RopeStyle.HALF_SPLIT, false, false,
            List.of(BlockConfig.parent(2, 24), BlockConfig.parent(2, 12), BlockConfig.parent(2, 20), BlockConfig.parent(2, 24)));

    @Test
    void theFusedFfnIsExactlyTheSumOfTheParallelFfnsOnOneInput() {
        Map<String, Tensor> w = RandomWeights.of(C, 3).tensors();
        Random r = new Random(4);
        int N = 7, D = 16;
        float[] x = new float[N * D];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        BlockOps ops = new BlockOps(C, w, "parent", Backend.cpu());
        double[] sum = new double[N * D];
        for (int l = 1; l <= 3; l++) {
            float[] y = ops.ffn(l, C.parentBlock(l).ffn()).forward(x.clone(), 1, N).out(); // each FFN with its own norm, on the same input
            for (int i = 0; i < y.length; i++) sum[i] += y[i];
        }
        List<BlockConfig> blocks = FfnFusion.blocks(C, 1, 3);
        assertEquals(new FfnConfig.Dense(56), blocks.get(0).ffn());
        assertEquals(new AttentionConfig.Gqa(2), blocks.get(0).attention());
        assertEquals(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp()), blocks.get(2));
        Map<String, Tensor> fused = FfnFusion.fuse(C, w, 1, 3);
        ModelConfig child = C.withBlocks(List.of(C.parentBlock(0), blocks.get(0), blocks.get(1), blocks.get(2)));
        float[] got = new BlockOps(child, fused, "fused", Backend.cpu()).ffn(1, blocks.get(0).ffn()).forward(x.clone(), 1, N).out();
        for (int i = 0; i < got.length; i++) assertEquals(sum[i], got[i], 1e-6 * Math.max(1, Math.abs(sum[i])), "element " + i);
    }

    @Test
    void dependencyIsZeroForAnFfnReadingItsOwnInputAndPositiveOtherwise() {
        Map<String, Tensor> w = RandomWeights.of(C, 5).tensors();
        Random r = new Random(6);
        int N = 20, D = 16;
        float[][] in = new float[4][N * D];
        for (float[] a : in) for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        in[2] = in[1].clone(); // layer 2's FFN reads exactly what layer 1's does
        double[][] dep = FfnFusion.dependency(Backend.cpu(), C, w, in, N);
        assertEquals(0, dep[1][2], 1e-12);
        assertTrue(dep[0][1] > 0.05 && dep[2][3] > 0.05, java.util.Arrays.deepToString(dep));
        assertEquals(0, dep[2][1]);
        assertEquals(Math.max(dep[1][3], Math.max(dep[1][2], dep[2][3])), FfnFusion.runDependency(dep, 1, 3));
    }

    @Test
    void aRunCrossingTheModelsEndIsRefused() {
        PuzzleException e = assertThrows(PuzzleException.class, () -> FfnFusion.blocks(C, 2, 4));
        assertTrue(e.getMessage().contains("2-4") && e.getMessage().contains("0..3"), e.getMessage());
        assertThrows(PuzzleException.class, () -> FfnFusion.blocks(C, 1, 1));
    }
}
