package dev.puzzle.examples.bench;

import dev.puzzle.blocklibrary.BlockLibraryJson;
import dev.puzzle.mip.ArchitectureSearch;
import dev.puzzle.mip.ArchitectureSearch.Backend;
import dev.puzzle.mip.ArchitectureSearch.Options;
import dev.puzzle.mip.ArchitectureSearch.Problem;
import dev.puzzle.mip.ArchitectureSearch.Solution;
import dev.puzzle.mip.SearchLibrary;
import dev.puzzle.mip.SearchLibrary.Choice;
import dev.puzzle.mip.Budget;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * MIP solve times: NVIDIA's 80 × 16 Llama-3.3-70B library to optimality (after a first solve loads the
 * native libraries), a synthetic 120 layers × 100 variants × 3 budgets instance, and a 50-point frontier
 * sweep on the 80 × 16 library. Usage: MipBench LIBRARY.json [THREADS]
 */
public final class MipBench {
    public static void main(String[] args) {
        SearchLibrary lib = SearchLibrary.of(BlockLibraryJson.read(Path.of(args[0])));
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        String kl = "metrics.kl_div", mem = "stats.memory_mib", run = "stats.runtime_ms";
        Problem p = new Problem(lib, kl, false, List.of(Budget.atMost(mem, 80_000), Budget.atMost(run, 51_200)));
        for (Backend b : Backend.values()) {
            Options o = new Options(b, 600, threads);
            long t0 = System.nanoTime();
            ArchitectureSearch.solve(p, o); // loads the native libraries
            double first = (System.nanoTime() - t0) / 1e9;
            double best = Double.MAX_VALUE;
            Solution s = null;
            for (int r = 0; r < 5; r++) {
                long t1 = System.nanoTime();
                s = ArchitectureSearch.solve(p, o);
                best = Math.min(best, (System.nanoTime() - t1) / 1e9);
            }
            System.out.printf(Locale.ROOT, "80x16 %s: %s KL %.6f in %.3f s (best of 5; first call incl. native load %.3f s)%n",
                    b.label(), s.status(), s.value(), best, first);
        }
        // Synthetic 120 × 100 × 3: costs and KL that trade off (cheaper variants hurt more), budgets at 60% of the parent.
        Random rnd = new Random(7);
        List<Choice> reps = new ArrayList<>();
        String[] costs = {"stats.memory_mib", "stats.runtime_ms", "stats.num_params"};
        double[] parent = new double[3];
        for (int l = 0; l < 120; l++) {
            for (int v = 0; v < 100; v++) {
                Map<String, Double> m = new LinkedHashMap<>();
                double size = v == 0 ? 1 : rnd.nextDouble();
                m.put(kl, v == 0 ? 0 : (1 - size) * (0.5 + rnd.nextDouble()) * (1 + l % 7));
                for (int c = 0; c < 3; c++) {
                    double val = 100 * size * (0.8 + 0.4 * rnd.nextDouble()) * (c + 1);
                    m.put(costs[c], val);
                    if (v == 0) parent[c] += val;
                }
                reps.add(new Choice(reps.size(), l, 1, "v" + v, m));
            }
        }
        SearchLibrary big = new SearchLibrary(120, reps, "synthetic");
        List<Budget> budgets = new ArrayList<>();
        for (int c = 0; c < 3; c++) budgets.add(Budget.atMost(costs[c], 0.6 * parent[c]));
        for (Backend b : Backend.values()) {
            long t0 = System.nanoTime();
            Solution s = ArchitectureSearch.solve(new Problem(big, kl, false, budgets), new Options(b, 600, threads));
            System.out.printf(Locale.ROOT, "120x100x3 %s: %s value %.4f gap %.2g in %.3f s%n", b.label(), s.status(), s.value(), s.gap(),
                    (System.nanoTime() - t0) / 1e9);
        }
        long t0 = System.nanoTime();
        var pts = ArchitectureSearch.frontier(new Problem(lib, kl, false, List.of(Budget.atMost(mem, 80_000))), new Options(Backend.CP_SAT, 600, threads), run, 50);
        long feasible = pts.stream().filter(x -> x.solution() != null).count();
        System.out.printf(Locale.ROOT, "frontier 50 points on stats.runtime_ms (cp-sat): %.3f s total, %d feasible%n", (System.nanoTime() - t0) / 1e9, feasible);
    }
}
