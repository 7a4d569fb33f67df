package dev.puzzle.core;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.GqaAttentionOp;
import dev.puzzle.core.ops.LinearOp;
import dev.puzzle.core.ops.NoOp;
import dev.puzzle.core.ops.SwiGluOp;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.train.TrainableModel;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every variant is one op: its training forward over whole sequences equals its inference step run
 * token by token against its own KV state, and the decoder and the trainable model built from the same
 * factory give the same logits.
 */
class BlockOpTest {
    static final Backend B = Backend.cpu();

    @Test
    void trainingForwardEqualsInferenceStepForEveryVariant() {
        for (boolean bias : new boolean[]{false, true}) {
            ModelConfig c = HeterogeneousModelTest.sixLayers(bias, true);
            Checkpoint ck = HeterogeneousModelTest.randomModel(c, 3);
            BlockOps factory = new BlockOps(c, ck.tensors(), ck.source(), B);
            int S = 2, T = 11, D = c.dim();
            Random r = new Random(5);
            float[] x = new float[S * T * D];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            for (int l = 0; l < c.numLayers(); l++) {
                BlockConfig b = c.blocks().get(l);
                for (BlockOp op : List.of(factory.attention(l, b.attention()), factory.ffn(l, b.ffn()))) {
                    float[] f = op.forward(x, S, T).out();
                    for (int s = 0; s < S; s++) {
                        BlockOp.State st = op.newState(T);
                        for (int t = 0; t < T; t++) {
                            float[] row = new float[D];
                            System.arraycopy(x, (s * T + t) * D, row, 0, D);
                            op.step(st, row, 1, t);
                            for (int i = 0; i < D; i++) {
                                float want = x[(s * T + t) * D + i] + f[(s * T + t) * D + i];
                                assertEquals(want, row[i], 1e-5 * (1 + Math.abs(want)), "layer " + l + " " + op.getClass().getSimpleName() + " seq " + s + " pos " + t);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void theFactoryBuildsOneOpPerVariant() {
        ModelConfig c = HeterogeneousModelTest.sixLayers(false, true);
        Checkpoint ck = HeterogeneousModelTest.randomModel(c, 3);
        BlockOps f = new BlockOps(c, ck.tensors(), ck.source(), B);
        assertInstanceOf(GqaAttentionOp.class, f.attention(0, c.blocks().get(0).attention()));
        GqaAttentionOp w = (GqaAttentionOp) f.attention(1, c.blocks().get(1).attention());
        assertEquals(5, w.window());
        assertEquals(1, w.kvHeads());
        assertInstanceOf(LinearOp.class, f.attention(2, c.blocks().get(2).attention()));
        assertInstanceOf(LinearOp.class, f.ffn(2, c.blocks().get(2).ffn()));
        assertSame(NoOp.INSTANCE, f.attention(3, c.blocks().get(3).attention()));
        assertEquals(33, ((SwiGluOp) f.ffn(3, c.blocks().get(3).ffn())).width());
        assertSame(NoOp.INSTANCE, f.ffn(4, c.blocks().get(4).ffn()));
        // A tensor of the wrong shape is named with its source.
        BlockOps wrong = new BlockOps(c, ck.tensors(), "m.safetensors", B);
        String m = assertThrows(PuzzleException.class, () -> wrong.ffn(0, new dev.puzzle.core.model.FfnConfig.Dense(47))).getMessage();
        assertTrue(m.contains("m.safetensors") && m.contains("model.layers.0.mlp.gate_proj.weight") && m.contains("[47, 32]"), m);
    }

    @Test
    void decoderAndTrainableModelAgree() {
        ModelConfig c = HeterogeneousModelTest.sixLayers(true, false);
        Checkpoint ck = HeterogeneousModelTest.randomModel(c, 9);
        int T = 17, V = c.vocabSize();
        int[] toks = HeterogeneousModelTest.tokens(T, V, 2);
        Decoder d = new Decoder(ck, B);
        float[] inference = d.forward(d.newState(T), toks, 0, T, true);
        float[] training = new TrainableModel(ck, B).forward(toks, 1, T).logits();
        assertEquals(inference.length, training.length);
        for (int i = 0; i < training.length; i++) assertEquals(training[i], inference[i], 1e-4, "logit " + i);
    }
}
