package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.config.Json;
import dev.puzzle.core.io.AtomicFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
        List<JsonNode> reports = new ArrayList<>();
        for (Path r : runs) {
            Path f = r.resolve("report/report.json");
            if (!Files.exists(f)) throw new PuzzleException(r + ": no report/report.json (run 'puzzle compress' on it first)");
            reports.add(Json.readObject(f, "a compress report"));
        }
        AtomicFiles.writeString(out, Report.html(reports, "Puzzle frontiers: " + runs));
        spec.commandLine().getOut().println("wrote " + out);
        return ExitCodes.OK;
    }
}
