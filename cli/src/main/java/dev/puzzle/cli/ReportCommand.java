package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.pipeline.ReportStage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;

/** {@code puzzle report --compare RUN...}: overlay the frontiers of several runs or hardware profiles. */
@Command(name = "report", mixinStandardHelpOptions = true,
        header = "Overlay the accuracy-throughput frontiers of several compress runs in one HTML page.",
        description = "Reads RUN_DIR/report/report.json of each run and writes one self-contained HTML page.",
        footer = {"", "Example:", "  puzzle report --compare runs/h100 runs/l40s --out compare.html"})
final class ReportCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--compare", description = "Overlay the runs given (needs two or more).")
    boolean compare;

    @Parameters(paramLabel = "RUN_DIR", arity = "1..*", description = "Run directories that 'puzzle compress' finished.")
    List<Path> runs;

    @Option(names = "--out", paramLabel = "FILE", description = "The HTML file to write (default: compare.html).")
    Path out = Path.of("compare.html");

    @Override
    public Integer call() throws Exception {
        if (compare && runs.size() < 2) throw new PuzzleException("--compare needs at least two run directories");
        spec.commandLine().getOut().println("wrote " + ReportStage.compare(runs, out));
        return ExitCodes.OK;
    }
}
