package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.blocklibrary.BlockLibrary.Replacement;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.mip.ArchitectureSearch;
import dev.puzzle.mip.Budget;
import dev.puzzle.mip.SearchLibrary;
import dev.puzzle.pipeline.report.ReportModel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The search stage's typed path on a hand-made library with a fused run: the MIP's choice comes back as
 * the library's own replacements (span and blocks), its optimum checked by brute force; the plan, its costs
 * and the report's typed view of every layer follow from those replacements, not from names.
 */
class SearchStageTest {
    static final ModelConfig PARENT = ModelConfig.builder("LlamaForCausalLM").dim(64).layers(3).heads(8).kvHeads(4).intermediateSize(172).vocabSize(512).maxSeqLen(512).normEps(1e-5f).ropeTheta(1e4f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(true).qkvBias(false).build();
    static final BlockConfig FULL = PARENT.parentBlock(0), WINDOW = new BlockConfig(new AttentionConfig.Window(4, 16), new FfnConfig.Dense(172)),
            LINEAR = new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.Dense(86));
    static final BlockConfig[] BLOCKS = {FULL, WINDOW, LINEAR};
    static final double[][] RUNTIME = {{10, 7, 4}, {10, 7, 4}, {10, 7, 4}}, KL = {{0, 0.05, 0.5}, {0, 0.3, 0.2}, {0, 0.02, 0.6}};
    static final double FUSED_RUNTIME = 12, FUSED_KL = 0.1; // layers 1-2 as one wide FFN at layer 1

    static Map<String, Double> values(double runtime, double kl) {
        return Map.of(LibraryKeys.RUNTIME_MS, runtime, LibraryKeys.MEMORY_MIB, runtime / 10, LibraryKeys.KL_DIV, kl);
    }

    static BlockLibrary library() {
        List<Replacement> reps = new ArrayList<>();
        for (int l = 0; l < 3; l++) for (int b = 0; b < BLOCKS.length; b++) reps.add(Replacement.of(PARENT, l, BLOCKS[b], values(RUNTIME[l][b], KL[l][b])));
        List<BlockConfig> fused = List.of(new BlockConfig(FULL.attention(), new FfnConfig.Dense(344)), BlockConfig.EMPTY);
        reps.add(new Replacement(1, 2, BlockNames.fused(PARENT, 1, 2, FULL.attention(), 344), fused, values(FUSED_RUNTIME, FUSED_KL)));
        return new BlockLibrary(3, reps, "hand");
    }

