package dev.puzzle.cli;

import dev.puzzle.pipeline.Run;
import dev.puzzle.pipeline.DistillStage;
import dev.puzzle.pipeline.ScoreStage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** {@code puzzle score CONFIG}: replace-1-block scoring of every candidate into block_library.json. */
@Command(name = "score", mixinStandardHelpOptions = true,
        header = "Score every candidate by replacing one block of the parent (KL, LM loss, top-1 agreement, hidden cosine).",
        description = "Runs the parent with only one layer replaced by each candidate on held-out text and writes RUN_DIR/score/block_library.json (layer_i -> variant -> {stats, metrics}), with the costs of RUN_DIR/profile/block_costs.json merged in when 'puzzle profile' has run, ready for 'puzzle search'.",
        footer = {"", "Examples:", "  puzzle score examples/stories260K/puzzle.yaml",
                "  # one of four processes or cluster tasks:",
                "  puzzle score examples/stories260K/puzzle.yaml --shard 0/4",
                "  # after all four, check them and write the library:",
                "  puzzle score examples/stories260K/puzzle.yaml --merge 4"})
final class ScoreCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @picocli.CommandLine.Mixin
    BackendOption backendOpt;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @picocli.CommandLine.Option(names = "--shard", paramLabel = "i/N", description = "Score only shard i of N (every N-th candidate): each candidate's scores are kept in RUN_DIR/score/jobs; a rerun resumes; no library is written.")
    String shard;

    @picocli.CommandLine.Option(names = "--merge", paramLabel = "N", description = "After the N shards: check that every candidate was scored once, by its shard, and write the library.")
    Integer merge;

    @Override
    public Integer call() throws Exception {
        if (shard != null && merge != null) throw new dev.puzzle.core.PuzzleException("--shard and --merge: one at a time (the shards first, then the merge)");
        Run run = Run.open(config, backendOpt.backend());
        TerminalListener listener = new TerminalListener(spec.commandLine().getOut(), spec.commandLine().getErr());
        if (shard != null) {
            DistillStage.Shard sh = DistillStage.Shard.parse(shard);
            int n = ScoreStage.runShard(run, sh, listener);
            spec.commandLine().getOut().printf("scored shard %s: %d candidates (kept in %s)%n", sh, n, run.dir.layout().scoreJobsDir());
            return ExitCodes.OK;
        }
        ScoreStage.Result r = merge != null ? ScoreStage.merge(run, merge, listener) : ScoreStage.run(run, listener);
        spec.commandLine().getOut().printf("scored %d candidates on %d held-out sequences of %d tokens%s: %s%n", r.candidates(), r.sequences(),
                r.sequenceLength(), r.withCosts() ? " (with profile costs)" : "", r.library());
        return ExitCodes.OK;
    }
}
