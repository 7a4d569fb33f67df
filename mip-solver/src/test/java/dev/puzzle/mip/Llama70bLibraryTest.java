package dev.puzzle.mip;

import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.blocklibrary.BlockLibraryJson;
import dev.puzzle.mip.ArchitectureSearch.Backend;
import dev.puzzle.mip.ArchitectureSearch.Options;
import dev.puzzle.mip.ArchitectureSearch.Problem;
import dev.puzzle.mip.ArchitectureSearch.Solution;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** NVIDIA's measured Llama-3.3-70B block library (80 layers × 16 variants): solved to proven optimality, verified. */
class Llama70bLibraryTest {
    static BlockLibrary typed;
    static SearchLibrary lib;
    static final String KL = "metrics.kl_div", MEM = "stats.memory_mib", RUN = "stats.runtime_ms";

    @BeforeAll
    static void load() {
        Path p = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize()
                .resolve("data/llama-3.3-70b-block-library/block_library.json");
        Assumptions.assumeTrue(Files.exists(p), "skipped: " + p + " is absent (../shared not laid out beside the repository)");
        typed = BlockLibraryJson.read(p);
        lib = SearchLibrary.of(typed);
    }

    static double parentTotal(String key) {
        double s = 0;
        for (int l = 0; l < lib.numLayers(); l++) s += lib.startingAt(l).get(0).values().get(key);
        return s;
    }

    @Test
    void readsEightyLayersOfSixteen() {
        assertEquals(80, lib.numLayers());
        assertEquals(80 * 16, lib.replacements().size());
        assertEquals(0.0, lib.startingAt(0).get(0).values().get(KL));
        assertEquals(1437.109375, lib.startingAt(0).get(0).values().get(MEM));
        assertTrue(lib.commonKeys().containsAll(List.of(KL, "metrics.lm_loss", MEM, RUN, "stats.num_params", "stats.attention_runtime_ms")));
    }

    @Test
    void memoryAndThroughputBudgetSolvedToOptimality() {
        // 6,000 tokens/s at batch 256 × 1,200 tokens = 1000 · 256 · 1200 / 6000 = 51,200 ms (TokenRate's translation, tested in hardware-profiles).
        double runtime = 51_200;
        Problem p = new Problem(lib, KL, false, List.of(Budget.atMost(MEM, 80_000), Budget.atMost(RUN, runtime)));
        Solution cp = ArchitectureSearch.solve(p, new Options(Backend.CP_SAT, 60, 2));
        Solution scip = ArchitectureSearch.solve(p, new Options(Backend.SCIP, 60, 1));
        for (Solution s : List.of(cp, scip)) {
            assertTrue(s.optimal(), s.backend() + " proves optimality");
            assertTrue(s.totals().get(MEM) <= 80_000 + 1e-6 && s.totals().get(RUN) <= runtime + 1e-6, s.totals().toString());
            assertEquals(80, s.chosen().size());
        }
        assertEquals(cp.value(), scip.value(), 1e-6 * Math.max(1, cp.value()), "the two solvers agree on the optimum");
        assertTrue(cp.value() > 0, "the parent (65,358 ms) does not fit 51,200 ms, so something must change");
        System.out.printf("70B: mem<=80000, runtime<=51200: KL %.6f (cp-sat %.3f s, scip %.3f s), memory %.1f MiB, runtime %.1f ms%n",
                cp.value(), cp.seconds(), scip.seconds(), cp.totals().get(MEM), cp.totals().get(RUN));
    }

    @Test
    void memoryAloneSolvedToOptimality() {
        Problem p = new Problem(lib, KL, false, List.of(Budget.atMost(MEM, 40_000)));
        Solution cp = ArchitectureSearch.solve(p, new Options(Backend.CP_SAT, 60, 2));
        Solution scip = ArchitectureSearch.solve(p, new Options(Backend.SCIP, 60, 1));
        assertTrue(cp.optimal() && scip.optimal());
        assertEquals(cp.value(), scip.value(), 1e-6 * Math.max(1, cp.value()));
        assertTrue(cp.totals().get(MEM) <= 40_000 + 1e-6);
    }

    @Test
    void threeDiverseSolutionsAtEightyFivePercent() {
        double mem = 0.85 * parentTotal(MEM), run = 0.85 * parentTotal(RUN);
        Problem p = new Problem(lib, KL, false, List.of(Budget.atMost(MEM, mem), Budget.atMost(RUN, run)));
        List<Solution> sols = ArchitectureSearch.diverse(p, new Options(Backend.CP_SAT, 60, 2), 3, 20);
        assertEquals(3, sols.size());
        for (int i = 0; i < 3; i++) {
            Solution s = sols.get(i);
            assertTrue(s.optimal(), "solution " + i + " is optimal under its diversity constraints");
            assertTrue(s.totals().get(MEM) <= mem + 1e-6 && s.totals().get(RUN) <= run + 1e-6);
            for (int j = 0; j < i; j++) {
                int differ = 0;
                for (int l = 0; l < 80; l++) if (s.atLayer(l) != sols.get(j).atLayer(l)) differ++;
                assertTrue(differ >= 20, i + " vs " + j + ": " + differ);
            }
        }
    }

    @Test
    void roundTripsThroughJson(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("lib.json");
        BlockLibraryJson.write(typed, out);
        SearchLibrary back = SearchLibrary.of(BlockLibraryJson.read(out));
        assertEquals(lib.replacements().size(), back.replacements().size());
        for (int i = 0; i < lib.replacements().size(); i++) {
            assertEquals(lib.replacements().get(i).name(), back.replacements().get(i).name());
            assertEquals(lib.replacements().get(i).values(), back.replacements().get(i).values());
        }
    }
}
