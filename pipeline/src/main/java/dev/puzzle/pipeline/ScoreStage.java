package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.blocklibrary.BlockLibraryJson;
import dev.puzzle.bld.Scorer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
        HeapNeed.check(run, HeapNeed.Stage.SCORE, 1);
        int[][] held = run.heldout();
        int total = 0;
        for (int l = 0; l < run.parent.config().numLayers(); l++) total += run.space.candidates(run.parent.config(), l).size();
        List<Map<String, Map<String, Double>>> metrics = Scorer.score(run.backend, run.parent, run.space, held, run.dir.root(), coupled,
                listener.progress("score", total)::accept);
        Path costs = run.dir.blockCosts();
        BlockLibrary costed = Files.exists(costs) ? BlockLibraryJson.read(costs) : null;
        List<BlockLibrary.Replacement> reps = new ArrayList<>();
        ModelConfig pc = run.parent.config();
        for (int l = 0; l < metrics.size(); l++) {
            for (SearchSpace.Candidate c : run.space.candidates(pc, l)) {
                BlockLibrary.Replacement withCosts = costed == null ? null : costed.find(l, c.block());
                BlockLibrary.Replacement r = withCosts != null ? withCosts : BlockLibrary.Replacement.of(pc, l, c.block(), Map.of());
                reps.add(r.with(metrics.get(l).get(c.name())));
            }
        }
        Path file = run.dir.scoredLibrary();
        BlockLibraryJson.write(new BlockLibrary(metrics.size(), reps, file.toString()), file);
        return new Result(file, reps.size(), held.length, held[0].length, costed != null);
    }
}
