package dev.puzzle.bld;

import dev.puzzle.blocklibrary.CandidateInit;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * BLD on one candidate: the losses it reports are the normalized MSE of the weights it returns, measured
 * here independently; training lowers it; a run that ends worse hands back the initialization.
 */
class BldTrainerTest {
    static final Backend B = Backend.cpu();
    static ModelConfig c;
    static Checkpoint parent;
    static ActivationCache.Layer layer;

    @BeforeAll
    static void cache(@TempDir Path tmp) throws Exception {
        c = BldFixtures.parent(2, null);
        parent = RandomWeights.of(c, 11);
        ActivationCache cache = new ActivationCache(tmp);
        cache.build(B, parent, BldFixtures.sequences(8, 16, c.vocabSize(), 5), DType.F32, null);
        layer = cache.read(0);
    }

    /** ‖y − ŷ‖² / ‖y‖² of the FFN op over every cached row, y the parent FFN's contribution. */
    static double ffnLoss(Map<String, Tensor> w, FfnConfig f) {
        BlockOp op = new BlockOps(c, w, "test", B).ffn(0, f);
        float[] out = op.forward(layer.mid(), layer.S(), layer.T()).out();
        double num = 0, den = 0;
        for (int i = 0; i < out.length; i++) {
            double y = layer.output()[i] - layer.mid()[i];
            num += (out[i] - y) * (out[i] - y);
            den += y * y;
        }
        return num / den;
    }

    static Map<String, Tensor> init(FfnConfig f) {
        int N = layer.rows();
        float[] y = new float[layer.output().length];
        for (int i = 0; i < y.length; i++) y[i] = layer.output()[i] - layer.mid()[i];
        return CandidateInit.ffn(B, c, parent.tensors(), 0, f, layer.mid(), y, N);
    }

    static Map<String, float[]> snapshot(Map<String, Tensor> w) {
        Map<String, float[]> m = new LinkedHashMap<>();
        w.forEach((k, v) -> m.put(k, v.data().clone()));
        return m;
    }

    @Test
    void trainingLowersTheLossItReports() {
        FfnConfig narrow = new FfnConfig.Dense(16);
        Map<String, Tensor> init = init(narrow);
        Map<String, float[]> untouched = snapshot(init);
        BldSettings st = new BldSettings(false, 8 * 16 * 40, 4, 3e-3, 0.1, 0.0, 1.0, 1);
        BldTrainer.Result r = BldTrainer.train(B, c, new BldJob(0, null, narrow), init, layer, st);
        BldTrainer.Curve curve = r.curve();
        assertEquals(ffnLoss(init, narrow), curve.before(), 1e-6 * curve.before());
        assertEquals(ffnLoss(r.weights(), narrow), curve.after(), 1e-6 * curve.after());
        assertFalse(curve.keptInit());
        assertTrue(curve.after() < 0.8 * curve.before(), curve.before() + " -> " + curve.after());
        assertEquals(st.tokens() / (4 * 16), curve.steps().length);
        double head = 0, tail = 0;
        for (int i = 0; i < 5; i++) {
            head += curve.steps()[i];
            tail += curve.steps()[curve.steps().length - 1 - i];
        }
        assertTrue(tail < head, "late steps lose less than early ones");
        untouched.forEach((k, v) -> assertArrayEquals(v, init.get(k).data(), k + ": the initialization is copied, not trained in place"));
    }

    @Test
    void aRunThatEndsWorseKeepsTheInitialization() {
        FfnConfig linear = new FfnConfig.Linear(); // least squares: the optimum of this loss already
        Map<String, Tensor> init = init(linear);
        BldSettings wild = new BldSettings(false, 8 * 16 * 4, 4, 0.5, 0.0, 0.0, 1.0, 1);
        BldTrainer.Result r = BldTrainer.train(B, c, new BldJob(0, null, linear), init, layer, wild);
        assertTrue(r.curve().keptInit());
        assertEquals(r.curve().before(), r.curve().after());
        init.forEach((k, v) -> assertArrayEquals(v.data(), r.weights().get(k).data(), k));
    }

    @Test
    void aNoOpCandidateHasNothingToTrainAndLosesEverything() {
        BldTrainer.Result r = BldTrainer.train(B, c, new BldJob(0, new AttentionConfig.NoOp(), null), Map.of(), layer,
                new BldSettings(false, 64, 4, 1e-3, 0.0, 0.0, 1.0, 1));
        assertEquals(1.0, r.curve().before(), 1e-12, "predicting no contribution costs exactly 1");
        assertEquals(1.0, r.curve().after(), 1e-12);
        assertTrue(r.weights().isEmpty());
    }
}
