package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.hardware.TokenRate;
import dev.puzzle.hardware.Workload;
import dev.puzzle.mip.ArchitectureSearch;
import dev.puzzle.mip.SearchLibrary;
import dev.puzzle.mip.Budget;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The search stage of compress: for each throughput target, the MIP (with the run config's objective,
 * solver and time limit) picks one candidate per layer under the whole-model budgets; a target no
 * architecture meets is reported with the best any architecture reaches and the parent's own figure.
 */
public final class SearchStage {
    private SearchStage() {}

    /**
     * The Puzzle children found and why the other targets were not met; with what the later stages reuse:
     * the parent's throughput, each target's tokens/s and layer budgets, every layer's candidates by name.
     */
    public record Result(List<Plan> children, List<String> unreachable, double parentTokensPerSecond, Map<RunConfig.Target, Double> tokensPerSecond,
                         Map<RunConfig.Target, List<Budget>> budgets, List<Map<String, BlockConfig>> candidatesByName) {}

    /** The variant name → block of every layer's candidates. */
    public static List<Map<String, BlockConfig>> candidatesByName(Run run) {
        ModelConfig pc = run.parent.config();
        List<Map<String, BlockConfig>> out = new ArrayList<>();
        for (int l = 0; l < pc.numLayers(); l++) {
            Map<String, BlockConfig> m = new LinkedHashMap<>();
            for (SearchSpace.Candidate c : run.space.candidates(pc, l)) m.put(c.name(), c.block());
            out.add(m);
        }
        try { // a fused run's name stands for its block at every layer it covers
            for (Fusion.Span f : Fusion.of(run, null).spans()) {
                for (int k = 0; k < f.span(); k++) out.get(f.first() + k).put(f.name(), f.blocks().get(k));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out;
    }

    /** The layer budgets a whole-model target means: runtime (and memory) net of the embeddings' and head's share. */
    public static List<Budget> budgets(double tokensPerSecond, Double memoryMib, Workload w, Map<String, Double> fixed) {
        List<Budget> b = new ArrayList<>();
        b.add(RunConfig.wholeModel(LibraryKeys.RUNTIME_MS, TokenRate.runtimeMs(tokensPerSecond, w), fixed));
        if (memoryMib != null) b.add(RunConfig.wholeModel(LibraryKeys.MEMORY_MIB, memoryMib, fixed));
        return b;
    }

    public static Result run(Run run, SearchLibrary lib, Listener listener) {
        RunConfig rc = run.config;
        RunConfig.Compress cc = rc.compress();
        RunConfig.Search s = rc.compressSearch();
        Workload w = rc.workload();
        Map<String, Double> fixed = run.dir.fixedCosts();
        double parentTps = run.dir.parentThroughput();
        List<Map<String, BlockConfig>> byName = candidatesByName(run);
        ArchitectureSearch.Options o = new ArchitectureSearch.Options(s.solver(), s.timeLimit(), Math.max(1, Parallel.threads()));
        List<Plan> plans = new ArrayList<>();
        List<String> unreachable = new ArrayList<>();
        Map<RunConfig.Target, List<Budget>> all = new LinkedHashMap<>();
        Map<RunConfig.Target, Double> rates = new LinkedHashMap<>();
        for (RunConfig.Target t : cc.throughputs()) {
            double tps = t.tokensPerSecond(parentTps);
            List<Budget> budgets = budgets(tps, cc.memoryMib(), w, fixed);
            all.put(t, budgets);
            rates.put(t, tps);
            try {
                ArchitectureSearch.Solution sol = ArchitectureSearch.solve(new ArchitectureSearch.Problem(lib, s.objective(), s.maximize(), budgets), o);
                List<BlockConfig> blocks = new ArrayList<>();
                List<String> names = new ArrayList<>();
                for (int l = 0; l < lib.numLayers(); l++) {
                    String v = sol.atLayer(l).name();
                    BlockConfig b = byName.get(l).get(v);
                    if (b == null) throw new PuzzleException(lib.source() + ": layer_" + l + " variant '" + v + "' is not a candidate of the run's search space");
                    names.add(v);
                    blocks.add(b);
                }
                String how = String.format(Locale.ROOT, "%s, %s limit %s s, %s%s", sol.backend().label(), s.objective(), TokenRate.format(s.timeLimit()),
                        sol.status().toLowerCase(Locale.ROOT), Double.isFinite(sol.gap()) && sol.gap() > 0 ? String.format(Locale.ROOT, " (gap %.2g)", sol.gap()) : "");
                plans.add(new Plan("puzzle-" + t.label(), Plan.Kind.PUZZLE, t, tps, blocks, names, how));
            } catch (ArchitectureSearch.InfeasibleException e) {
                String why = unreachable(lib, t, tps, parentTps, cc.memoryMib(), w, fixed, o);
                unreachable.add(why);
                listener.stage("search", why);
            }
        }
        return new Result(plans, unreachable, parentTps, rates, all, byName);
    }

    /** Why a target cannot be met, in whole-model terms: the best throughput and least memory any architecture has, and the parent's. */
    static String unreachable(SearchLibrary lib, RunConfig.Target t, double tps, double parentTps, Double memoryMib, Workload w, Map<String, Double> fixed,
                              ArchitectureSearch.Options o) {
        double minRuntime = ArchitectureSearch.extreme(lib, LibraryKeys.RUNTIME_MS, false, o) + fixed.getOrDefault(LibraryKeys.RUNTIME_MS, 0.0);
        double minMemory = ArchitectureSearch.extreme(lib, LibraryKeys.MEMORY_MIB, false, o) + fixed.getOrDefault(LibraryKeys.MEMORY_MIB, 0.0);
        double best = TokenRate.tokensPerSecond(minRuntime, w);
        String asked = t.relative() ? String.format(Locale.ROOT, "%s (%.0f tokens/s)", t.label(), tps) : String.format(Locale.ROOT, "%.0f tokens/s", tps);
        return String.format(Locale.ROOT, "%s%s: no architecture meets it; the parent runs %.0f tokens/s, the fastest architecture reaches %.0f tokens/s"
                        + " (%.2fx the parent; %.4g ms, of which embeddings and head take %.4g ms) and the smallest needs %.4g MiB",
                asked, memoryMib != null ? String.format(Locale.ROOT, " within %.4g MiB", memoryMib) : "", parentTps, best, best / parentTps,
                minRuntime, fixed.getOrDefault(LibraryKeys.RUNTIME_MS, 0.0), minMemory);
    }
}
