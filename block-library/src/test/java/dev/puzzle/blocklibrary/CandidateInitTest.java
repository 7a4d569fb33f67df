package dev.puzzle.blocklibrary;

import dev.puzzle.core.ops.Ops;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.config.ConfigNode;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.puzzle.core.io.TensorNames.*;
import static org.junit.jupiter.api.Assertions.*;

/** Child initialization from the parent, checked against values computed here by definition, and the search space. */
class CandidateInitTest {
    static final ModelConfig C = ModelConfig.builder("LlamaForCausalLM").dim(16).layers(2).heads(4).kvHeads(4).intermediateSize(24).vocabSize(30).maxSeqLen(64).normEps(1e-5f).ropeTheta(1e4f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(true).qkvBias(false).build();
    static final Map<String, Tensor> W = RandomWeights.of(C, 3).tensors();

    static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Test
    void leastSquaresRecoversAKnownLinearMap() {
        Random r = new Random(1);
        int N = 400, D = 16;
        float[] x = randn(r, N * D), wTrue = randn(r, D * D), h = new float[N * D], y = new float[N * D];
        float[] norm = W.get(layer(1, FFN_NORM)).data();
        new Ops(Backend.cpu().kernels()).rmsnormForward(h, new float[N], x, norm, N, D, C.normEps());
        new Ops(Backend.cpu().kernels()).linearForward(y, h, new Tensor(wTrue, D, D), null, N, D, D);
        Map<String, Tensor> t = CandidateInit.ffn(Backend.cpu(), C, W, 1, new FfnConfig.Linear(), x, y, N);
        float[] w = t.get(layer(1, FFN_LINEAR)).data();
        for (int i = 0; i < w.length; i++) assertEquals(wTrue[i], w[i], 2e-3, "W[" + i + "]");
        assertArrayEquals(norm, t.get(layer(1, FFN_NORM)).data(), "the parent's norm is kept");
    }

    @Test
    void kvHeadsAreMeanPooledInGroups() {
        Map<String, Tensor> t = CandidateInit.attention(Backend.cpu(), C, W, 0, new AttentionConfig.Gqa(2), null, null, 0);
        int E = 4, D = 16;
        float[] k = W.get(layer(0, K)).data(), v = W.get(layer(0, V)).data(), k2 = t.get(layer(0, K)).data(), v2 = t.get(layer(0, V)).data();
        assertEquals(2 * E * D, k2.length);
        for (int g = 0; g < 2; g++) {
            for (int i = 0; i < E * D; i++) {
                assertEquals((k[(2 * g) * E * D + i] + k[(2 * g + 1) * E * D + i]) / 2, k2[g * E * D + i], 1e-6);
                assertEquals((v[(2 * g) * E * D + i] + v[(2 * g + 1) * E * D + i]) / 2, v2[g * E * D + i], 1e-6);
            }
        }
        assertArrayEquals(W.get(layer(0, Q)).data(), t.get(layer(0, Q)).data(), "queries are kept");
        assertThrows(PuzzleException.class, () -> CandidateInit.attention(Backend.cpu(), C, W, 0, new AttentionConfig.Gqa(3), null, null, 0));
        assertTrue(CandidateInit.attention(Backend.cpu(), C, W, 0, new AttentionConfig.NoOp(), null, null, 0).isEmpty());
    }

    @Test
    void ffnKeepsTheChannelsThatContributeMost() {
        Random r = new Random(2);
        int N = 64, D = 16, F = 24;
        // Make channels 5 and 17 dominant: large down-projection columns.
        Map<String, Tensor> w = new java.util.LinkedHashMap<>(W);
        Tensor down = W.get(layer(0, DOWN)).copy();
        for (int i = 0; i < D; i++) {
            down.data()[i * F + 5] *= 50;
            down.data()[i * F + 17] *= 50;
        }
        w.put(layer(0, DOWN), down);
        float[] x = randn(r, N * D);
        int[] keep = CandidateInit.topChannels(new Ops(Backend.cpu().kernels()), C, w.get(layer(0, FFN_NORM)).data(), w.get(layer(0, GATE)), w.get(layer(0, UP)), down, x, N, 2);
        assertArrayEquals(new int[]{5, 17}, keep);
        Map<String, Tensor> t = CandidateInit.ffn(Backend.cpu(), C, w, 0, new FfnConfig.Dense(2), x, null, N);
        assertArrayEquals(new int[]{2, 16}, t.get(layer(0, GATE)).shape());
        assertArrayEquals(new int[]{16, 2}, t.get(layer(0, DOWN)).shape());
        // The pruned FFN computes exactly the parent's FFN restricted to those two channels.
        for (int i = 0; i < D; i++) {
            assertEquals(down.data()[i * F + 5], t.get(layer(0, DOWN)).data()[i * 2], 0f);
            assertEquals(down.data()[i * F + 17], t.get(layer(0, DOWN)).data()[i * 2 + 1], 0f);
        }
        for (int j = 0; j < D; j++) assertEquals(w.get(layer(0, GATE)).data()[17 * D + j], t.get(layer(0, GATE)).data()[D + j], 0f);
    }

    static ConfigNode yaml(String s) {
        return ConfigNode.parse("space.yaml", new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void searchSpaceEnumeratesParentFirstWithStableNames() {
        SearchSpace s = SearchSpace.parse(yaml("{attention: {kv_heads: [2, 1], window: [8], no_op: true}, ffn: {widths: [0.5, 6], linear: true},"
                + " overrides: [{layers: [0], ffn: {widths: [1.0]}}]}"), C);
        List<SearchSpace.Candidate> l1 = s.candidates(C, 1);
        // attention: parent gqa4, gqa2, gqa1, window 8 × (kv 2, 1), no-op = 6; FFN: parent 24, 12, 6, linear = 4.
        assertEquals(24, l1.size());
        assertEquals("attention = gqa 4 kv heads (parent * 100%) && ffn = dense 24 (parent * 100%)", l1.get(0).name());
        assertTrue(l1.stream().anyMatch(c -> c.name().equals("attention = window 8, 1 kv heads && ffn = dense 6 (parent * 25%)")));
        assertEquals(6, s.candidates(C, 0).size(), "layer 0 keeps the parent's FFN only");
        String m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{attention: {kv_heads: [8]}}"), C)).getMessage();
        assertTrue(m.contains("attention.kv_heads") && m.contains("8"), m);
        m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{ffn: {widths: [30]}}"), C)).getMessage();
        assertTrue(m.contains("ffn.widths") && m.contains("30") && m.contains("larger than the parent"), m);
        m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{ffn: {widhts: [0.5]}}"), C)).getMessage();
        assertTrue(m.contains("ffn.widhts") && m.contains("unknown key"), m);
    }

    @Test
    void moeSearchSpaceListsExpertCountsForMoeLayersAndRefusesBadValues() {
        ModelConfig moe = new ModelConfig("MixtralForCausalLM", C.dim(), C.numHeads(), C.headDim(), C.numKvHeads(), 3, C.vocabSize(), C.maxSeqLen(),
                C.normEps(), C.ropeTheta(), C.ropeStyle(), false, false,
                java.util.Collections.nCopies(2, new dev.puzzle.core.model.BlockConfig(new dev.puzzle.core.model.AttentionConfig.Gqa(C.numKvHeads()),
                        new FfnConfig.Moe(8, 2, 3, true, 0))));
        SearchSpace s = SearchSpace.parse(yaml("{moe: {experts: [0.5, 3, 1], top_k: [2, 1], scoring: ranked_choice}, ffn: {no_op: true}}"), moe);
        assertEquals(ExpertScoring.RANKED_CHOICE, s.expertScoring());
        java.util.List<String> names = s.candidates(moe, 1).stream().map(c -> c.block().toString()).toList();
        assertEquals(java.util.List.of("attn=gqa" + C.numKvHeads() + " ffn=moe8x3_top2", "attn=gqa" + C.numKvHeads() + " ffn=moe3x3_top2",
                "attn=gqa" + C.numKvHeads() + " ffn=moe3x3_top1", "attn=gqa" + C.numKvHeads() + " ffn=moe4x3_top2",
                "attn=gqa" + C.numKvHeads() + " ffn=moe4x3_top1", "attn=gqa" + C.numKvHeads() + " ffn=moe8x3_top1", // 1 is the ratio 1.0, as for widths
                "attn=gqa" + C.numKvHeads() + " ffn=no_op"), names);
        for (var c : s.candidates(moe, 1)) assertEquals(c.block(), BlockNames.parse(c.name()).orElseThrow(), c.name());
        String m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{moe: {experts: [9]}}"), moe)).getMessage();
        assertTrue(m.contains("experts") && m.contains("9") && m.contains("8 experts"), m);
        m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{moe: {experts: [0.5], scoring: votes}}"), moe)).getMessage();
        assertTrue(m.contains("scoring") && m.contains("votes"), m);
        m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{moe: {experts: [0.5]}}"), C)).getMessage();
        assertTrue(m.contains("no mixture-of-experts layer"), m);
    }

    @Test
    void ffnFusionSettingsAreCheckedAgainstTheParent() {
        SearchSpace s = SearchSpace.parse(yaml("{ffn_fusion: {max_run: 2, threshold: 0.4}}"), C);
        assertEquals(2, s.fusionMaxRun());
        assertEquals(0.4, s.fusionThreshold());
        assertEquals(0, SearchSpace.parse(yaml("{}"), C).fusionMaxRun());
        String m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{ffn_fusion: {max_run: 3}}"), C)).getMessage();
        assertTrue(m.contains("max_run") && m.contains("3") && m.contains("model's end"), m);
        m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{ffn_fusion: {max_run: 2, threshold: -1}}"), C)).getMessage();
        assertTrue(m.contains("threshold") && m.contains("-1"), m);
        m = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{ffn_fusion: {max_run: 1}}"), C)).getMessage();
        assertTrue(m.contains("max_run"), m);
    }

    /** A parent with sliding layers (gpt-oss) offers its own window to its full layers when the search space lists none. */
    @Test
    void aParentsOwnWindowIsOfferedToItsFullLayersByDefault() {
        java.util.List<dev.puzzle.core.model.BlockConfig> blocks = new java.util.ArrayList<>(C.blocks());
        blocks.set(0, new dev.puzzle.core.model.BlockConfig(new dev.puzzle.core.model.AttentionConfig.Window(C.numKvHeads(), 16), blocks.get(0).ffn()));
        ModelConfig p = C.withBlocks(blocks);
        java.util.List<String> l1 = SearchSpace.parse(yaml("{attention: {no_op: true}}"), p).candidates(p, 1).stream().map(c -> c.block().attention().toString()).toList();
        assertTrue(l1.contains(new dev.puzzle.core.model.AttentionConfig.Window(C.numKvHeads(), 16).toString()), l1.toString());
        java.util.List<String> listed = SearchSpace.parse(yaml("{attention: {window: [8]}}"), p).candidates(p, 1).stream().map(c -> c.block().attention().toString()).toList();
        assertFalse(listed.contains(new dev.puzzle.core.model.AttentionConfig.Window(C.numKvHeads(), 16).toString()), "a listed window replaces the default: " + listed);
    }

    /**
     * A Mamba-2 candidate of the attention's shape (search_space.attention.mamba2: true) starts from the attention as
     * attention-to-SSM distillation does: x ← V (each head its KV head's), B ← K, C ← each group's first query head,
     * out_proj ← O, a pass-through conv, D = 1.
     */
    @Test
    void aMamba2CandidateStartsFromTheAttentionsProjections() {
        AttentionConfig.Mamba2 m = (AttentionConfig.Mamba2) SearchSpace.parse(yaml("{attention: {mamba2: true}}"), C).candidates(C, 0).stream()
                .map(c -> c.block().attention()).filter(a -> a instanceof AttentionConfig.Mamba2).findFirst().orElseThrow();
        assertEquals(new AttentionConfig.Mamba2(4, 4, 4, 4, 4), m, "the attention's heads, head dim, a group per KV head, state = head dim");
        Map<String, Tensor> t = CandidateInit.attention(Backend.cpu(), C, W, 1, m, null, null, 0);
        int D = 16, P = 4, I = 16;
        float[] in = t.get(layer(1, MAMBA_IN)).data(), v = W.get(layer(1, V)).data(), k = W.get(layer(1, K)).data(), q = W.get(layer(1, Q)).data();
        for (int j = 0; j < I * D; j++) assertEquals(v[j], in[(I) * D + j], 0f, "x ← V");
        for (int j = 0; j < I * D; j++) assertEquals(k[j], in[(2 * I) * D + j], 0f, "B ← K");
        for (int j = 0; j < I * D; j++) assertEquals(q[j], in[(3 * I) * D + j], 0f, "C ← Q (one query head per group here)");
        assertArrayEquals(W.get(layer(1, O)).data(), t.get(layer(1, MAMBA_OUT)).data(), "out_proj ← O");
        float[] conv = t.get(layer(1, MAMBA_CONV)).data();
        for (int c = 0; c < 3 * I; c++) assertArrayEquals(new float[]{0, 0, 0, 1}, java.util.Arrays.copyOfRange(conv, c * 4, c * 4 + 4), "pass-through conv");
        assertArrayEquals(new float[]{1, 1, 1, 1}, t.get(layer(1, MAMBA_D)).data());
        String e = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{attention: {mamba2: {heads: 4, groups: 3}}}"), C)).getMessage();
        assertTrue(e.contains("mamba2.groups") && e.contains("3"), e);
    }

    /** A Nemotron-H-shaped parent: a Mamba-2 layer, an attention layer, a squared-ReLU MLP layer, each alone in its layer. */
    static final ModelConfig HYBRID = new ModelConfig(dev.puzzle.core.io.NemotronH.ARCH, 16, 4, 4, 2, 24, 30, 64, 1e-5f, 1e4f, RopeStyle.HALF_SPLIT, false, false,
            List.of(new dev.puzzle.core.model.BlockConfig(new AttentionConfig.Mamba2(4, 4, 4, 2, 4), new FfnConfig.NoOp()),
                    new dev.puzzle.core.model.BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.NoOp()),
                    new dev.puzzle.core.model.BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Relu2(24))),
            false, new ModelConfig.Extensions(false, false, null, null, true));

    /**
     * A hybrid parent keeps each layer's role: a Mamba-2 layer is offered narrower Mamba-2 mixers and the no-op (no
     * attention), an attention layer attention variants and Mamba-2, an MLP layer narrower squared-ReLU MLPs — and no
     * layer gets the part it lacks.
     */
    @Test
    void aHybridParentsLayersKeepTheirRoles() {
        SearchSpace s = SearchSpace.parse(yaml("{attention: {mamba2: true, mamba2_heads: [0.5, 0.1], no_op: true, kv_heads: [1]}, ffn: {widths: [0.5], no_op: true}}"), HYBRID);
        java.util.function.IntFunction<java.util.Set<String>> blocks = l -> new java.util.TreeSet<>(s.candidates(HYBRID, l).stream().map(c -> c.block().toString()).toList());
        assertEquals(new java.util.TreeSet<>(List.of("attn=mamba2_h4x4_n4_g2_k4 ffn=no_op", "attn=mamba2_h2x4_n4_g2_k4 ffn=no_op", "attn=no_op ffn=no_op")),
                blocks.apply(0), "0.5 and 0.1 of 4 heads in 2 groups: 2 (at least a head per group)");
        assertEquals(new java.util.TreeSet<>(List.of("attn=gqa2 ffn=no_op", "attn=gqa1 ffn=no_op", "attn=mamba2_h4x4_n4_g2_k4 ffn=no_op", "attn=no_op ffn=no_op")),
                blocks.apply(1));
        assertEquals(new java.util.TreeSet<>(List.of("attn=no_op ffn=relu2_24", "attn=no_op ffn=relu2_12", "attn=no_op ffn=no_op")), blocks.apply(2));
        String e = assertThrows(PuzzleException.class, () -> SearchSpace.parse(yaml("{attention: {mamba2_heads: [0.5]}}"), C)).getMessage();
        assertTrue(e.contains("mamba2_heads") && e.contains("no Mamba-2 layer"), e);
    }

    /**
     * A narrower Mamba-2 keeps, in each group, the heads that contribute most on the calibration rows: a head whose out_proj
     * columns are zero contributes nothing and goes; the kept heads carry their own rows of in_proj (z, x, dt), conv
     * channels, dt_bias, A_log, D, norm weights and out_proj columns, and B and C stay whole.
     */
    @Test
    void aNarrowerMamba2KeepsTheHeadsThatContributeMost() {
        Map<String, Tensor> w = new java.util.LinkedHashMap<>(RandomWeights.of(HYBRID, 4).tensors());
        float[] out = w.get(layer(0, MAMBA_OUT)).copy().data();
        for (int d = 0; d < 16; d++) for (int p = 0; p < 4; p++) out[d * 16 + 4 + p] = 0; // head 1 silent
        w.put(layer(0, MAMBA_OUT), new Tensor(out, 16, 16));
        Random r = new Random(2);
        int N = 24;
        float[] x = randn(r, N * 16);
        AttentionConfig.Mamba2 two = new AttentionConfig.Mamba2(2, 4, 4, 2, 4);
        Map<String, Tensor> t = CandidateInit.attention(Backend.cpu(), HYBRID, w, 0, two, x, new float[N * 16], N);
        double[] score = new dev.puzzle.core.ops.BlockOps(HYBRID, w, "p", Backend.cpu()).mamba2(0, (AttentionConfig.Mamba2) HYBRID.blocks().get(0).attention()).headScores(x, N);
        assertEquals(0, score[1], 0, "a silent head scores 0");
        int g1 = score[2] >= score[3] ? 2 : 3; // group 1's better head
        int[] kept = {0, g1};
        int D = 16, P = 4, I = 16, C = I + 2 * 2 * 4, I2 = 8, C2 = I2 + 16;
        float[] in = w.get(layer(0, MAMBA_IN)).data(), in2 = t.get(layer(0, MAMBA_IN)).data();
        assertArrayEquals(new int[]{I2 + C2 + 2, D}, t.get(layer(0, MAMBA_IN)).shape());
        for (int j = 0; j < 2; j++) {
            int h = kept[j];
            assertArrayEquals(java.util.Arrays.copyOfRange(in, h * P * D, (h + 1) * P * D), java.util.Arrays.copyOfRange(in2, j * P * D, (j + 1) * P * D), "z of head " + h);
            assertArrayEquals(java.util.Arrays.copyOfRange(in, (I + h * P) * D, (I + h * P + P) * D), java.util.Arrays.copyOfRange(in2, (I2 + j * P) * D, (I2 + j * P + P) * D), "x of head " + h);
            assertArrayEquals(java.util.Arrays.copyOfRange(in, (I + C + h) * D, (I + C + h + 1) * D), java.util.Arrays.copyOfRange(in2, (I2 + C2 + j) * D, (I2 + C2 + j + 1) * D), "dt of head " + h);
            assertEquals(w.get(layer(0, MAMBA_A_LOG)).data()[h], t.get(layer(0, MAMBA_A_LOG)).data()[j]);
            assertEquals(w.get(layer(0, MAMBA_DT_BIAS)).data()[h], t.get(layer(0, MAMBA_DT_BIAS)).data()[j]);
        }
        assertArrayEquals(java.util.Arrays.copyOfRange(in, 2 * I * D, (2 * I + 16) * D), java.util.Arrays.copyOfRange(in2, 2 * I2 * D, (2 * I2 + 16) * D), "B and C whole");
        // the candidate runs as the op of its shape
        var op = new dev.puzzle.core.ops.BlockOps(HYBRID.withBlocks(List.of(new dev.puzzle.core.model.BlockConfig(two, new FfnConfig.NoOp()))), t, "c", Backend.cpu())
                .attention(0, two);
        assertEquals(N * 16, op.forward(x, 1, N).out().length);
        String e = assertThrows(PuzzleException.class, () -> CandidateInit.attention(Backend.cpu(), HYBRID, w, 0, new AttentionConfig.Mamba2(2, 4, 8, 2, 4), x, null, N)).getMessage();
        assertTrue(e.contains("fewer heads"), e);
    }

    /** A narrower squared-ReLU MLP keeps the channels of largest mean relu(up·h)² × ‖down column‖: a channel with a zero down column goes. */
    @Test
    void aNarrowerRelu2MlpKeepsItsStrongestChannels() {
        Map<String, Tensor> w = new java.util.LinkedHashMap<>(RandomWeights.of(HYBRID, 5).tensors());
        float[] down = w.get(layer(2, DOWN)).copy().data();
        for (int d = 0; d < 16; d++) down[d * 24 + 5] = 0;
        w.put(layer(2, DOWN), new Tensor(down, 16, 24));
        float[] x = randn(new Random(3), 32 * 16);
        Map<String, Tensor> t = CandidateInit.ffn(Backend.cpu(), HYBRID, w, 2, new FfnConfig.Relu2(23), x, null, 32);
        assertArrayEquals(new int[]{23, 16}, t.get(layer(2, UP)).shape());
        assertArrayEquals(new int[]{16, 23}, t.get(layer(2, DOWN)).shape());
        assertFalse(t.containsKey(layer(2, GATE)), "no gate");
        float[] up = w.get(layer(2, UP)).data(), up2 = t.get(layer(2, UP)).data();
        for (int j = 0; j < 23; j++) {
            int src = j < 5 ? j : j + 1; // channel 5 dropped, order kept
            assertArrayEquals(java.util.Arrays.copyOfRange(up, src * 16, (src + 1) * 16), java.util.Arrays.copyOfRange(up2, j * 16, (j + 1) * 16), "channel " + src);
        }
    }
}
