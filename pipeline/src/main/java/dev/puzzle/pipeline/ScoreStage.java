package dev.puzzle.pipeline;

import dev.puzzle.ffnfusion.FfnFusion;
import dev.puzzle.core.model.LibraryKeys;

import java.util.function.LongConsumer;

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

    /** One shard of the scoring (a cluster's array task): its candidates' job files, no library yet. Returns how many it holds. */
    public static int runShard(Run run, DistillStage.Shard shard, Listener listener) throws Exception {
        HeapNeed.check(run, HeapNeed.Stage.SCORE, 1);
        int[] sh = {shard.index(), shard.count()};
        int mine = Scorer.shardSize(run.parent.config(), run.space, sh);
        Scorer.score(run.backend, run.parent, run.space, run.heldout(), run.dir.root(), run.config.distill().coupled(), sh,
                listener.progress("score " + shard, mine)::accept);
        return mine;
    }

    /**
     * The merge of a sharded scoring: every candidate (but those whose BLD diverged) must have been scored,
     * once, by the shard {@code i/N} that owns it; then the library is written as {@link #run} writes it.
     */
    public static Result merge(Run run, int shards, Listener listener) throws Exception {
        if (shards < 1) throw dev.puzzle.core.PuzzleException.setting("merge", shards, "must be >= 1");
        ModelConfig pc = run.parent.config();
        boolean coupled = run.config.distill().coupled();
        List<String> missing = new ArrayList<>(), foreign = new ArrayList<>();
        int k = 0;
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (int l = 0; l < pc.numLayers(); l++) {
            for (SearchSpace.Candidate c : run.space.candidates(pc, l)) {
                String owner = (k++ % shards) + "/" + shards;
                if (dev.puzzle.bld.Bld.divergence(run.dir.root(), l, c.block(), coupled) != null) continue;
                Path f = Scorer.jobFile(run.dir.root(), l, c.block());
                if (Scorer.readJob(f, c.name()) == null) {
                    missing.add("layer_" + l + " " + c.name());
                    continue;
                }
                String by = json.readTree(f.toFile()).path("shard").asText();
                if (!by.equals(owner)) foreign.add("layer_" + l + " " + c.name() + " (by " + by + ", owned by " + owner + ")");
            }
        }
        if (!missing.isEmpty()) {
            throw new dev.puzzle.core.PuzzleException(run.dir.root() + ": " + missing.size() + " of " + k + " candidates were not scored (first: " + missing.get(0)
                    + "); score the missing shards i/" + shards + " first");
        }
        if (!foreign.isEmpty()) {
            throw new dev.puzzle.core.PuzzleException(run.dir.root() + ": " + foreign.size() + " candidates were scored by a shard of another split than "
                    + shards + " (first: " + foreign.get(0) + "); score with one i/N split of shards per run");
        }
        return run(run, listener);
    }

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
                if (dev.puzzle.bld.Bld.divergence(run.dir.root(), l, c.block(), coupled) != null) continue; // BLD diverged: left out, the report says so
                BlockLibrary.Replacement withCosts = costed == null ? null : costed.find(l, c.block());
                BlockLibrary.Replacement r = withCosts != null ? withCosts : BlockLibrary.Replacement.of(pc, l, c.block(), Map.of());
                reps.add(r.with(metrics.get(l).get(c.name())));
            }
        }
        List<FfnFusion.Span> spans = Fusion.of(run, null).spans();
        if (!spans.isEmpty()) { // replace layers i..j of the parent by the fused run
            Scorer.Reference ref = Scorer.run(run.backend, run.parent, held);
            LongConsumer p = listener.progress("score fused runs", spans.size());
            int done = 0;
            for (FfnFusion.Span f : spans) {
                if (Files.exists(dev.puzzle.bld.Bld.failedFile(run.dir.root(), new dev.puzzle.bld.BldJob(f.first(), null, f.blocks().get(0).ffn())))) {
                    p.accept(++done);
                    continue;
                }
                Map<String, Double> all = new java.util.LinkedHashMap<>();
                for (boolean trained : new boolean[]{true, false}) { // distilled (when distill trained it), then the exact fusion
                    Map<String, dev.puzzle.core.tensor.Tensor> t = dev.puzzle.bld.Bld.blockTensors(run.parent, run.dir.root(), f.first(), f.blocks().get(0), coupled, trained);
                    Scorer.metrics(run.backend, ref, Scorer.run(run.backend, Scorer.replaced(run.parent, f.first(), f.blocks(), t), held), held, pc.vocabSize(), pc.dim())
                            .forEach((k, v) -> all.put(trained ? k : k + LibraryKeys.INIT_SUFFIX, v));
                }
                BlockLibrary.Replacement withCosts = costed == null ? null : costed.find(f.first(), f.blocks());
                reps.add((withCosts != null ? withCosts : new BlockLibrary.Replacement(f.first(), f.span(), f.name(), f.blocks(), Map.of())).with(all));
                p.accept(++done);
            }
        }
        Path file = run.dir.scoredLibrary();
        BlockLibraryJson.write(new BlockLibrary(metrics.size(), reps, file.toString()), file);
        return new Result(file, reps.size(), held.length, held[0].length, costed != null);
    }
}
