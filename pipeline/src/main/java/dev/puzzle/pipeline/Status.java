package dev.puzzle.pipeline;

import dev.puzzle.bld.Bld;
import dev.puzzle.bld.BldJob;
import dev.puzzle.bld.Scorer;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.ModelConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Where a run stands, from its run directory alone (as every process of a cluster run writes it): per stage
 * how many jobs are done, started and not finished (running, or stopped by a crash), failed (diverged),
 * of how many, and an ETA from the pace of the finished ones.
 */
public final class Status {
    private Status() {}

    /** The file in which a run directory records its config's path (written by compress and by the cluster commands). */
    public static Path configRecord(Path runDir) {
        return new dev.puzzle.bld.RunLayout(runDir).configRecord();
    }

    /** One stage's counts; {@code eta} is null where there is no pace to go by. */
    public record Stage(String name, int done, int running, int failed, int total, Double etaSeconds) {}

    public record Report(Path runDir, Path config, List<Stage> stages, int realized, int evaluated, boolean reported) {}

    /** Opens the run a run directory belongs to. */
    public static Run open(Path runDir) throws IOException {
        Path rec = configRecord(runDir);
        if (!Files.exists(rec)) {
            throw new PuzzleException(runDir + ": not a run directory of this toolkit, or one made before it recorded its config (no " + rec.getFileName()
                    + "); run 'puzzle compress CONFIG' or 'puzzle cluster ... CONFIG' on it first");
        }
        Path cfg = Path.of(Files.readString(rec).strip());
        if (!Files.exists(cfg)) throw new PuzzleException(rec + ": the config it names, " + cfg + ", does not exist");
        return Run.open(cfg);
    }

    public static Report of(Run run) throws IOException {
        Path root = run.dir.root();
        ModelConfig c = run.parent.config();
        boolean coupled = run.config.distill().coupled();
        List<Stage> stages = new ArrayList<>();
        int cached = 0;
        for (int l = 0; l < c.numLayers(); l++) if (Files.exists(Bld.cache(root).file(l))) cached++;
        stages.add(new Stage("cache", cached, 0, 0, c.numLayers(), null));
        int parts = 0, inits = 0;
        for (int l = 0; l < c.numLayers(); l++) {
            List<SearchSpace.Candidate> cand = run.space.candidates(c, l);
            var own = c.parentBlock(l);
            for (var a : Bld.attentions(cand)) if (!a.equals(own.attention())) {
                parts++;
                if (Files.exists(Bld.library(root).file(l, BlockNames.id(a)))) inits++;
            }
            for (var f : Bld.ffns(cand)) if (!f.equals(own.ffn())) {
                parts++;
                if (Files.exists(Bld.library(root).file(l, BlockNames.id(f)))) inits++;
            }
        }
        stages.add(new Stage("init", inits, 0, 0, parts, null));
        List<BldJob> jobs = Bld.jobs(c, run.space, coupled);
        int done = 0, failed = 0, running = 0;
        List<Long> finished = new ArrayList<>();
        for (BldJob j : jobs) {
            Path curve = Bld.curveFile(root, j);
            if (Files.exists(Bld.failedFile(root, j))) failed++;
            else if (Files.exists(curve)) {
                done++;
                finished.add(Files.getLastModifiedTime(curve).toMillis());
            } else if (Files.exists(Bld.startedFile(curve))) running++;
        }
        stages.add(new Stage("distill", done, running, failed, jobs.size(), eta(finished, jobs.size() - done - failed)));
        int scored = 0, scoring = 0, total = 0;
        List<Long> times = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            for (SearchSpace.Candidate cand : run.space.candidates(c, l)) {
                total++;
                Path f = Scorer.jobFile(root, l, cand.block());
                if (Files.exists(f)) {
                    scored++;
                    times.add(Files.getLastModifiedTime(f).toMillis());
                } else if (Files.exists(Bld.startedFile(f))) scoring++;
            }
        }
        stages.add(new Stage("score", scored, scoring, 0, total, eta(times, total - scored)));
        int realized = 0, evaluated = 0;
        Path compress = run.dir.layout().compressDir();
        if (Files.isDirectory(compress)) {
            try (Stream<Path> s = Files.list(compress)) {
                for (Path d : s.filter(Files::isDirectory).toList()) {
                    String name = d.getFileName().toString();
                    if (Files.exists(run.dir.layout().childModel(name).resolve("config.json"))) realized++;
                    if (Files.exists(run.dir.layout().childEval(name))) evaluated++;
                }
            }
        }
        return new Report(root, run.config.file, stages, realized, evaluated, Files.exists(run.dir.reportDir().resolve("report.json")));
    }

    /** Seconds left at the pace the finished jobs kept (from the first finish to the last), or null with fewer than two. */
    static Double eta(List<Long> finishedAt, int left) {
        if (left <= 0) return 0.0;
        if (finishedAt.size() < 2) return null;
        long first = finishedAt.stream().min(Long::compare).orElseThrow(), last = finishedAt.stream().max(Long::compare).orElseThrow();
        if (last <= first) return null;
        double perJob = (last - first) / 1000.0 / (finishedAt.size() - 1);
        return perJob * left;
    }

    public static String render(Report r) {
        StringBuilder sb = new StringBuilder();
        sb.append("run ").append(r.runDir()).append(" (config ").append(r.config()).append(")\n");
        sb.append(String.format(Locale.ROOT, "%-8s %6s %8s %7s %6s  %s%n", "stage", "done", "running", "failed", "total", "ETA"));
        for (Stage s : r.stages()) {
            sb.append(String.format(Locale.ROOT, "%-8s %6d %8d %7d %6d  %s%n", s.name(), s.done(), s.running(), s.failed(), s.total(),
                    s.done() + s.failed() == s.total() ? "done" : s.etaSeconds() == null ? "-" : duration(s.etaSeconds())));
        }
        sb.append(String.format(Locale.ROOT, "models: %d children realized, %d models evaluated (the parent is evaluated, not realized); report: %s%n",
                r.realized(), r.evaluated(), r.reported() ? "written" : "not yet"));
        sb.append("counted: cache = parent layers whose activations are cached; init = candidate parts (an attention or FFN variant of a layer)"
                + " initialized from the parent; distill = BLD jobs (failed: diverged, left out); score = candidate blocks scored against the parent\n");
        return sb.toString();
    }

    static String duration(double s) {
        long t = Math.round(s);
        return t >= 3600 ? String.format(Locale.ROOT, "%dh %02dm", t / 3600, t % 3600 / 60) : t >= 60 ? String.format(Locale.ROOT, "%dm %02ds", t / 60, t % 60) : t + "s";
    }
}
