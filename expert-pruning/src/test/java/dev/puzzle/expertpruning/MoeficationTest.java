package dev.puzzle.expertpruning;

import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.MoeOp;
import dev.puzzle.core.ops.Ops;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import static dev.puzzle.core.io.TensorNames.*;
import static org.junit.jupiter.api.Assertions.*;

class MoeficationTest {
    @Test
    void theExpertsPartitionTheNeuronsAndTogetherAreTheDenseFfn() {
        int D = 16, F = 24, E = 4, K = 2, N = 200;
        ModelConfig dense = ModelConfig.builder("LlamaForCausalLM").dim(D).layers(1).heads(2).kvHeads(2).intermediateSize(F).vocabSize(10).maxSeqLen(8).normEps(1e-5f).ropeTheta(1e4f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(false).qkvBias(false).build();
        Map<String, Tensor> w = RandomWeights.of(dense, 5).tensors();
        Random r = new Random(6);
        float[] x = new float[N * D];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        Ops ops = new Ops(Backend.cpu().kernels());
        float[] h = new float[N * D];
        ops.rmsnormForward(h, new float[N], x, w.get(layer(0, FFN_NORM)).data(), N, D, 1e-5f);
        Map<String, Tensor> moe = Moefication.split(Backend.cpu(), w, 0, h, N, E, K, 1);
        assertEquals(E, moe.get(layer(0, ROUTER)).dim(0));
        // Every neuron is in exactly one expert: the gate rows of the experts are the dense rows, permuted.
        float[][] rows = new float[F][];
        int seen = 0;
        for (int e = 0; e < E; e++) {
            Tensor g = moe.get(layer(0, expert(e, EXPERT_GATE)));
            assertArrayEquals(new int[]{F / E, D}, g.shape());
            for (int j = 0; j < F / E; j++) rows[seen++] = Arrays.copyOfRange(g.data(), j * D, (j + 1) * D);
        }
        float[] dg = w.get(layer(0, GATE)).data();
        boolean[] used = new boolean[F];
        for (float[] row : rows) {
            int found = -1;
            for (int n = 0; n < F; n++) if (!used[n] && Arrays.equals(row, Arrays.copyOfRange(dg, n * D, (n + 1) * D))) found = n;
            assertTrue(found >= 0, "an expert row that is no dense neuron");
            used[found] = true;
        }
        // Σ_e expert_e(h) / k (the down projections carry a factor k) = the dense FFN.
        ModelConfig mc = dense.withBlocks(java.util.List.of(new dev.puzzle.core.model.BlockConfig(dense.blocks().get(0).attention(), Moefication.config(F, E, K))));
        MoeOp op = new BlockOps(mc, moe, "split", Backend.cpu()).moe(0, Moefication.config(F, E, K));
        float[] sum = new float[N * D];
        for (int e = 0; e < E; e++) {
            float[] y = op.expertOutput(e, h, N);
            for (int i = 0; i < y.length; i++) sum[i] += y[i] / K;
        }
        BlockOp denseOp = new BlockOps(dense, w, "dense", Backend.cpu()).ffn(0, new FfnConfig.Dense(F));
        float[] want = denseOp.forward(x, 1, N).out();
        for (int i = 0; i < want.length; i++) assertEquals(want[i], sum[i], 1e-5 * Math.max(1, Math.abs(want[i])), "element " + i);
    }
}
