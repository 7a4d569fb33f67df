package dev.puzzle.pipeline;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.mip.Budget;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The baselines on a hand-made library whose answers are worked out by hand (and by brute force for uniform pruning). */
class BaselinesStageTest {
    static final ModelConfig PARENT = ModelConfig.builder("LlamaForCausalLM").dim(64).layers(3).heads(8).kvHeads(4).intermediateSize(172).vocabSize(512).maxSeqLen(512).normEps(1e-5f).ropeTheta(10000f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(true).qkvBias(false).build();
    static final RunConfig.Target T = new RunConfig.Target(2.0e5, false);

    static final BlockConfig FULL = PARENT.parentBlock(0), HALF = new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(86)),
            QUARTER = new BlockConfig(new AttentionConfig.Gqa(1), new FfnConfig.Dense(43)), EMPTY = new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp());

    /** runtime and KL per layer for each block; the parent's block has KL 0. */
    static BlockLibrary library(double[][] runtime, double[][] kl) {
        List<BlockLibrary.Replacement> reps = new ArrayList<>();
        BlockConfig[] bs = {FULL, HALF, QUARTER, EMPTY};
        for (int l = 0; l < 3; l++) {
            for (int b = 0; b < bs.length; b++) {
                Map<String, Double> v = new LinkedHashMap<>();
                v.put(LibraryKeys.RUNTIME_MS, runtime[l][b]);
                v.put(LibraryKeys.KL_DIV, kl[l][b]);
                reps.add(BlockLibrary.Replacement.of(PARENT, l, bs[b], v));
            }
        }
        return new BlockLibrary(3, reps, "hand");
    }

    static final double[][] RUNTIME = {{10, 6, 4, 0.5}, {10, 6, 4, 0.5}, {10, 6, 4, 0.5}};
    static final double[][] KL = {{0, 0.2, 0.5, 3}, {0, 0.1, 0.4, 1}, {0, 0.3, 0.6, 2}};

    @Test
    void uniformPruningTakesTheLeastKlUniformChoiceThatFits() {
        BlockLibrary lib = library(RUNTIME, KL);
        // 18 ms: only HALF (3 × 6) and QUARTER (3 × 4) fit; HALF has the lower summed KL (0.6 vs 1.5).
        Plan u = BaselinesStage.uniform(lib, List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, 18)), T, 2e5);
        assertEquals(List.of(HALF, HALF, HALF), u.blocks());
        assertEquals(Plan.Kind.UNIFORM, u.kind());
        assertEquals("uniform-200000", u.name());
        // 11 ms: nothing uniform fits (QUARTER needs 12; no-op blocks are not a uniform width).
        assertNull(BaselinesStage.uniform(lib, List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, 11)), T, 2e5));
        // Brute force over the uniform choices agrees at every budget.
        for (double budget = 1; budget <= 31; budget += 0.5) {
            Plan got = BaselinesStage.uniform(lib, List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, budget)), T, 2e5);
            BlockConfig best = null;
            double bestKl = Double.POSITIVE_INFINITY;
            BlockConfig[] bs = {FULL, HALF, QUARTER};
            for (int b = 0; b < 3; b++) {
                double rt = 0, kl = 0;
                for (int l = 0; l < 3; l++) {
                    rt += RUNTIME[l][b];
                    kl += KL[l][b];
                }
                if (rt <= budget && kl < bestKl) {
                    bestKl = kl;
                    best = bs[b];
                }
            }
            assertEquals(best, got == null ? null : got.blocks().get(0), "budget " + budget);
        }
    }

    @Test
    void layerDroppingRemovesLayersOfLeastInfluenceFirst() {
        BlockLibrary lib = library(RUNTIME, KL);
        double[] influence = {0.5, 0.1, 0.3}; // drop order: 1, then 2, then 0
        // 30 ms: the parent fits, nothing dropped.
        assertEquals(List.of(FULL, FULL, FULL), BaselinesStage.layerDrop(lib, List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, 30)), influence, PARENT, T, 2e5).blocks());
        // 25 ms: one layer dropped (20.5 ms), the least influential.
        assertEquals(List.of(FULL, EMPTY, FULL), BaselinesStage.layerDrop(lib, List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, 25)), influence, PARENT, T, 2e5).blocks());
        // 11 ms: two (11 ms).
        assertEquals(List.of(FULL, EMPTY, EMPTY), BaselinesStage.layerDrop(lib, List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, 11)), influence, PARENT, T, 2e5).blocks());
        // 1 ms: all three (1.5 ms) still do not fit.
        assertNull(BaselinesStage.layerDrop(lib, List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, 1)), influence, PARENT, T, 2e5));
    }
}
