package dev.puzzle.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.mip.ArchitectureSearch;
import dev.puzzle.mip.ArchitectureSearch.Backend;
import dev.puzzle.mip.ArchitectureSearch.Options;
import dev.puzzle.mip.ArchitectureSearch.Problem;
import dev.puzzle.mip.ArchitectureSearch.Solution;
import dev.puzzle.mip.BlockLibrary;
import dev.puzzle.mip.BlockLibrary.Replacement;
import dev.puzzle.mip.Budget;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** {@code puzzle search}: the MIP over a block library. */
@Command(name = "search", mixinStandardHelpOptions = true,
        header = "Choose one block per layer that optimizes a metric under budgets (MIP, OR-Tools).",
        description = "Reads a block_library.json (layer_i -> variant -> {stats, metrics}); keys are dotted paths such as stats.memory_mib or metrics.kl_div. Prints the chosen variant of each layer and the verified totals; a budget no architecture meets is reported with the smallest achievable value of each cost.",
        footer = {"", "Examples:",
                "  puzzle search --library ../shared/data/llama-3.3-70b-block-library/block_library.json \\",
                "      --objective metrics.kl_div --max stats.memory_mib=80000 --throughput 6000 --batch 256 --generation-length 1200",
                "  puzzle search --library LIB --objective metrics.kl_div --max stats.memory_mib=60000 --solutions 3 --diversity 20 --json",
                "  puzzle search --library LIB --objective metrics.kl_div --sweep stats.runtime_ms --points 20"})