    /** The least KL under a runtime budget, over every cover of the three layers (singles, or layer 0 and the fused run). */
    static double bruteForce(double budget) {
        double best = Double.POSITIVE_INFINITY;
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) for (int c = 0; c < 3; c++) {
                if (RUNTIME[0][a] + RUNTIME[1][b] + RUNTIME[2][c] <= budget + 1e-9) best = Math.min(best, KL[0][a] + KL[1][b] + KL[2][c]);
            }
            if (RUNTIME[0][a] + FUSED_RUNTIME <= budget + 1e-9) best = Math.min(best, KL[0][a] + FUSED_KL);
        }
        return best;
    }

    @Test
    void theChoiceIsTheLibrarysTypedReplacementsAtTheBruteForceOptimum() {
        BlockLibrary lib = library();
        int fusedSeen = 0;
        for (double budget = 12; budget <= 30; budget += 1) {
            ArchitectureSearch.Solution sol;
            try {
                sol = ArchitectureSearch.solve(new ArchitectureSearch.Problem(SearchLibrary.of(lib), LibraryKeys.KL_DIV, false,
                        List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, budget))), new ArchitectureSearch.Options(ArchitectureSearch.Backend.CP_SAT, 10, 1));
            } catch (ArchitectureSearch.InfeasibleException e) {
                assertEquals(Double.POSITIVE_INFINITY, bruteForce(budget), "budget " + budget);
                continue;
            }
            List<Replacement> chosen = SearchStage.chosen(lib, sol);
            Plan p = new Plan("puzzle", Plan.Kind.PUZZLE, null, Double.NaN, chosen, "test");
            double kl = 0, runtime = 0;
            for (Replacement r : chosen) {
                assertTrue(lib.replacements().contains(r), "a replacement of the library itself");
                kl += r.values().get(LibraryKeys.KL_DIV);
                runtime += r.values().get(LibraryKeys.RUNTIME_MS);
            }
            assertEquals(bruteForce(budget), kl, 1e-9, "budget " + budget);
            assertTrue(runtime <= budget + 1e-9);
            assertEquals(3, p.blocks().size());
            if (chosen.stream().anyMatch(r -> r.span() == 2)) {
                fusedSeen++;
                assertEquals(List.of(new BlockConfig(FULL.attention(), new FfnConfig.Dense(344)), BlockConfig.EMPTY), p.blocks().subList(1, 3));
                assertSame(p.at(1), p.at(2), "both layers of the run are one replacement");
            }
        }
        assertTrue(fusedSeen > 0, "some budget takes the fused run (KL 0.1 for 12 ms beats every pair of singles at that cost)");
    }

    @Test
    void reportLayersComeFromTheTypedReplacements() {
        BlockLibrary lib = library();
        Replacement fused = lib.replacements().get(lib.replacements().size() - 1);
        List<Replacement> choice = List.of(lib.find(0, WINDOW), fused);
        Plan p = new Plan("p", Plan.Kind.PUZZLE, null, Double.NaN, choice, "test");
        List<ReportModel.LayerBlock> layers = new ArrayList<>();
        for (Replacement r : p.choice()) for (int l = r.first(); l <= r.last(); l++) layers.add(ReportModel.LayerBlock.of(l, r));
        assertEquals(List.of(ReportModel.Look.WINDOW, ReportModel.Look.FUSED, ReportModel.Look.FUSED), layers.stream().map(ReportModel.LayerBlock::look).toList());
        assertEquals(java.util.Arrays.asList(null, "1-2", "1-2"), layers.stream().map(ReportModel.LayerBlock::fusedRun).toList());
        assertEquals("attn=window16_kv4 ffn=dense172", layers.get(0).block());
        assertEquals(ReportModel.Look.LINEAR, ReportModel.Look.of(LINEAR));
        assertEquals(ReportModel.Look.NO_ATTENTION, ReportModel.Look.of(BlockConfig.EMPTY));
        assertEquals(ReportModel.Look.FULL, ReportModel.Look.of(FULL));
    }

    @Test
    void aPlanMustCoverEveryLayerOnceInOrder() {
        BlockLibrary lib = library();
        Replacement fused = lib.replacements().get(lib.replacements().size() - 1);
        assertThrows(IllegalArgumentException.class, () -> new Plan("gap", Plan.Kind.PUZZLE, null, Double.NaN, List.of(lib.find(0, FULL), lib.find(2, FULL)), "t"));
        assertThrows(IllegalArgumentException.class, () -> new Plan("overlap", Plan.Kind.PUZZLE, null, Double.NaN,
                List.of(lib.find(0, FULL), lib.find(1, FULL), fused), "t"));
        Replacement foreign = new Replacement(0, 1, "attention = 8 kv heads (parent * 100%)", List.of(), Map.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Plan("foreign", Plan.Kind.PUZZLE, null, Double.NaN,
                List.of(foreign, fused), "t"));
        assertTrue(e.getMessage().contains("names no block of this toolkit"), e.getMessage());
    }

    @Test
    void aSolutionThatNamesNoBlockOfOursIsRefusedNamingIt() {
        List<Replacement> reps = new ArrayList<>(library().replacements());
        reps.add(new Replacement(0, 1, "attention = 8 kv heads (parent * 100%)", List.of(), values(0.5, 0)));
        BlockLibrary lib = new BlockLibrary(3, reps, "nvidia.json");
        ArchitectureSearch.Solution sol = ArchitectureSearch.solve(new ArchitectureSearch.Problem(SearchLibrary.of(lib), LibraryKeys.KL_DIV, false,
                List.of(Budget.atMost(LibraryKeys.RUNTIME_MS, 30))), new ArchitectureSearch.Options(ArchitectureSearch.Backend.CP_SAT, 10, 1));
        PuzzleException e = assertThrows(PuzzleException.class, () -> SearchStage.chosen(lib, sol));
        assertEquals("nvidia.json: layer_0 variant 'attention = 8 kv heads (parent * 100%)' names no block of this toolkit (another tool's library?)", e.getMessage());
    }

    @Test
    void wholeModelBudgetsSubtractTheEmbeddingsAndHeadOnce() {
        WholeModel w = new WholeModel(Map.of(LibraryKeys.RUNTIME_MS, 5.0, LibraryKeys.MEMORY_MIB, 2.0));
        // 64 sequences × 256 tokens at 2e5 tokens/s: 81.92 ms for the whole model, 76.92 ms for the layers.
        assertEquals(Budget.atMost(LibraryKeys.RUNTIME_MS, 1000.0 * 64 * 256 / 2e5 - 5), w.throughput(2e5, 64, 256));
        assertEquals(Budget.atMost(LibraryKeys.MEMORY_MIB, 10), w.atMost(LibraryKeys.MEMORY_MIB, 12));
        assertEquals(Budget.atMost(LibraryKeys.PREFILL_MS, 3), w.atMost(LibraryKeys.PREFILL_MS, 3), "a key without a fixed share is the layers' sum");
        assertEquals(SearchStage.budgets(2e5, 12.0, new dev.puzzle.hardware.Workload(64, 256, 256, "bf16", "bf16"), w.fixed()),
                List.of(w.throughput(2e5, 64, 256), w.atMost(LibraryKeys.MEMORY_MIB, 12)), "compress's targets go through the same conversion");
    }
}
