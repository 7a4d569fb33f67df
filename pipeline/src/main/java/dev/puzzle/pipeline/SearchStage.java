package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.blocklibrary.BlockLibrary.Replacement;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.LibraryKeys;
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
     * the parent's throughput, each target's tokens/s and layer budgets.
     */
    public record Result(List<Plan> children, List<String> unreachable, double parentTokensPerSecond, Map<RunConfig.Target, Double> tokensPerSecond,
                         Map<RunConfig.Target, List<Budget>> budgets) {}

    /**
     * The typed replacements a solution chose, in layer order: the MIP's choices are indices into the library
     * it was given ({@link SearchLibrary#of(BlockLibrary)} keeps the library's order).
     */
    public static List<Replacement> chosen(BlockLibrary lib, ArchitectureSearch.Solution sol) {
        List<Replacement> out = new ArrayList<>();
        for (SearchLibrary.Choice c : sol.chosen()) {
            Replacement r = lib.replacements().get(c.index());
            if (r.blocks().isEmpty()) {
                throw new PuzzleException(lib.source() + ": " + r.layerKey() + " variant '" + r.name() + "' names no block of this toolkit (another tool's library?)");
            }
            out.add(r);
        }
        return out;
    }

    /** The layer budgets a whole-model target means: runtime (and memory) net of the embeddings' and head's share. */
    public static List<Budget> budgets(double tokensPerSecond, Double memoryMib, Workload w, Map<String, Double> fixed) {
        List<Budget> b = new ArrayList<>();
        WholeModel whole = new WholeModel(fixed);
        b.add(whole.throughput(tokensPerSecond, w.batch(), w.generationLength()));
        if (memoryMib != null) b.add(whole.atMost(LibraryKeys.MEMORY_MIB, memoryMib));
        return b;
    }

    public static Result run(Run run, BlockLibrary typed, Listener listener) {
        SearchLibrary lib = SearchLibrary.of(typed);
        RunConfig rc = run.config;
        RunConfig.Compress cc = rc.compress();
        RunConfig.Search s = rc.compressSearch();
        Workload w = rc.workload();
        Map<String, Double> fixed = run.dir.fixedCosts();
        double parentTps = run.dir.parentThroughput();
        ArchitectureSearch.Options o = new ArchitectureSearch.Options(s.solver(), s.timeLimit(), run.backend.threads());
        List<Plan> plans = new ArrayList<>();
        List<String> unreachable = new ArrayList<>();
        Map<RunConfig.Target, List<Budget>> all = new LinkedHashMap<>();
        Map<RunConfig.Target, Double> rates = new LinkedHashMap<>();
        for (RunConfig.Target t : cc.throughputs()) {
            double tps = t.tokensPerSecond(parentTps), searched = tps * (1 + cc.margin()); // the margin held back for the cost model's error
            List<Budget> budgets = budgets(searched, cc.memoryMib(), w, fixed);
            all.put(t, budgets);
            rates.put(t, tps);
            try {
                ArchitectureSearch.Solution sol = ArchitectureSearch.solve(new ArchitectureSearch.Problem(lib, s.objective(), s.maximize(), budgets), o);
                String how = String.format(Locale.ROOT, "%s, %s limit %s s, %s%s%s", sol.backend().label(), s.objective(), TokenRate.format(s.timeLimit()),
                        sol.status().toLowerCase(Locale.ROOT), Double.isFinite(sol.gap()) && sol.gap() > 0 ? String.format(Locale.ROOT, " (gap %.2g)", sol.gap()) : "",
                        cc.margin() > 0 ? String.format(Locale.ROOT, ", searched for %.0f tokens/s (a %.0f%% margin)", searched, 100 * cc.margin()) : "");
                plans.add(new Plan("puzzle-" + t.label(), Plan.Kind.PUZZLE, t, tps, chosen(typed, sol), how));
            } catch (ArchitectureSearch.InfeasibleException e) {
                String why = unreachable(lib, t, searched, parentTps, cc.memoryMib(), w, fixed, o);
                unreachable.add(why);
                listener.stage("search", why);
            }
        }
        return new Result(plans, unreachable, parentTps, rates, all);
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
