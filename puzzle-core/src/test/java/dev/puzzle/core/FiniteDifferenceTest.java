package dev.puzzle.core;

import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.Param;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.train.TrainableModel;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.*;

/** Analytic gradients against central finite differences, for every op, on a model unlike the PyTorch fixture's. */
class FiniteDifferenceTest {
    static final Losses LOSSES = new Losses(Backend.cpu().kernels());

    static final int S = 2, T = 6;

    /** Central difference of f at p.w[i]; compares with the analytic gradient. */
    static void check(Param p, int i, DoubleSupplier f, double analytic, String what) {
        float old = p.w[i];
        float h = 1e-2f * Math.max(1f, Math.abs(old));
        p.w[i] = old + h;
        double up = f.getAsDouble();
        p.w[i] = old - h;
        double down = f.getAsDouble();
        p.w[i] = old;
        double fd = (up - down) / (2 * h);
        assertEquals(fd, analytic, 2e-2 * Math.max(1e-2, Math.abs(fd)) + 2e-4, what + " " + p.name + "[" + i + "]");
    }

    /** Random inputs and targets (vocabulary 9): the model's gradients of the cross-entropy, and the loss as a function of its weights. */
    static DoubleSupplier backpropagate(TrainableModel m, Random r) {
        int[] in = new int[S * T], target = new int[S * T];
        for (int i = 0; i < in.length; i++) {
            in[i] = r.nextInt(9);
            target[i] = r.nextInt(9);
        }
        m.zeroGrad();
        var sv = m.forward(in, S, T);
        float[] dl = new float[S * T * 9];
        m.crossEntropy(sv.logits(), target, 9, dl);
        m.backward(sv, dl);
        return () -> m.crossEntropy(m.forward(in, S, T).logits(), target, 9, new float[S * T * 9]);
    }

    @Test
    void everyParameterOfAHeterogeneousModel() {
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Gqa(1), new FfnConfig.Dense(20)),
                new BlockConfig(new AttentionConfig.Window(2, 2), new FfnConfig.Linear()),
                new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.Dense(9)),
                new BlockConfig(new AttentionConfig.Mamba2(4, 3, 4, 2, 3), new FfnConfig.Dense(9)),
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(7)));
        ModelConfig c = new ModelConfig("LlamaForCausalLM", 12, 2, 6, 2, 20, 9, 32, 1e-5f, 100f, RopeStyle.INTERLEAVED, true, false, blocks);
        Checkpoint ck = RandomWeights.of(c, 5);
        TrainableModel m = new TrainableModel(ck, Backend.cpu());
        Random r = new Random(3);
        DoubleSupplier loss = backpropagate(m, r);
        int checked = 0;
        for (Param p : m.params()) {
            for (int k = 0; k < 4; k++) {
                int i = r.nextInt(p.w.length);
                check(p, i, loss, p.grad()[i], "cross-entropy");
                checked++;
            }
        }
        assertTrue(checked >= 4 * 32, "every parameter tensor sampled (the Mamba-2 mixer's nine and the squared-ReLU MLP's three too): " + checked);
    }

    /** Qwen3's per-head q/k norms and a MoE layer with a shared expert (top-k = every expert: no selection flips under the differences). */
    @Test
    void qkNormsAndAMixtureOfExpertsWithASharedExpert() {
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Gqa(1), new FfnConfig.Moe(3, 3, 7, false, 5)),
                new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Moe(3, 3, 4, true, 0)));
        ModelConfig c = new ModelConfig("Qwen3MoeForCausalLM", 12, 2, 8, 2, 7, 9, 32, 1e-5f, 100f, RopeStyle.HALF_SPLIT, true, false, blocks, true);
        TrainableModel m = new TrainableModel(RandomWeights.of(c, 8), Backend.cpu());
        Random r = new Random(4);
        DoubleSupplier loss = backpropagate(m, r);
        java.util.Set<String> kinds = new java.util.TreeSet<>();
        for (Param p : m.params()) {
            for (int k = 0; k < 4; k++) {
                int i = r.nextInt(p.w.length);
                check(p, i, loss, p.grad()[i], "cross-entropy");
            }
            kinds.add(p.name.replaceAll("model\\.layers\\.\\d+\\.", "").replaceAll("experts\\.\\d+", "experts.E"));
        }
        for (String want : List.of("self_attn.q_norm.weight", "self_attn.k_norm.weight", "mlp.gate.weight", "mlp.experts.E.down_proj.weight",
                "mlp.shared_expert.up_proj.weight", "mlp.shared_expert_gate.weight")) {
            assertTrue(kinds.contains(want), want + " checked: " + kinds);
        }
    }

    @Test
    void lossGradients() {
        Random r = new Random(9);
        float[] p = new float[7], q = new float[7], y = new float[20], yh = new float[20];
        for (int i = 0; i < 7; i++) {
            p[i] = (float) r.nextGaussian();
            q[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < 20; i++) {
            y[i] = (float) r.nextGaussian();
            yh[i] = (float) r.nextGaussian();
        }
        float[] dq = new float[7];
        LOSSES.klBackward(p, 0, q, 0, 7, dq, 0, 1f);
        float[] dy = new float[20];
        Losses.normalizedMse(yh, y, dy);
        for (int i = 0; i < 7; i++) {
            float old = q[i];
            q[i] = old + 1e-3f;
            double up = LOSSES.kl(p, 0, q, 0, 7);
            q[i] = old - 1e-3f;
            double down = LOSSES.kl(p, 0, q, 0, 7);
            q[i] = old;
            assertEquals((up - down) / 2e-3, dq[i], 2e-3, "d KL / dq[" + i + "]");
        }
        for (int i = 0; i < 20; i++) {
            float old = yh[i];
            yh[i] = old + 1e-3f;
            double up = Losses.normalizedMse(yh, y, null);
            yh[i] = old - 1e-3f;
            double down = Losses.normalizedMse(yh, y, null);
            yh[i] = old;
            assertEquals((up - down) / 2e-3, dy[i], 1e-3, "d nMSE / dŷ[" + i + "]");
        }
        assertEquals(0.0, Losses.normalizedMse(y, y, null), 0.0);
        assertEquals(1.0, Losses.normalizedMse(new float[20], y, null), 1e-12, "predicting nothing costs exactly 1");
        assertEquals(0.0, LOSSES.kl(p, 0, p, 0, 7), 1e-7);
    }
}
