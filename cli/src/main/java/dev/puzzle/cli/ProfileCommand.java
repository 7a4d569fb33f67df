package dev.puzzle.cli;

import dev.puzzle.pipeline.ProfileStage;
import dev.puzzle.pipeline.Run;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;

/** {@code puzzle profile CONFIG}: the cost of every candidate block on a hardware profile and workload. */
@Command(name = "profile", mixinStandardHelpOptions = true,
        header = "Cost every candidate block of the search space on a hardware profile and workload.",
        description = "Reads the run config's parent, search_space, hardware, workload and cost_model (roofline, or measured: the real kernels timed here). Writes RUN_DIR/profile/block_costs.json (block_library.json layout, stats only) and RUN_DIR/profile/model_costs.json (embeddings, head, the parent's totals), and prints a table.",
        footer = {"", "Example:", "  puzzle profile examples/stories260K/puzzle.yaml"})
final class ProfileCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @picocli.CommandLine.Mixin
    BackendOption backendOpt;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Option(names = "--hardware", paramLabel = "PROFILE", description = "Override the config's hardware profile.")
    String hardware;

    @Override
    public Integer call() throws Exception {
        Run run = Run.open(config, backendOpt.backend());
        PrintWriter out = spec.commandLine().getOut();
        ProfileStage.Result r = ProfileStage.run(run, hardware, new TerminalListener(out, spec.commandLine().getErr()));
        for (String line : r.table(run.parent.source())) out.println(line);
        out.printf("wrote %s and %s%n", run.dir.blockCosts(), run.dir.modelCosts());
        return ExitCodes.OK;
    }
}
