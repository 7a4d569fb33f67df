package dev.puzzle.bld;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Replace-1-block scoring against the metrics' definitions, computed here in double precision. */
class ScorerTest {
    static final Backend B = Backend.cpu();
    final ModelConfig c = BldFixtures.parent(3, null);
    final Checkpoint parent = RandomWeights.of(c, 21);
    final int[][] held = BldFixtures.sequences(3, 10, c.vocabSize(), 8);

    static double[] logSoftmax(float[] x, int off, int n) {
        double m = Double.NEGATIVE_INFINITY, s = 0;
        for (int i = 0; i < n; i++) m = Math.max(m, x[off + i]);
        for (int i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = x[off + i] - m - Math.log(s);
        return out;
    }

    @Test
    void theParentAgainstItselfScoresPerfectly() {
        Scorer.Reference ref = Scorer.run(B, parent, held);
        Map<String, Double> m = Scorer.metrics(B, ref, ref, held, c.vocabSize(), c.dim());
        assertEquals(0.0, m.get(LibraryKeys.KL_DIV), 1e-7);
        assertEquals(1.0, m.get(LibraryKeys.TOP1_AGREEMENT));
        assertEquals(1.0, m.get(LibraryKeys.HIDDEN_COSINE), 1e-9);
        // LM loss: the mean of −log p(next token) over every position that has a next token.
        int V = c.vocabSize();
        double ce = 0;
        int n = 0;
        for (int s = 0; s < held.length; s++) {
            for (int t = 0; t + 1 < held[s].length; t++, n++) ce -= logSoftmax(ref.logits()[s], t * V, V)[held[s][t + 1]];
        }
        assertEquals(ce / n, m.get(LibraryKeys.LM_LOSS), 1e-5);
    }

    @Test
    void aReplacedLayerScoresItsKlAndAgreementByDefinition() {
        int V = c.vocabSize();
        Scorer.Reference ref = Scorer.run(B, parent, held);
        // The parent's own block under its own tensors changes nothing.
        Map<String, Tensor> own = new LinkedHashMap<>();
        parent.tensors().forEach((k, v) -> {
            if (k.startsWith(TensorNames.layer(1, ""))) own.put(k, v);
        });
        Scorer.Reference same = Scorer.run(B, Scorer.replaced(parent, 1, c.parentBlock(1), own), held);
        assertEquals(0.0, Scorer.metrics(B, ref, same, held, V, c.dim()).get(LibraryKeys.KL_DIV), 1e-7);
        // Layer 1 without its FFN.
        Map<String, Tensor> attnOnly = new LinkedHashMap<>(own);
        attnOnly.keySet().removeIf(k -> k.contains(".mlp.") || k.contains("post_attention_layernorm"));
        BlockConfig noFfn = new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.NoOp());
        Checkpoint child = Scorer.replaced(parent, 1, noFfn, attnOnly);
        assertEquals(noFfn, child.config().blocks().get(1));
        Scorer.Reference got = Scorer.run(B, child, held);
        Map<String, Double> m = Scorer.metrics(B, ref, got, held, V, c.dim());
        double kl = 0, agree = 0;
        int n = 0;
        for (int s = 0; s < held.length; s++) {
            for (int t = 0; t < held[s].length; t++, n++) {
                double[] p = logSoftmax(ref.logits()[s], t * V, V), q = logSoftmax(got.logits()[s], t * V, V);
                int ap = 0, aq = 0;
                for (int i = 0; i < V; i++) {
                    kl += Math.exp(p[i]) * (p[i] - q[i]);
                    if (p[i] > p[ap]) ap = i;
                    if (q[i] > q[aq]) aq = i;
                }
                if (ap == aq) agree++;
            }
        }
        assertTrue(kl / n > 1e-4, "dropping an FFN changes the distribution");
        assertEquals(kl / n, m.get(LibraryKeys.KL_DIV), 1e-5 * kl / n + 1e-7);
        assertEquals(agree / n, m.get(LibraryKeys.TOP1_AGREEMENT), 1e-12);
        assertTrue(m.get(LibraryKeys.HIDDEN_COSINE) < 1.0);
    }

    /**
     * A child differing from layer l on is scored from the parent's residual stream entering layer l (the layers before
     * are the parent's): the same logits and hidden states as running the whole child, every layer of it.
     */
    @Test
    void aChildRunFromTheParentsStreamAtItsLayerIsTheWholeChild() {
        Scorer.Prefix prefix = new Scorer.Prefix(B, parent, held);
        for (int l = 0; l < c.numLayers(); l++) {
            Map<String, Tensor> attnOnly = new LinkedHashMap<>();
            final int layer = l;
            parent.tensors().forEach((k, v) -> {
                if (k.startsWith(TensorNames.layer(layer, "")) && !k.contains(".mlp.") && !k.contains("post_attention_layernorm")) attnOnly.put(k, v);
            });
            Checkpoint child = Scorer.replaced(parent, l, new BlockConfig(c.parentBlock(l).attention(), new FfnConfig.NoOp()), attnOnly);
            Scorer.Reference whole = Scorer.run(B, child, held), from = Scorer.runFrom(B, child, prefix.at(l), l, held);
            for (int s = 0; s < held.length; s++) {
                assertArrayEquals(whole.logits()[s], from.logits()[s], 1e-5f, "layer " + l + " sequence " + s);
                assertArrayEquals(whole.hidden()[s], from.hidden()[s], 1e-5f, "layer " + l + " sequence " + s);
            }
        }
        assertThrows(IllegalStateException.class, () -> prefix.at(0), "layers are asked in order");
    }

    /** One candidate per thread only where it pays and fits: a small model on several CPU threads; not one thread, not a wide layer. */
    @Test
    void candidatesAreScoredOnePerThreadOnlyForSmallModels() {
        assertTrue(Scorer.concurrently(Backend.cpu("vector", 2), c, held));
        assertFalse(Scorer.concurrently(Backend.cpu("vector", 1), c, held), "one thread: nothing to share");
        ModelConfig wide = ModelConfig.builder("LlamaForCausalLM").dim(2048).layers(2).heads(16).kvHeads(8).intermediateSize(8192).vocabSize(c.vocabSize())
                .maxSeqLen(64).normEps(1e-5f).ropeTheta(10000f).ropeStyle(dev.puzzle.core.model.RopeStyle.INTERLEAVED).tiedEmbeddings(false).qkvBias(false).build();
        assertFalse(Scorer.concurrently(Backend.cpu("vector", 2), wide, held), "a 1B-class layer: one candidate at a time");
        int[][] long_ = new int[8][4096];
        ModelConfig bigVocab = ModelConfig.builder("LlamaForCausalLM").dim(64).layers(2).heads(4).kvHeads(4).intermediateSize(128).vocabSize(32000)
                .maxSeqLen(4096).normEps(1e-5f).ropeTheta(10000f).ropeStyle(dev.puzzle.core.model.RopeStyle.INTERLEAVED).tiedEmbeddings(false).qkvBias(false).build();
        assertFalse(Scorer.concurrently(Backend.cpu("vector", 2), bigVocab, long_), "held-out logits of 1 GiB: one candidate at a time");
    }
}
