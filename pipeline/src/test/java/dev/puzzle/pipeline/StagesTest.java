package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.hardware.Workload;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The small decisions of compress's stages, each against values worked out by hand. */
class StagesTest {

    @Test
    void theParentIsItsOwnBlockOfTheLibraryAtEveryLayer() {
        BlockLibrary lib = SearchStageTest.library();
        List<BlockLibrary.Replacement> parent = Compress.parentChoice(lib, SearchStageTest.PARENT);
        assertEquals(List.of(0, 1, 2), parent.stream().map(BlockLibrary.Replacement::first).toList());
        for (BlockLibrary.Replacement r : parent) {
            assertEquals(List.of(SearchStageTest.FULL), r.blocks());
            assertEquals(0.0, r.values().get(LibraryKeys.KL_DIV));
        }
        BlockLibrary without = new BlockLibrary(3, lib.replacements().stream().filter(r -> !(r.first() == 1 && r.blocks().equals(List.of(SearchStageTest.FULL)))).toList(), "lib");
        PuzzleException e = assertThrows(PuzzleException.class, () -> Compress.parentChoice(without, SearchStageTest.PARENT));
        assertEquals("lib: layer_1 has no entry for the parent's own block attn=gqa4 ffn=dense172", e.getMessage());
    }

    @Test
    void measuredLengthsShrinkInProportionToFitTheContext() {
        assertArrayEquals(new int[]{256, 256}, EvaluateStage.measuredLengths(new Workload(64, 256, 256, "bf16", "bf16"), 512));
        // 256 + 256 into a context of 128: a quarter of each.
        assertArrayEquals(new int[]{64, 64}, EvaluateStage.measuredLengths(new Workload(64, 256, 256, "bf16", "bf16"), 128));
        // 1000 + 24 into 512: generation floor(24 * 0.5) = 12, prefill floor(1000 * 0.5) = 500.
        assertArrayEquals(new int[]{500, 12}, EvaluateStage.measuredLengths(new Workload(1, 1000, 24, "fp32", "fp32"), 512));
        assertArrayEquals(new int[]{1, 32}, EvaluateStage.measuredLengths(new Workload(1, 0, 32, "fp32", "fp32"), 512), "at least one prompt token");
    }

    @Test
    void targetsAreRatesOrFactorsOfTheParent() {
        RunConfig.Target abs = new RunConfig.Target(2.6e5, false), rel = new RunConfig.Target(1.5, true);
        assertEquals(2.6e5, abs.tokensPerSecond(1e5));
        assertEquals(1.5e5, rel.tokensPerSecond(1e5));
        assertEquals("260000", abs.label());
        assertEquals("1.5x", rel.label());
        assertThrows(IllegalArgumentException.class, () -> new RunConfig.Target(0, true));
        assertThrows(IllegalArgumentException.class, () -> new RunConfig.Target(Double.NaN, false));
    }

    @Test
    void aFusedRunCountsOnceInAPlansCosts() {
        BlockLibrary lib = SearchStageTest.library();
        BlockLibrary.Replacement fused = lib.replacements().get(lib.replacements().size() - 1);
        Plan p = new Plan("p", Plan.Kind.PUZZLE, null, Double.NaN, List.of(lib.find(0, SearchStageTest.FULL), fused), "t");
        double runtime = p.choice().stream().mapToDouble(r -> r.values().get(LibraryKeys.RUNTIME_MS)).sum();
        assertEquals(10 + SearchStageTest.FUSED_RUNTIME, runtime);
        assertEquals(List.of(SearchStageTest.FULL, fused.blocks().get(0), BlockConfig.EMPTY), p.blocks());
        assertEquals(Map.of(LibraryKeys.RUNTIME_MS, 12.0, LibraryKeys.MEMORY_MIB, 1.2, LibraryKeys.KL_DIV, 0.1), p.at(2).values());
    }
}
