package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.pipeline.ReportStage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;

/** {@code puzzle report RUN_DIR} re-renders a run's report; {@code puzzle report --compare RUN...} overlays several runs' frontiers. */
@Command(name = "report", mixinStandardHelpOptions = true,
        header = "Re-render a run's report, or overlay the frontiers of several runs.",
        description = {"Reads RUN_DIR/report/report.json. One run: writes its index.html and report.md again (after",
                "an upgrade of the toolkit, say). --compare: writes one self-contained HTML page overlaying the",
                "runs' accuracy-speed frontiers (other hardware profiles, other configs)."},
        footer = {"", "Examples:", "  puzzle report runs/stories260K", "  puzzle report --compare runs/h100 runs/l40s --out compare.html"})
final class ReportCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--compare", description = "Overlay the runs given (needs two or more).")
    boolean compare;

    @Parameters(paramLabel = "RUN_DIR", arity = "1..*", description = "Run directories that 'puzzle compress' finished.")
    List<Path> runs;

    @Option(names = "--out", paramLabel = "FILE", description = "With --compare: the HTML file to write (default: compare.html).")
    Path out = Path.of("compare.html");

    @Override
    public Integer call() throws Exception {
        if (compare && runs.size() < 2) throw new PuzzleException("--compare needs at least two run directories");
        if (!compare && runs.size() > 1) throw new PuzzleException("several run directories: add --compare to overlay them");
        spec.commandLine().getOut().println("wrote " + (compare ? ReportStage.compare(runs, out) : ReportStage.rerender(runs.get(0))));
        return ExitCodes.OK;
    }
}
