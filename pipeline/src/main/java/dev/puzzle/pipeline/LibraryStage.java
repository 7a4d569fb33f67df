package dev.puzzle.pipeline;

import dev.puzzle.ffnfusion.FfnFusion;
import dev.puzzle.bld.Bld;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.model.BlockNames;

import java.io.IOException;
import java.util.List;

/**
 * The library stage: caches the parent's activations on the calibration text ({@code RUN_DIR/cache/})
 * and initializes every candidate part from the parent ({@code RUN_DIR/library/}); files that exist are kept.
 */
public final class LibraryStage {
    private LibraryStage() {}

    /** How much the library holds. */
    public record Result(int layers, int parts, int sequences, int sequenceLength) {}

    public static Result run(Run run, Listener listener) throws IOException {
        int L = run.parent.config().numLayers();
        HeapNeed.check(run, HeapNeed.Stage.LIBRARY, 1);
        int[][] cal = run.calibration();
        Bld.buildLibrary(run.backend, run.parent, run.space, cal, run.dir.root(), run.config.cacheDtype(),
                listener.progress("cache", L)::accept, listener.progress("init", L)::accept,
                dev.puzzle.expertpruning.ExpertScores.scorer(run.space.expertScoring()));
        int parts = 0;
        dev.puzzle.blocklibrary.CandidateStore store = Bld.library(run.dir.root());
        for (FfnFusion.Span f : Fusion.of(run, null).spans()) { // each fused run's wide FFN, under layer i's FFN variant
            String id = BlockNames.id(f.blocks().get(0).ffn());
            if (!store.has(f.first(), id)) store.write(f.first(), id, dev.puzzle.ffnfusion.FfnFusion.fuse(run.parent.config(), run.parent.tensors(), f.first(), f.last()));
            parts++;
        }
        for (int l = 0; l < L; l++) { // the parent's own parts are read from the parent, not stored
            List<SearchSpace.Candidate> c = run.space.candidates(run.parent.config(), l);
            parts += Bld.attentions(c).size() + Bld.ffns(c).size() - 2;
        }
        return new Result(L, parts, cal.length, cal[0].length);
    }
}
