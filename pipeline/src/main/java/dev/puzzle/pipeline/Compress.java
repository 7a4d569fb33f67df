package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.blocklibrary.BlockLibraryJson;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.GgufWriter;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.pipeline.report.ReportModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * The whole Puzzle pipeline over one run directory (DESIGN.md section 1): profile, library, distill,
 * score, search (one MIP per throughput target), realize every child, baselines at the same budgets,
 * evaluate parent, children and baselines with one harness, report. Each stage writes its files
 * atomically and is skipped when they exist, so an interrupted run resumes where it stopped; the run
 * directory is locked while it runs.
 */
public final class Compress {
    private Compress() {}

    /**
     * Every check of the run config compress makes before any work — its compress and search sections, the
     * GGUF export it asks for, the hardware profile — so that a cluster run is refused before its scripts are written.
     * Returns the compress section.
     */
    public static RunConfig.Compress validate(Run run) {
        RunConfig rc = run.config;
        RunConfig.Compress cc = rc.compress();
        rc.requests(); // checked before any work
        String whole = GgufWriter.refusal(run.parent.config());
        if (cc.gguf() == RunConfig.GgufExport.REQUIRED && whole != null) {
            throw PuzzleException.field(rc.file, "compress.gguf", "required", "the parent cannot be written for llama.cpp at all: " + whole);
        }
        rc.compressSearch();
        String hw = HardwareProfile.problem(rc.hardware());
        if (hw != null) throw PuzzleException.field(rc.file, "hardware", rc.hardware(), hw);
        return cc;
    }

    public static ReportModel run(Run run, Listener listener) throws Exception {
        RunConfig rc = run.config;
        RunConfig.Compress cc = validate(run);
        HeapNeed.check(run, HeapNeed.Stage.COMPRESS, run.backend.threads());
        try (RunDirectory.Lock lock = run.dir.lock()) {
            run.dir.checkFingerprint(rc, RunDirectory.contentStamp(Path.of(run.parent.source())));
            Cluster.recordConfig(run); // for 'puzzle status RUN_DIR'
            HardwareProfile hw = HardwareProfile.load(rc.hardware(), run.backend);
            // 1. profile
            if (Files.exists(run.dir.modelCosts()) && Files.exists(run.dir.blockCosts())) {
                listener.stage("profile", "done earlier, skipped");
            } else {
                listener.stage("profile", "costing every candidate on " + hw.name());
                ProfileStage.run(run, hw, listener);
            }
            // 2-3. library and distill (each skips what is done)
            listener.stage("library", "activation cache and candidate initialization");
            LibraryStage.run(run, listener);
            listener.stage("distill", "blockwise local distillation");
            DistillStage.Result d = DistillStage.run(run, DistillStage.Shard.ALL, run.backend.threads(), listener);
            listener.stage("distill", d.trained() == 0 ? "all jobs done earlier" : "trained " + d.trained() + " jobs");
            // 4. score
            if (Files.exists(run.dir.scoredLibrary())) {
                listener.stage("score", "done earlier, skipped");
            } else {
                listener.stage("score", "replace-1-block scoring");
                ScoreStage.run(run, listener);
            }
            // 5. search, and baselines at the same budgets
            listener.stage("search", "the MIP for each target, then the baselines at the same budgets");
            BlockLibrary scored = BlockLibraryJson.read(run.dir.scoredLibrary());
            SearchStage.Result found = SearchStage.run(run, cc.gguf() == RunConfig.GgufExport.REQUIRED ? ggufExpressible(rc, run.parent.config(), scored) : scored, listener);
            if (found.children().isEmpty()) {
                throw PuzzleException.field(rc.file, "compress.throughputs", cc.throughputs().stream().map(RunConfig.Target::label).toList(),
                        "no target can be met: " + String.join("; ", found.unreachable()));
            }
            List<Plan> plans = new ArrayList<>(found.children());
            if (cc.baselines()) plans.addAll(BaselinesStage.run(run, scored, found));
            long baselines = plans.size() - found.children().size();
            listener.stage("search", found.children().size() + " Puzzle children, " + baselines + " baselines");
            // 6-7. realize and evaluate (parent first)
            listener.stage("evaluate", "realize, evaluate and time every model, then the report");
            EvaluateStage eval = new EvaluateStage(run, scored);
            List<Plan> all = new ArrayList<>();
            all.add(new Plan("parent", Plan.Kind.PARENT, null, Double.NaN, parentChoice(scored, run.parent.config()), null));
            all.addAll(plans);
            LongConsumer progress = listener.progress("realize+evaluate", all.size());
            List<ReportModel.ModelResult> results = new ArrayList<>();
            for (Plan p : all) {
                results.add(eval.run(p, listener));
                progress.accept(results.size());
            }
            // 7b. every model's speed, measured together (interleaved rounds)
            java.util.Map<String, Timings.Speed> speeds = Timings.measure(run, all, listener.progress("timing", cc.reps()));
            results.replaceAll(r -> {
                Timings.Speed s = speeds.get(r.name());
                return ReportModel.withMeasured(r, s.prefill(), s.decode(), s.decodeSpread(), s.workload(), s.workloadSpread());
            });
            // 7c. request-level efficiency: how many tokens each model generates for a request (workload.requests)
            var requests = rc.requests();
            java.util.Map<String, Double> lengths = requests.isEmpty() ? java.util.Map.of()
                    : RequestLengths.measure(run, all, requests, listener.progress("request lengths", all.size()));
            // 8. report
            ReportModel report = ReportStage.run(run, hw.name(), rc.measured() ? "measured" : "roofline", found.parentTokensPerSecond(), eval.measurement(),
                    results, found.unreachable(), lengths);
            listener.stage("report", run.dir.reportDir().resolve("index.html").toString());
            return report;
        }
    }

    /** The parent as replacements of the library: its own block at every layer (always a candidate). */
    public static List<BlockLibrary.Replacement> parentChoice(BlockLibrary lib, dev.puzzle.core.model.ModelConfig parent) {
        List<BlockLibrary.Replacement> out = new ArrayList<>();
        for (int l = 0; l < parent.numLayers(); l++) {
            BlockLibrary.Replacement r = lib.find(l, parent.parentBlock(l));
            if (r == null) throw new PuzzleException(lib.source() + ": layer_" + l + " has no entry for the parent's own block " + parent.parentBlock(l));
            out.add(r);
        }
        return out;
    }

    /** compress.gguf: required — only the replacements whose every block llama.cpp runs (GgufWriter's refusals), every layer still covered. */
    static BlockLibrary ggufExpressible(RunConfig rc, ModelConfig parent, BlockLibrary scored) {
        List<BlockLibrary.Replacement> keep = scored.replacements().stream()
                .filter(r -> r.blocks().stream().allMatch(b -> GgufWriter.refusal(parent, b) == null)).toList();
        for (int l = 0; l < scored.numLayers(); l++) {
            final int layer = l;
            if (keep.stream().noneMatch(r -> r.first() <= layer && layer <= r.last())) {
                String why = scored.replacements().stream().filter(r -> r.first() == layer && r.span() == 1).findFirst()
                        .map(r -> GgufWriter.refusal(parent, r.blocks().get(0))).orElse("no variant");
                throw PuzzleException.field(rc.file, "compress.gguf", "required", "layer " + layer + " has no candidate llama.cpp runs (" + why + ")");
            }
        }
        return new BlockLibrary(scored.numLayers(), keep, scored.source() + " (GGUF-expressible blocks only)");
    }
}
