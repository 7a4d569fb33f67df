package dev.puzzle.cli;

import dev.puzzle.pipeline.LibrarySearch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code puzzle search}: the MIP over a block library. */
@Command(name = "search", mixinStandardHelpOptions = true,
        header = "Choose one block per layer that optimizes a metric under budgets (MIP, OR-Tools).",
        description = "Reads a block_library.json (layer_i -> variant -> {stats, metrics}); keys are dotted paths such as stats.memory_mib or metrics.kl_div. Prints the chosen variant of each layer and the verified totals; a budget no architecture meets is reported with the smallest achievable value of each cost.",
        footer = {"", "Examples:",
                "  puzzle search --library \\", "      ../shared/data/llama-3.3-70b-block-library/block_library.json \\",
                "      --objective metrics.kl_div --max stats.memory_mib=80000 --throughput \\", "      6000 --batch 256 --generation-length 1200",
                "  puzzle search --library LIB --objective metrics.kl_div --max \\", "      stats.memory_mib=60000 --solutions 3 --diversity 20 --json",
                "  puzzle search --library LIB --objective metrics.kl_div --sweep \\", "      stats.runtime_ms --points 20"})
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

    @Option(names = "--throughput", paramLabel = "TOK/S", description = "Whole-model throughput target: the layers' stats.runtime_ms <= 1000 * batch * generation length / throughput, less the embeddings' and head's share when --config names a profiled run.")
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
        spec.commandLine().getOut().print(LibrarySearch.run(new LibrarySearch.Request(config, library,
                new LibrarySearch.Objective(objective, maximize), new LibrarySearch.Budgets(maxes, mins, throughput, batch, generationLength),
                new LibrarySearch.Solve(solutions, diversity, solver, timeLimit, threads), sweep == null ? null : new LibrarySearch.Sweep(sweep, points), json)));
        return ExitCodes.OK;
    }
}
