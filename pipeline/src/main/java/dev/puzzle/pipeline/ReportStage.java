package dev.puzzle.pipeline;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.pipeline.report.HtmlReport;
import dev.puzzle.pipeline.report.ReportModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The report stage: the report model of a run from its evaluations, written as JSON, Markdown and HTML; and overlays of several runs. */
public final class ReportStage {
    private ReportStage() {}

    public static ReportModel run(Run run, String hardware, String costModel, double parentTps, String measurement, List<ReportModel.ModelResult> models,
                                  List<String> infeasible) throws IOException {
        RunConfig rc = run.config;
        var w = rc.workload();
        List<String> targets = new ArrayList<>();
        for (RunConfig.Target t : rc.compress().throughputs()) targets.add(t.label());
        ReportModel r = ReportModel.build(rc.runDir().toString(), rc.file.toString(), hardware, costModel,
                new ReportModel.Workload(w.batch(), w.prefillLength(), w.generationLength(), w.weightDtype(), w.kvDtype()), parentTps, measurement,
                models, infeasible, targets).withLeftOut(leftOut(run, models));
        r.write(run.dir.reportDir());
        return r;
    }

    /** What training left out: every BLD job that diverged, and every child whose GKD did. */
    static List<String> leftOut(Run run, List<ReportModel.ModelResult> models) throws IOException {
        List<String> out = new ArrayList<>();
        for (String d : dev.puzzle.bld.Bld.divergences(run.dir.root())) out.add(d + ": the candidate is left out of the library");
        for (ReportModel.ModelResult m : models) {
            Path f = RealizeStage.gkdDiverged(run, m.name());
            if (Files.exists(f)) out.add(m.name() + ": " + Files.readString(f).strip() + "; the child is the one before GKD");
        }
        return out;
    }

    /** One HTML page overlaying the frontiers of finished runs ({@code puzzle report --compare}); returns the file written. */
    public static Path compare(List<Path> runDirs, Path out) throws IOException {
        List<ReportModel> reports = new ArrayList<>();
        for (Path r : runDirs) {
            Path f = new RunDirectory(r).reportDir().resolve("report.json");
            if (!Files.exists(f)) throw new PuzzleException(r + ": no report/report.json (run 'puzzle compress' on it first)");
            reports.add(ReportModel.readJson(f));
        }
        dev.puzzle.core.io.AtomicFiles.writeString(out, HtmlReport.render(reports, "Puzzle frontiers: " + runDirs));
        return out;
    }
}
