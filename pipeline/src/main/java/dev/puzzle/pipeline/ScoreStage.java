package dev.puzzle.pipeline;

import dev.puzzle.bld.Scorer;
import dev.puzzle.mip.BlockLibrary;
import dev.puzzle.mip.BlockLibrary.Replacement;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The score stage: replace-1-block scoring of every candidate on held-out text, merged with the profile's
 * costs (when profiled) into {@code RUN_DIR/score/block_library.json}, ready for the search.
 */
public final class ScoreStage {
    private ScoreStage() {}

    /** The written library and what it was scored on. */
    public record Result(Path library, int candidates, int sequences, int sequenceLength, boolean withCosts) {}

    public static Result run(Run run, Listener listener) throws Exception {
        boolean coupled = run.config.distill().coupled();
        int[][] held = run.heldout();
        int total = 0;
        for (int l = 0; l < run.parent.config().numLayers(); l++) total += run.space.candidates(run.parent.config(), l).size();
        List<Map<String, Map<String, Double>>> metrics = Scorer.score(run.parent, run.space, held, run.dir.root(), coupled,
                listener.progress("score", total)::accept);
        Path costs = run.dir.blockCosts();
        Map<String, Map<String, Double>> stats = new LinkedHashMap<>();
        if (Files.exists(costs)) for (Replacement r : BlockLibrary.read(costs).replacements()) stats.put(r.layerKey() + "/" + r.name(), r.values());
        List<Replacement> reps = new ArrayList<>();
        for (int l = 0; l < metrics.size(); l++) {
            for (var e : metrics.get(l).entrySet()) {
                Map<String, Double> v = new LinkedHashMap<>(stats.getOrDefault("layer_" + l + "/" + e.getKey(), Map.of()));
                v.putAll(e.getValue());
                reps.add(new Replacement(reps.size(), l, 1, e.getKey(), v));
            }
        }
        Path file = run.dir.scoredLibrary();
        new BlockLibrary(metrics.size(), reps, file.toString()).write(file);
        return new Result(file, reps.size(), held.length, held[0].length, !stats.isEmpty());
    }
}