final class SearchCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "CONFIG", description = "A run config whose search section gives the objective, budgets and solver settings (options given here win).")
    Path config;

    @Option(names = "--library", paramLabel = "FILE", description = "The block library (block_library.json layout); default with --config: RUN_DIR/score/block_library.json, else RUN_DIR/profile/block_costs.json.")
    Path library;

    @Option(names = "--objective", paramLabel = "KEY", description = "The metric to optimize, e.g. metrics.kl_div (required without --config).")
    String objective;

    @Option(names = "--maximize", description = "Maximize the objective (default: minimize).")
    boolean maximize;

    @Option(names = "--max", paramLabel = "KEY=VALUE", description = "Upper budget on the sum of a cost (repeatable).")
    List<String> maxes = new ArrayList<>();

    @Option(names = "--min", paramLabel = "KEY=VALUE", description = "Lower budget on the sum of a cost (repeatable).")
    List<String> mins = new ArrayList<>();

    @Option(names = "--throughput", paramLabel = "TOK/S", description = "Throughput target: stats.runtime_ms <= 1000 * batch * generation length / throughput.")
    Double throughput;

    @Option(names = "--batch", paramLabel = "B", description = "Batch size of the library's workload (with --throughput).")
    Integer batch;

    @Option(names = "--generation-length", paramLabel = "N", description = "Tokens per sequence of the library's workload (with --throughput).")
    Integer generationLength;

    @Option(names = "--solutions", paramLabel = "K", description = "How many solutions (default: 1).")
    Integer solutions;

    @Option(names = "--diversity", paramLabel = "D", description = "Solutions differ pairwise in at least D layers (default: 1).")
    Integer diversity;

    @Option(names = "--sweep", paramLabel = "KEY", description = "Trace the frontier along this cost: the best solution at evenly spaced budgets on it.")
    String sweep;

    @Option(names = "--points", paramLabel = "N", description = "Points of the --sweep (default: ${DEFAULT-VALUE}).")
    int points = 10;

    @Option(names = "--solver", paramLabel = "NAME", description = "cp-sat or scip (default: cp-sat).")
    String solver;

    @Option(names = "--time-limit", paramLabel = "S", description = "Seconds per solve (default: 60).")
    Double timeLimit;

    @Option(names = "--threads", paramLabel = "N", description = "Solver workers (default: all cores).")
    Integer threads;

    @Option(names = "--json", description = "Print one JSON document instead of tables.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<Budget> budgets = new ArrayList<>();
        boolean maximize = this.maximize;
        if (config != null) {
            RunConfig rc = RunConfig.read(config);
            RunConfig.Search s = rc.search(fixedCosts(rc.runDir().resolve("profile/model_costs.json")));
            if (objective == null) {
                objective = s.objective();
                maximize = s.maximize();
            }
            budgets.addAll(s.budgets());
            if (solutions == null) solutions = s.solutions();
            if (diversity == null) diversity = s.diversity();
            if (solver == null) solver = s.solver();
            if (timeLimit == null) timeLimit = s.timeLimit();
            if (library == null) {
                Path scored = rc.runDir().resolve("score/block_library.json"), costs = rc.runDir().resolve("profile/block_costs.json");
                library = java.nio.file.Files.exists(scored) ? scored : costs;
                if (!java.nio.file.Files.exists(library)) {
                    throw new PuzzleException(config + ": no block library in " + rc.runDir() + " yet (run 'puzzle profile " + config + "' first, or pass --library)");
                }
            }
        }
        if (library == null) throw new PuzzleException("--library is required (or --config naming a run directory)");
        if (objective == null) throw new PuzzleException("--objective is required (or --config with a search.objective)");
        int solutions = this.solutions != null ? this.solutions : 1, diversity = this.diversity != null ? this.diversity : 1;
        String solver = this.solver != null ? this.solver : "cp-sat";
        double timeLimit = this.timeLimit != null ? this.timeLimit : 60;
        BlockLibrary lib = BlockLibrary.read(library);
        for (String m : maxes) budgets.add(Budget.parse(m, true, "--max"));
        for (String m : mins) budgets.add(Budget.parse(m, false, "--min"));
        if (throughput != null) {
            if (batch == null || generationLength == null) throw new PuzzleException("--throughput needs --batch and --generation-length (the library's workload)");
            if (batch < 1 || generationLength < 1) throw new PuzzleException("--batch and --generation-length must be >= 1");
            budgets.add(Budget.atMost("stats.runtime_ms", Budget.runtimeMsForThroughput(throughput, batch, generationLength)));
        }
        if (points < 2) throw new PuzzleException("--points must be >= 2, got " + points);
        Options o = new Options(Backend.parse(solver), timeLimit, threads != null ? threads : Math.max(1, Runtime.getRuntime().availableProcessors()));
        Problem p = new Problem(lib, objective, maximize, budgets);
        final int nSolutions = solutions, nDiversity = diversity;
        PrintWriter out = spec.commandLine().getOut();
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
        if (sweep != null) {
            List<ArchitectureSearch.FrontierPoint> pts = ArchitectureSearch.frontier(p, o, sweep, points);
            ArrayNode arr = doc.putArray("frontier");
            if (!json) out.printf(Locale.ROOT, "%-16s %-16s %-16s %s%n", sweep + " <=", objective, "achieved " + sweep, "status");
            for (var pt : pts) {
                ObjectNode n = arr.addObject().put("budget", pt.budget());
                if (pt.solution() == null) {
                    n.put("status", "INFEASIBLE");
                    if (!json) out.printf(Locale.ROOT, "%-16.6g %-16s %-16s %s%n", pt.budget(), "-", "-", "INFEASIBLE");
                } else {
                    solutionJson(n, pt.solution(), lib, m);
                    if (!json) out.printf(Locale.ROOT, "%-16.6g %-16.6g %-16.6g %s%n", pt.budget(), pt.solution().value(),
                            pt.solution().totals().get(sweep), pt.solution().status());
                }
            }
        } else {
            List<Solution> sols = ArchitectureSearch.diverse(p, o, nSolutions, nDiversity);
            ArrayNode arr = doc.putArray("solutions");
            for (int i = 0; i < sols.size(); i++) {
                solutionJson(arr.addObject(), sols.get(i), lib, m);
                if (!json) printTable(out, i, sols.get(i), p);
            }
            if (!json && sols.size() < nSolutions) out.printf("(only %d solutions differ pairwise in at least %d layers)%n", sols.size(), nDiversity);
        }
        if (json) out.println(m.writerWithDefaultPrettyPrinter().writeValueAsString(doc));
        return ExitCodes.OK;
    }

    /** The embeddings-and-head costs that profile wrote, by stats key; empty when not profiled. */
    static java.util.Map<String, Double> fixedCosts(Path modelCosts) throws java.io.IOException {
        java.util.Map<String, Double> out = new java.util.HashMap<>();
        if (!java.nio.file.Files.exists(modelCosts)) return out;
        var node = new ObjectMapper().readTree(modelCosts.toFile()).path("embeddings_and_head");
        node.fields().forEachRemaining(e -> out.put("stats." + e.getKey(), e.getValue().asDouble()));
        return out;
    }

    private static void solutionJson(ObjectNode n, Solution s, BlockLibrary lib, ObjectMapper m) {
        n.put("status", s.status());
        n.put("optimal", s.optimal());
        n.put("total_value", s.value());
        if (Double.isFinite(s.bound())) n.put("bound", s.bound());
        if (Double.isFinite(s.gap())) n.put("gap", s.gap());
        n.put("solve_seconds", s.seconds());
        ObjectNode costs = n.putObject("total_costs");
        s.totals().forEach(costs::put);
        ArrayNode layers = n.putArray("layers");
        for (Replacement r : s.chosen()) {
            ObjectNode l = layers.addObject().put("layer", r.first());
            if (r.span() > 1) l.put("span", r.span());
            l.put("variant", r.name());
        }
    }

    private void printTable(PrintWriter out, int index, Solution s, Problem p) {
        List<String> keys = new ArrayList<>(s.totals().keySet());
        out.printf(Locale.ROOT, "solution %d: %s, %s = %.6g (%s, %.3f s%s)%n", index + 1, s.status().toLowerCase(Locale.ROOT), p.objective(), s.value(),
                s.backend().label(), s.seconds(), Double.isFinite(s.gap()) ? String.format(Locale.ROOT, ", gap %.2g", s.gap()) : "");
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "  %-9s", "layer"));
        for (String k : keys) head.append(String.format(Locale.ROOT, " %16s", k));
        out.println(head.append("  variant"));
        for (Replacement r : s.chosen()) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "  %-9s", r.span() == 1 ? String.valueOf(r.first()) : r.first() + "-" + r.last()));
            for (String k : keys) row.append(String.format(Locale.ROOT, " %16.6g", r.values().get(k)));
            out.println(row.append("  ").append(r.name().replace('\t', ' ')));
        }
        StringBuilder tot = new StringBuilder(String.format(Locale.ROOT, "  %-9s", "total"));
        for (String k : keys) tot.append(String.format(Locale.ROOT, " %16.6g", s.totals().get(k)));
        out.println(tot);
        for (Budget b : p.budgets()) out.printf(Locale.ROOT, "  budget %s: %.6g%n", b, s.totals().get(b.key()));
        out.println();
    }
}
