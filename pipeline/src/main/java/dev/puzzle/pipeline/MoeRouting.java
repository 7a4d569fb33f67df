package dev.puzzle.pipeline;

import dev.puzzle.bld.ActivationCache;
import dev.puzzle.bld.Bld;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.expertpruning.ExpertRouting;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The routing of every MoE candidate of a run ({@link ExpertRouting} owns the method), measured on the
 * library stage's activation cache of the calibration text (the cache built here is the library stage's).
 */
public final class MoeRouting {
    private MoeRouting() {}

    /** Layer → MoE variant → selection probability per expert; empty when the parent has no MoE layer. */
    public static Map<Integer, Map<FfnConfig.Moe, double[]>> measure(Run run, IntConsumer cacheProgress) throws IOException {
        ModelConfig c = run.parent.config();
        Map<Integer, Map<FfnConfig.Moe, double[]>> out = new HashMap<>();
        if (c.blocks().stream().allMatch(b -> b.ffn().numExperts() == 0)) return out;
        ActivationCache cache = Bld.cache(run.dir.root());
        cache.build(run.backend, run.parent, run.calibration(), run.config.cacheDtype(), cacheProgress);
        for (int l = 0; l < c.numLayers(); l++) {
            if (!(c.parentBlock(l).ffn() instanceof FfnConfig.Moe own)) continue;
            List<FfnConfig.Moe> variants = new ArrayList<>();
            for (SearchSpace.Candidate cand : run.space.candidates(c, l)) {
                if (cand.block().ffn() instanceof FfnConfig.Moe m) variants.add(m);
            }
            ActivationCache.Layer a = cache.read(l);
            out.put(l, ExpertRouting.measure(run.backend, c, run.parent.tensors(), l, own, variants, run.space.expertScoring(), a.mid(), a.rows()));
        }
        return out;
    }
}
