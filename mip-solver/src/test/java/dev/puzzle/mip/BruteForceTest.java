package dev.puzzle.mip;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.mip.ArchitectureSearch.Backend;
import dev.puzzle.mip.ArchitectureSearch.Options;
import dev.puzzle.mip.ArchitectureSearch.Problem;
import dev.puzzle.mip.ArchitectureSearch.Solution;
import dev.puzzle.mip.SearchLibrary.Choice;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The MIP against exhaustive enumeration on small random instances, hand instances with known optima, spans and diversity. */
class BruteForceTest {
    static final String[] COSTS = {"stats.memory_mib", "stats.runtime_ms", "stats.num_params"};

    /** A random library: up to 6 layers × 5 variants × 3 costs, and optionally random spans of 2-3 layers. */
    static SearchLibrary randomLibrary(Random rnd, int layers, int variants, boolean spans) {
        List<Choice> reps = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (int v = 0; v < variants; v++) reps.add(new Choice(reps.size(), l, 1, "v" + v, randomValues(rnd, 1)));
            if (spans && l + 1 < layers && rnd.nextInt(3) == 0) {
                int span = 2 + (l + 2 < layers ? rnd.nextInt(2) : 0);
                reps.add(new Choice(reps.size(), l, span, "fused" + span, randomValues(rnd, span)));
            }
        }
        return new SearchLibrary(layers, reps, "random");
    }

    static Map<String, Double> randomValues(Random rnd, int span) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("metrics.kl_div", rnd.nextInt(4) == 0 ? 0.0 : Math.round(rnd.nextDouble() * 1000) / 100.0);
        for (String c : COSTS) m.put(c, Math.round(rnd.nextDouble() * 100 * span * (0.5 + rnd.nextDouble())) / 10.0);
        return m;
    }

    /** All ways to cover layers [from, L) by consecutive replacements. */
    static void enumerate(SearchLibrary lib, int from, List<Choice> cur, List<List<Choice>> out) {
        if (from == lib.numLayers()) {
            out.add(new ArrayList<>(cur));
            return;
        }
        for (Choice r : lib.startingAt(from)) {
            cur.add(r);
            enumerate(lib, r.last() + 1, cur, out);
            cur.remove(cur.size() - 1);
        }
    }

    /** The brute-force optimum, or NaN when infeasible. */
    static double bruteForce(Problem p) {
        List<List<Choice>> all = new ArrayList<>();
        enumerate(p.library(), 0, new ArrayList<>(), all);
        double best = Double.NaN;
        for (List<Choice> s : all) {
            boolean ok = true;
            for (Budget b : p.budgets()) ok &= b.satisfiedBy(ArchitectureSearch.sum(s, b.key()), 1e-9);
            if (!ok) continue;
            double v = ArchitectureSearch.sum(s, p.objective());
            if (Double.isNaN(best) || (p.maximize() ? v > best : v < best)) best = v;
        }
        return best;
    }

    static Options opts(Backend b) {
        return new Options(b, 30, 1);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void agreesWithBruteForceOnRandomInstances(Backend backend) {
        int feasible = 0, infeasible = 0;
        for (int seed = 0; seed < 200; seed++) {
            Random rnd = new Random(seed);
            int layers = 1 + rnd.nextInt(6), variants = 1 + rnd.nextInt(5);
            SearchLibrary lib = randomLibrary(rnd, layers, variants, seed % 2 == 1);
            List<Budget> budgets = new ArrayList<>();
            int nb = rnd.nextInt(4);
            for (int b = 0; b < nb; b++) {
                String key = COSTS[b];
                double lo = ArchitectureSearch.extreme(lib, key, false, opts(backend)), hi = ArchitectureSearch.extreme(lib, key, true, opts(backend));
                double cut = lo + (hi - lo) * rnd.nextDouble() * 1.1 - (hi - lo) * 0.05;
                budgets.add(rnd.nextInt(5) == 0 ? Budget.atLeast(key, cut) : Budget.atMost(key, cut));
            }
            Problem p = new Problem(lib, "metrics.kl_div", seed % 7 == 0, budgets);
            double want = bruteForce(p);
            if (Double.isNaN(want)) {
                infeasible++;
                assertThrows(ArchitectureSearch.InfeasibleException.class, () -> ArchitectureSearch.solve(p, opts(backend)), "seed " + seed);
            } else {
                feasible++;
                Solution s = ArchitectureSearch.solve(p, opts(backend));
                assertEquals(want, s.value(), 1e-6, "seed " + seed + " " + budgets);
                assertTrue(s.optimal(), "seed " + seed);
            }
        }
        assertTrue(feasible > 100 && infeasible > 5, "a useful mix: " + feasible + " feasible, " + infeasible + " infeasible");
    }

    static Map<String, Double> v(double kl, double mem) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("metrics.kl_div", kl);
        m.put("stats.memory_mib", mem);
        return m;
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void handInstanceWithKnownOptimum(Backend backend) {
        // Three layers; the parent costs 10 each with KL 0 (30 in all). Budget 22: one layer must shrink, best the
        // one whose cheap variant hurts least (layer 1: KL 0.1 for memory 2), which lands exactly on 22.
        SearchLibrary lib = SearchLibrary.of(List.of(
                Map.of("parent", v(0, 10), "small", v(0.5, 2)),
                Map.of("parent", v(0, 10), "small", v(0.1, 2)),
                Map.of("parent", v(0, 10), "small", v(0.3, 2), "tiny", v(2.0, 0))));
        Solution s = ArchitectureSearch.solve(new Problem(lib, "metrics.kl_div", false, List.of(Budget.atMost("stats.memory_mib", 22))), opts(backend));
        assertEquals(0.1, s.value(), 1e-9);
        assertEquals("small", s.atLayer(1).name());
        assertEquals(22.0, s.totals().get("stats.memory_mib"), 1e-9);
        // Budget 14: two layers must shrink (10 + 2 + 2); layers 1 and 2 (0.1 + 0.3) beat any use of "tiny".
        s = ArchitectureSearch.solve(new Problem(lib, "metrics.kl_div", false, List.of(Budget.atMost("stats.memory_mib", 14))), opts(backend));
        assertEquals(0.4, s.value(), 1e-9);
        assertEquals(List.of("parent", "small", "small"), s.chosen().stream().map(Choice::name).toList());
        // Budget 4: all small needs 6 > 4, so tiny on layer 2 (memory 0) with small elsewhere: 2 + 2 + 0 = 4, KL 0.5 + 0.1 + 2.0.
        s = ArchitectureSearch.solve(new Problem(lib, "metrics.kl_div", false, List.of(Budget.atMost("stats.memory_mib", 4))), opts(backend));
        assertEquals(2.6, s.value(), 1e-9);
        assertEquals("tiny", s.atLayer(2).name());
        // A [min, max] range of [21, 22]: two parents and one small layer (22); the best makes layer 1 the small one.
        s = ArchitectureSearch.solve(new Problem(lib, "metrics.kl_div", false, List.of(new Budget("stats.memory_mib", 21, 22))), opts(backend));
        assertEquals(0.1, s.value(), 1e-9);
        assertEquals("small", s.atLayer(1).name());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void spansCoverTheirLayersOnce(Backend backend) {
        List<Choice> reps = new ArrayList<>();
        for (int l = 0; l < 4; l++) {
            reps.add(new Choice(reps.size(), l, 1, "parent", v(0, 10)));
            reps.add(new Choice(reps.size(), l, 1, "half", v(1, 5)));
        }
        // Fusing layers 1-2 into one block costs 12 (instead of 20) at KL 0.5 (instead of 2 for two halves).
        reps.add(new Choice(reps.size(), 1, 2, "fused", v(0.5, 12)));
        SearchLibrary lib = new SearchLibrary(4, reps, "spans");
        Solution s = ArchitectureSearch.solve(new Problem(lib, "metrics.kl_div", false, List.of(Budget.atMost("stats.memory_mib", 32))), opts(backend));
        assertEquals(0.5, s.value(), 1e-9);
        assertEquals("fused", s.atLayer(1).name());
        assertSame(s.atLayer(1), s.atLayer(2));
        assertEquals(3, s.chosen().size());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void diverseSolutionsDifferPairwise(Backend backend) {
        for (int seed = 0; seed < 20; seed++) {
            Random rnd = new Random(100 + seed);
            SearchLibrary lib = randomLibrary(rnd, 6, 4, seed % 2 == 0);
            int d = 1 + rnd.nextInt(3);
            List<Solution> sols = ArchitectureSearch.diverse(new Problem(lib, "metrics.kl_div", false, List.of()), opts(backend), 4, d);
            assertTrue(sols.size() >= 2, "seed " + seed);
            for (int i = 0; i < sols.size(); i++) {
                for (int j = i + 1; j < sols.size(); j++) {
                    int differ = 0;
                    for (int l = 0; l < lib.numLayers(); l++) if (sols.get(i).atLayer(l) != sols.get(j).atLayer(l)) differ++;
                    assertTrue(differ >= d, "seed " + seed + ": solutions " + i + " and " + j + " differ in " + differ + " < " + d + " layers");
                }
                if (i > 0) assertTrue(sols.get(i).value() >= sols.get(i - 1).value() - 1e-9, "later solutions are no better");
            }
            // The first is the unconstrained optimum.
            assertEquals(bruteForce(new Problem(lib, "metrics.kl_div", false, List.of())), sols.get(0).value(), 1e-9);
        }
    }

    @Test
    void badKeysAreNamed() {
        SearchLibrary lib = SearchLibrary.of(List.of(Map.of("a", v(0, 1)), Map.of("a", v(0, 1), "b", Map.of("metrics.kl_div", 1.0))));
        String m = assertThrows(PuzzleException.class, () -> new Problem(lib, "metrics.kl_div", false, List.of(Budget.atMost("stats.memory_mib", 3)))).getMessage();
        assertTrue(m.contains("layer_1") && m.contains("'b'") && m.contains("stats.memory_mib"), m);
        m = assertThrows(PuzzleException.class, () -> new Problem(lib, "metrics.accuracy", false, List.of())).getMessage();
        assertTrue(m.contains("metrics.accuracy") && m.contains("no variant"), m);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void infeasibleReportsSmallestAchievable(Backend backend) {
        SearchLibrary lib = SearchLibrary.of(List.of(Map.of("p", v(0, 10), "s", v(1, 4)), Map.of("p", v(0, 10), "s", v(1, 3))));
        var e = assertThrows(ArchitectureSearch.InfeasibleException.class,
                () -> ArchitectureSearch.solve(new Problem(lib, "metrics.kl_div", false, List.of(Budget.atMost("stats.memory_mib", 5))), opts(backend)));
        assertEquals(7.0, e.achievable().get("stats.memory_mib"), 1e-9);
        assertTrue(e.getMessage().contains("smallest achievable stats.memory_mib is 7"), e.getMessage());
        Set<String> seen = new HashSet<>();
        for (var p : ArchitectureSearch.frontier(new Problem(lib, "metrics.kl_div", false, List.of()), opts(backend), "stats.memory_mib", 5)) {
            assertNotNull(p.solution(), "every frontier point from the smallest achievable up is feasible");
            seen.add(p.solution().chosen().toString());
        }
        assertTrue(seen.size() >= 2);
    }
}
