package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.BlockLibraryJson;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.mip.ArchitectureSearch;
import dev.puzzle.mip.ArchitectureSearch.Backend;
import dev.puzzle.mip.ArchitectureSearch.Options;
import dev.puzzle.mip.ArchitectureSearch.Problem;
import dev.puzzle.mip.ArchitectureSearch.Solution;
import dev.puzzle.mip.SearchLibrary;
import dev.puzzle.mip.SearchLibrary.Choice;
import dev.puzzle.mip.Budget;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The MIP over any block library file ({@code puzzle search}): the best solutions under budgets, or the
 * frontier along one cost, as tables or one JSON document. Settings may come from a run config's search
 * section; what the request names explicitly wins.
 */
public final class LibrarySearch {
    private LibrarySearch() {}

    /**
     * What to search. Null fields take the run config's value (with {@code config}) or the default.
     *
     * @param config    a run config whose search section and run directory supply what is not given
     * @param library   the block library file (default: the run directory's)
     * @param objective the key to minimize (or maximize)
     * @param budgets   the budgets given on top of the config's
     * @param solve     how many solutions, and the solver's settings
     * @param sweep     the frontier along one cost, or null for the best solutions
     * @param json      one JSON document instead of tables
     */
    public record Request(Path config, Path library, Objective objective, Budgets budgets, Solve solve, Sweep sweep, boolean json) {}

    /** The objective key (null: the config's) and its sense. */
    public record Objective(String key, boolean maximize) {}

    /**
     * Budgets: {@code KEY=VALUE} upper and lower bounds on layer sums; a whole-model throughput (tokens/s) with
     * {@code batch} and {@code generationLength} of the library's workload.
     */
    public record Budgets(List<String> maxes, List<String> mins, Double throughput, Integer batch, Integer generationLength) {}

    /** How many solutions, differing in how many layers, and the solver, its time limit and workers (null: the config's or the default). */
    public record Solve(Integer solutions, Integer diversity, String solver, Double timeLimit, Integer threads) {}

    /** The frontier along {@code key} with {@code points} budgets. */
    public record Sweep(String key, int points) {}

    /** Solves and renders; returns what the command prints. */
    public static String run(Request q) throws IOException {
        List<Budget> budgets = new ArrayList<>();
        boolean maximize = q.objective().maximize();
        String objective = q.objective().key(), solver = q.solve().solver();
        Integer solutions = q.solve().solutions(), diversity = q.solve().diversity();
        Double timeLimit = q.solve().timeLimit();
        Path library = q.library();
        java.util.Map<String, Double> fixed = java.util.Map.of(); // without a run: the library's layers are the whole model
        if (q.config() != null) {
            RunConfig rc = RunConfig.read(q.config());
            RunDirectory dir = new RunDirectory(rc.runDir());
            fixed = dir.fixedCosts();
            RunConfig.Search s = rc.search(fixed);
            if (objective == null) {
                objective = s.objective();
                maximize = s.maximize();
            }
            budgets.addAll(s.budgets());
            if (solutions == null) solutions = s.solutions();
            if (diversity == null) diversity = s.diversity();
            if (solver == null) solver = s.solver().label();
            if (timeLimit == null) timeLimit = s.timeLimit();
            if (library == null) {
                library = Files.exists(dir.scoredLibrary()) ? dir.scoredLibrary() : dir.blockCosts();
                if (!Files.exists(library)) {
                    throw new PuzzleException(q.config() + ": no block library in " + rc.runDir() + " yet (run 'puzzle profile " + q.config() + "' first, or name the library)");
                }
            }
        }
        if (library == null) throw PuzzleException.setting("library", null, "is required (or a run config naming a run directory)");
        if (objective == null) throw PuzzleException.setting("objective", null, "is required (or a run config with a search.objective)");
        int nSolutions = solutions != null ? solutions : 1, nDiversity = diversity != null ? diversity : 1;
        SearchLibrary lib = SearchLibrary.of(BlockLibraryJson.read(library));
        for (String m : q.budgets().maxes()) budgets.add(Budget.parse(m, true));
        for (String m : q.budgets().mins()) budgets.add(Budget.parse(m, false));
        if (q.budgets().throughput() != null) {
            if (q.budgets().batch() == null || q.budgets().generationLength() == null) throw PuzzleException.setting("throughput", q.budgets().throughput(), "needs the library's workload: batch and generation-length");
            if (q.budgets().batch() < 1 || q.budgets().generationLength() < 1) throw PuzzleException.setting(q.budgets().batch() < 1 ? "batch" : "generation-length", q.budgets().batch() < 1 ? q.budgets().batch() : q.budgets().generationLength(), "must be >= 1");
            budgets.add(new WholeModel(fixed).throughput(q.budgets().throughput(), q.budgets().batch(), q.budgets().generationLength()));
        }
        if (q.sweep() != null && q.sweep().points() < 2) throw PuzzleException.setting("points", q.sweep().points(), "must be >= 2");
        if (q.solve().threads() != null && q.solve().threads() < 1) throw PuzzleException.setting("threads", q.solve().threads(), "must be >= 1");
        Options o = new Options(Backend.parse(solver != null ? solver : "cp-sat"), timeLimit != null ? timeLimit : 60,
                q.solve().threads() != null ? q.solve().threads() : Math.max(1, Runtime.getRuntime().availableProcessors()));
        Problem p = new Problem(lib, objective, maximize, budgets);
        StringBuilder out = new StringBuilder();
        ObjectMapper m = new ObjectMapper();
        ObjectNode doc = m.createObjectNode();
        doc.put("library", library.toString());
        doc.put("objective", objective);
        doc.put("sense", maximize ? "maximize" : "minimize");
        doc.put("solver", o.backend().label());
        ArrayNode bj = doc.putArray("budgets");
        for (Budget b : budgets) {
            ObjectNode n = bj.addObject().put("key", b.key());
            if (b.min() != Double.NEGATIVE_INFINITY) n.put("min", b.min());
            if (b.max() != Double.POSITIVE_INFINITY) n.put("max", b.max());
        }
        if (q.sweep() != null) {
            String sweep = q.sweep().key();
            List<ArchitectureSearch.FrontierPoint> pts = ArchitectureSearch.frontier(p, o, sweep, q.sweep().points());
            ArrayNode arr = doc.putArray("frontier");
            if (!q.json()) out.append(String.format(Locale.ROOT, "%-16s %-16s %-16s %s%n", sweep + " <=", objective, "achieved " + sweep, "status"));
            for (var pt : pts) {
                ObjectNode n = arr.addObject().put("budget", pt.budget());
                if (pt.solution() == null) {
                    n.put("status", "INFEASIBLE");
                    if (!q.json()) out.append(String.format(Locale.ROOT, "%-16.6g %-16s %-16s %s%n", pt.budget(), "-", "-", "INFEASIBLE"));
                } else {
                    solutionJson(n, pt.solution());
                    if (!q.json()) out.append(String.format(Locale.ROOT, "%-16.6g %-16.6g %-16.6g %s%n", pt.budget(), pt.solution().value(),
                            pt.solution().totals().get(sweep), pt.solution().status()));
                }
            }
        } else {
            List<Solution> sols = ArchitectureSearch.diverse(p, o, nSolutions, nDiversity);
            ArrayNode arr = doc.putArray("solutions");
            for (int i = 0; i < sols.size(); i++) {
                solutionJson(arr.addObject(), sols.get(i));
                if (!q.json()) table(out, i, sols.get(i), p);
            }
            if (!q.json() && sols.size() < nSolutions) out.append(String.format("(only %d solutions differ pairwise in at least %d layers)%n", sols.size(), nDiversity));
        }
        if (q.json()) out.append(m.writerWithDefaultPrettyPrinter().writeValueAsString(doc)).append('\n');
        return out.toString();
    }

