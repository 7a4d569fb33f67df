package dev.puzzle.cli;

import dev.puzzle.pipeline.Compress;
import dev.puzzle.pipeline.Run;
import dev.puzzle.pipeline.report.ReportModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** {@code puzzle compress CONFIG}: every stage, resumable. */
@Command(name = "compress", mixinStandardHelpOptions = true,
        header = "Run every Puzzle stage: profile, library, distill, score, search, realize, baselines, evaluate, report.",
        description = "For each whole-model throughput target in the config's compress.throughputs, searches the least-KL architecture, realizes it as a Hugging Face directory (RUN_DIR/compress/NAME/model), builds the uniform-pruning and layer-dropping baselines at the same budgets, evaluates all of them and the parent with one harness, and writes RUN_DIR/report/{index.html,report.md,report.json}. Finished stages are skipped: rerun to resume.",
        footer = {"", "Example:", "  puzzle compress examples/stories260K/puzzle.yaml"})
final class CompressCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @picocli.CommandLine.Mixin
    BackendOption backendOpt;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Override
    public Integer call() throws Exception {
        TerminalListener listener = new TerminalListener(spec.commandLine().getOut(), spec.commandLine().getErr());
        ReportModel r = Compress.run(Run.open(config, backendOpt.backend()), listener);
        for (String line : r.summaryLines()) spec.commandLine().getOut().println(line);
        spec.commandLine().getOut().println(listener.times());
        return ExitCodes.OK;
    }
}
