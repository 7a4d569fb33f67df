package dev.puzzle.cli;

import dev.puzzle.pipeline.Status;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** {@code puzzle status RUN_DIR}: per stage, jobs done, running, failed, of how many, and an ETA. */
@Command(name = "status", mixinStandardHelpOptions = true,
        header = "Show where a run stands: per stage, jobs done, running, failed, and an ETA.",
        description = "Reads the run directory alone, as the processes of a cluster run write it: cached layers, initialized candidates, BLD jobs (done, started and not finished, diverged), scored candidates, realized and evaluated children, the report. 'running' counts jobs started and not finished: a crashed job counts until it reruns. The ETA follows the pace of the finished jobs.",
        footer = {"", "Example:", "  puzzle status runs/stories260K"})
final class StatusCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RUN_DIR", description = "The run directory.")
    Path runDir;

    @Override
    public Integer call() throws Exception {
        spec.commandLine().getOut().print(Status.render(Status.of(Status.open(runDir))));
        return ExitCodes.OK;
    }
}
