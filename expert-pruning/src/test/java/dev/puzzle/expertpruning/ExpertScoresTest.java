package dev.puzzle.expertpruning;

import dev.puzzle.blocklibrary.CandidateInit;
import dev.puzzle.blocklibrary.ExpertScoring;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.MoeOp;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.puzzle.core.io.TensorNames.*;
import static org.junit.jupiter.api.Assertions.*;

/** The expert scorers on hand-made MoE layers whose right answers are known by construction. */
class ExpertScoresTest {
    static final int D = 6, I = 5, E = 4, N = 400;

    /**
     * Router rows: expert 0 = 3·u, expert 1 = −3·u, expert 2 = 3·v (u, v unit axes), expert 3 = 0. For
     * every token max(3u·h, −3u·h) > 0 = expert 3's logit, so with top-1 no token ever routes to expert
     * 3. Expert 0's down projection is scaled by {@code down0}.
     */
    static Map<String, Tensor> moeLayer(float down0, Random r) {
        Map<String, Tensor> w = new LinkedHashMap<>();
        float[] norm = new float[D];
        java.util.Arrays.fill(norm, 1f);
        w.put(layer(0, FFN_NORM), new Tensor(norm, D));
        float[] router = new float[E * D];
        router[0] = 3f;
        router[D] = -3f;
        router[2 * D + 1] = 3f;
        w.put(layer(0, ROUTER), new Tensor(router, E, D));
        for (int e = 0; e < E; e++) {
            w.put(layer(0, expert(e, EXPERT_GATE)), gauss(r, 1f, I, D));
            w.put(layer(0, expert(e, EXPERT_UP)), gauss(r, 1f, I, D));
            w.put(layer(0, expert(e, EXPERT_DOWN)), gauss(r, e == 0 ? down0 : 1f, D, I));
        }
        return w;
    }

    static Tensor gauss(Random r, float scale, int... shape) {
        float[] a = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian() * scale;
        return new Tensor(a, shape);
    }

    static ModelConfig config(FfnConfig.Moe m) {
        return new ModelConfig("MixtralForCausalLM", D, 3, 2, 3, I, 10, 16, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, false, false,
                List.of(new BlockConfig(new AttentionConfig.Gqa(3), m)));
    }

    static MoeOp op(FfnConfig.Moe m, Map<String, Tensor> w) {
        return new BlockOps(config(m), w, "hand-made", Backend.cpu()).moe(0, m);
    }

    static float[] tokens(Random r) {
        float[] x = new float[N * D];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static int rank(double[] s, int e) { // 0 = highest score
        int k = 0;
        for (int j = 0; j < s.length; j++) if (s[j] > s[e] || (s[j] == s[e] && j < e)) k++;
        return k;
    }

    @Test
    void anExpertNoTokenReachesRanksLastForEveryMethod() {
        Random r = new Random(1);
        FfnConfig.Moe m = new FfnConfig.Moe(E, 1, I, true, 0);
        MoeOp op = op(m, moeLayer(1f, r));
        float[] x = tokens(r);
        for (ExpertScoring method : ExpertScoring.values()) {
            double[] s = ExpertScores.score(op, method, x, N);
            assertEquals(E - 1, rank(s, 3), method + ": " + java.util.Arrays.toString(s));
        }
        assertEquals(0.0, ExpertScores.score(op, ExpertScoring.FREQUENCY, x, N)[3]);
        assertEquals(0.0, ExpertScores.score(op, ExpertScoring.REAP, x, N)[3]);
        assertEquals(0.0, ExpertScores.score(op, ExpertScoring.REROUTE, x, N)[3], 1e-12, "removing it changes nothing");
        double[] f = ExpertScores.score(op, ExpertScoring.FREQUENCY, x, N);
        assertEquals(1.0, f[0] + f[1] + f[2] + f[3], 1e-9, "top-1: every token counted once");
    }

    @Test
    void aFrequentExpertWithANearZeroOutputRanksLowForReapButNotForFrequency() {
        Random r = new Random(2);
        FfnConfig.Moe m = new FfnConfig.Moe(E, 1, I, true, 0);
        MoeOp op = op(m, moeLayer(1e-4f, r));
        float[] x = tokens(r);
        double[] freq = ExpertScores.score(op, ExpertScoring.FREQUENCY, x, N);
        double[] reap = ExpertScores.score(op, ExpertScoring.REAP, x, N);
        assertTrue(freq[0] > 0.2, "expert 0 takes about a third of the tokens: " + freq[0]);
        assertTrue(rank(freq, 0) <= 1, "frequency ranks it high: " + java.util.Arrays.toString(freq));
        assertEquals(2, rank(reap, 0), "REAP ranks it just above the unused expert: " + java.util.Arrays.toString(reap));
        assertTrue(reap[0] < 1e-2 * Math.min(reap[1], reap[2]), java.util.Arrays.toString(reap));
        assertArrayEquals(new int[]{1, 2}, ExpertScores.keep(reap, 2));
        assertArrayEquals(new int[]{0, 1, 2}, ExpertScores.keep(freq, 3));
    }

    @Test
    void rankedChoiceMovesTheVotesOfADroppedExpertToTheNextPreference() {
        // Four tokens over three experts (top-1). First preferences: A A B C → C (1 vote) drops first;
        // its token prefers B next, so B (2) ties A (2); A holds more probability mass and stays.
        float[] p = {
                0.6f, 0.3f, 0.1f,
                0.6f, 0.1f, 0.3f,
                0.1f, 0.6f, 0.3f,
                0.1f, 0.35f, 0.55f};
        double[] s = ExpertScores.rankedChoice(p, 4, 3, 1);
        assertArrayEquals(new double[]{3, 2, 1}, s);
        // Plain frequency would tie B and C at one vote each; ranked choice separates them by the transfer.
    }

    @Test
    void aCandidateSlicedToTheKeptExpertsEqualsTheParentLayerWithTheOthersMaskedAndRerouted() {
        Random r = new Random(3);
        FfnConfig.Moe m = new FfnConfig.Moe(E, 2, I, false, 0);
        Map<String, Tensor> w = moeLayer(1f, r);
        MoeOp parent = op(m, w);
        float[] x = tokens(r);
        int[] keep = {0, 2, 3};
        Map<String, Tensor> sliced = CandidateInit.experts(w, 0, m, keep);
        assertEquals(3, sliced.get(TensorNames.layer(0, ROUTER)).dim(0));
        MoeOp child = op(m.withExperts(3), sliced);
        float[] h = parent.normed(x, new float[N], N);
        float[] masked = parent.mixture(h, parent.route(h, N, new boolean[]{false, true, false, false}), N);
        float[] got = child.mixture(child.normed(x, new float[N], N), child.route(h, N), N);
        for (int i = 0; i < got.length; i++) assertEquals(masked[i], got[i], 1e-5, "element " + i);
    }

    @Test
    void methodsParseFromTheirConfigNames() {
        assertEquals(ExpertScoring.RANKED_CHOICE, ExpertScoring.parse("ranked_choice"));
        assertNull(ExpertScoring.parse("votes"));
    }
}
