package dev.puzzle.cli;

import dev.puzzle.pipeline.Run;
import dev.puzzle.pipeline.ScoreStage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** {@code puzzle score CONFIG}: replace-1-block scoring of every candidate into block_library.json. */
@Command(name = "score", mixinStandardHelpOptions = true,
        header = "Score every candidate by replacing one block of the parent (KL, LM loss, top-1 agreement, hidden cosine).",
        description = "Runs the parent with only one layer replaced by each candidate on held-out text and writes RUN_DIR/score/block_library.json (layer_i -> variant -> {stats, metrics}), with the costs of RUN_DIR/profile/block_costs.json merged in when 'puzzle profile' has run, ready for 'puzzle search'.",
        footer = {"", "Example:", "  puzzle score examples/stories260K/puzzle.yaml"})
final class ScoreCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Override
    public Integer call() throws Exception {
        Run run = Run.open(config);
        ScoreStage.Result r = ScoreStage.run(run, new TerminalListener(spec.commandLine().getOut(), spec.commandLine().getErr()));
        spec.commandLine().getOut().printf("scored %d candidates on %d held-out sequences of %d tokens%s: %s%n", r.candidates(), r.sequences(),
                r.sequenceLength(), r.withCosts() ? " (with profile costs)" : "", r.library());
        return ExitCodes.OK;
    }
}