    private static void solutionJson(ObjectNode n, Solution s) {
        n.put("status", s.status());
        n.put("optimal", s.optimal());
        n.put("total_value", s.value());
        if (Double.isFinite(s.bound())) n.put("bound", s.bound());
        if (Double.isFinite(s.gap())) n.put("gap", s.gap());
        n.put("solve_seconds", s.seconds());
        ObjectNode costs = n.putObject("total_costs");
        s.totals().forEach(costs::put);
        ArrayNode layers = n.putArray("layers");
        for (Choice r : s.chosen()) {
            ObjectNode l = layers.addObject().put("layer", r.first());
            if (r.span() > 1) l.put("span", r.span());
            l.put("variant", r.name());
        }
    }

    private static void table(StringBuilder out, int index, Solution s, Problem p) {
        List<String> keys = new ArrayList<>(s.totals().keySet());
        out.append(String.format(Locale.ROOT, "solution %d: %s, %s = %.6g (%s, %.3f s%s)%n", index + 1, s.status().toLowerCase(Locale.ROOT), p.objective(), s.value(),
                s.backend().label(), s.seconds(), Double.isFinite(s.gap()) ? String.format(Locale.ROOT, ", gap %.2g", s.gap()) : ""));
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "  %-9s", "layer"));
        for (String k : keys) head.append(String.format(Locale.ROOT, " %16s", k));
        out.append(head.append("  variant")).append('\n');
        for (Choice r : s.chosen()) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "  %-9s", r.span() == 1 ? String.valueOf(r.first()) : r.first() + "-" + r.last()));
            for (String k : keys) row.append(String.format(Locale.ROOT, " %16.6g", r.values().get(k)));
            out.append(row.append("  ").append(r.name().replace('\t', ' '))).append('\n');
        }
        StringBuilder tot = new StringBuilder(String.format(Locale.ROOT, "  %-9s", "total"));
        for (String k : keys) tot.append(String.format(Locale.ROOT, " %16.6g", s.totals().get(k)));
        out.append(tot).append('\n');
        for (Budget b : p.budgets()) out.append(String.format(Locale.ROOT, "  budget %s: %.6g%n", b, s.totals().get(b.key())));
        out.append('\n');
    }
}
