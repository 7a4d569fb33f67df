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

    /** @param lengths each model's mean generated tokens per held-out prompt ({@link RequestLengths}); empty without workload.requests */
    public static ReportModel run(Run run, String hardware, String costModel, double parentTps, String measurement, List<ReportModel.ModelResult> models,
                                  List<String> infeasible, java.util.Map<String, Double> lengths) throws IOException {
        RunConfig rc = run.config;
        var w = rc.workload();
        List<String> targets = new ArrayList<>();
        for (RunConfig.Target t : rc.compress().throughputs()) targets.add(t.label());
        ReportModel r = ReportModel.build(rc.runDir().toString(), rc.file.toString(), hardware, costModel,
                new ReportModel.Workload(w.batch(), w.prefillLength(), w.generationLength(), w.weightDtype(), w.kvDtype()), parentTps, measurement,
                rc.compress().memoryMib(), models, infeasible, targets).withLeftOut(leftOut(run, models)).with(evaluation(run), metadata(run),
                run.space.fusionMaxRun() > 0 ? run.space.fusionThreshold() : null, run.task() == null ? null : run.task().description());
        String mamba = mambaChoice(run, models);
        if (mamba != null) r = r.withSummaryLine(mamba);
        var requests = rc.requests();
        if (!requests.isEmpty()) {
            r = r.withRequests(ReportModel.RequestLevel.of(requests, lengths, models, RequestLengths.PROMPTS, RequestLengths.PROMPT_TOKENS,
                    RequestLengths.cap(run, requests)));
        }
        r.write(run.dir.reportDir());
        return r;
    }

    /**
     * Whether the MIP took attention → Mamba-2 where the search space offered it (the Puzzle children and layers that take
     * it, or that none does and the least replace-1-block KL a Mamba-2 candidate reached), and what each Puzzle child did
     * with the parent's own Mamba-2 layers; null when there is neither.
     */
    static String mambaChoice(Run run, List<ReportModel.ModelResult> models) throws IOException {
        var parent = run.parent.config();
        boolean offered = false;
        List<Integer> own = new ArrayList<>();
        for (int l = 0; l < parent.numLayers(); l++) {
            if (parent.parentBlock(l).attention().unquantized() instanceof dev.puzzle.core.model.AttentionConfig.Mamba2) {
                own.add(l);
                continue;
            }
            for (var c : run.space.candidates(parent, l)) offered |= c.block().attention().unquantized() instanceof dev.puzzle.core.model.AttentionConfig.Mamba2;
        }
        if (!offered && own.isEmpty()) return null;
        return mambaChoice(models, Files.exists(run.dir.scoredLibrary())
                ? dev.puzzle.blocklibrary.BlockLibraryJson.read(run.dir.scoredLibrary()).replacements() : List.of(), offered, own);
    }

    /** {@link #mambaChoice(Run, List)} from the models and the scored library's replacements, Mamba-2 having been offered to attention layers. */
    static String mambaChoice(List<ReportModel.ModelResult> models, List<dev.puzzle.blocklibrary.BlockLibrary.Replacement> library) {
        return mambaChoice(models, library, true, List.of());
    }

    static String mambaChoice(List<ReportModel.ModelResult> models, List<dev.puzzle.blocklibrary.BlockLibrary.Replacement> library, boolean offered,
                              List<Integer> parentMamba) {
        List<String> lines = new ArrayList<>();
        if (offered) {
            List<String> taken = new ArrayList<>();
            for (ReportModel.ModelResult m : models) {
                if (!m.kind().equals("puzzle")) continue;
                List<Integer> layers = new ArrayList<>();
                for (ReportModel.LayerBlock b : m.blocks()) if (b.look() == ReportModel.Look.MAMBA2 && !parentMamba.contains(b.layer())) layers.add(b.layer());
                if (!layers.isEmpty()) taken.add(m.name() + " (layers " + layers.toString().replaceAll("[\\[\\]]", "") + ")");
            }
            if (!taken.isEmpty()) {
                lines.add("Attention → Mamba-2 was offered; the MIP took it in " + String.join(", ", taken) + ".");
            } else {
                double best = Double.POSITIVE_INFINITY;
                int at = -1;
                for (var rep : library) {
                    Double kl = rep.values().get(dev.puzzle.core.model.LibraryKeys.KL_DIV);
                    boolean mamba = !parentMamba.contains(rep.first())
                            && rep.blocks().stream().anyMatch(b -> b.attention().unquantized() instanceof dev.puzzle.core.model.AttentionConfig.Mamba2);
                    if (mamba && kl != null && kl < best) {
                        best = kl;
                        at = rep.first();
                    }
                }
                lines.add("Attention → Mamba-2 was offered; no Puzzle child takes it" + (at < 0 ? "." : String.format(java.util.Locale.ROOT,
                        " (the least replace-1-block KL of a Mamba-2 candidate: %.4g, layer %d).", best, at)));
            }
        }
        if (!parentMamba.isEmpty()) {
            ReportModel.ModelResult parent = models.stream().filter(m -> m.kind().equals("parent")).findFirst().orElse(null);
            List<String> fates = new ArrayList<>();
            for (ReportModel.ModelResult m : models) {
                if (!m.kind().equals("puzzle") || parent == null) continue;
                List<String> changed = new ArrayList<>();
                for (int l : parentMamba) {
                    String was = block(parent, l), now = block(m, l);
                    if (now != null && !now.equals(was)) changed.add("layer " + l + " → " + now.substring(0, now.indexOf(' ') < 0 ? now.length() : now.indexOf(' ')));
                }
                fates.add(m.name() + (changed.isEmpty() ? " keeps them" : ": " + String.join(", ", changed)));
            }
            lines.add("The parent's Mamba-2 layers " + parentMamba.toString().replaceAll("[\\[\\]]", "") + (fates.isEmpty() ? "." : ": " + String.join("; ", fates) + "."));
        }
        return lines.isEmpty() ? null : String.join(" ", lines);
    }

    private static String block(ReportModel.ModelResult m, int layer) {
        for (ReportModel.LayerBlock b : m.blocks()) if (b.layer() == layer) return b.block();
        return null;
    }

    /** The held-out text the models were scored on. */
    static ReportModel.Evaluation evaluation(Run run) {
        int[][] held = run.heldout();
        long tokens = 0;
        for (int[] s : held) tokens += s.length;
        return new ReportModel.Evaluation(run.evalContext(), held.length, tokens, run.evalContextSource());
    }

    /** When, by which build, from which config and seed, on which backend. */
    static ReportModel.Metadata metadata(Run run) throws IOException {
        String backend = run.backend.gpu().map(g -> "cuda (" + g.device().name() + ", " + g.precision() + ")").orElse("cpu") + ", " + run.backend.threads() + " threads";
        return new ReportModel.Metadata(java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString(),
                "puzzle " + dev.puzzle.core.BuildInfo.VERSION, dev.puzzle.core.BuildInfo.commit(), Files.readString(run.config.file),
                run.config.distill().seed(), backend);
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

    /** Writes a finished run's index.html and report.md again from its report.json; returns the page written. */
    public static Path rerender(Path runDir) throws IOException {
        Path dir = new RunDirectory(runDir).reportDir(), f = dir.resolve("report.json");
        if (!Files.exists(f)) throw new PuzzleException(runDir + ": no report/report.json (run 'puzzle compress' on it first)");
        ReportModel.readJson(f).atRunDir(runDir.toString()).write(dir);
        return dir.resolve("index.html");
    }

    /** One HTML page overlaying the frontiers of finished runs ({@code puzzle report --compare}); returns the file written. */
    public static Path compare(List<Path> runDirs, Path out) throws IOException {
        List<ReportModel> reports = new ArrayList<>();
        for (Path r : runDirs) {
            Path f = new RunDirectory(r).reportDir().resolve("report.json");
            if (!Files.exists(f)) throw new PuzzleException(r + ": no report/report.json (run 'puzzle compress' on it first)");
            reports.add(ReportModel.readJson(f).atRunDir(r.toString()));
        }
        dev.puzzle.core.io.AtomicFiles.writeString(out, HtmlReport.render(reports, "Puzzle frontiers: " + runDirs));
        return out;
    }
}
