package dev.puzzle.pipeline;

import dev.puzzle.bld.ActivationCache;
import dev.puzzle.bld.Bld;
import dev.puzzle.blocklibrary.CandidateInit;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.MoeOp;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.expertpruning.ExpertScores;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The routing of every MoE candidate measured on the calibration text, for its costs: per layer and per
 * MoE variant of the search space, the probability that a token selects each kept expert (they sum to
 * the variant's top-k). The experts kept are the ones the library stage keeps (the same scoring on the
 * same cached layer inputs), the router rows sliced to them; the activation cache built here is the
 * library stage's.
 */
public final class MoeRouting {
    private MoeRouting() {}

    /** Layer → MoE variant → selection probability per expert; empty when the parent has no MoE layer. */
    public static Map<Integer, Map<FfnConfig.Moe, double[]>> measure(Run run, IntConsumer cacheProgress) throws IOException {
        ModelConfig c = run.parent.config();
        Map<Integer, Map<FfnConfig.Moe, double[]>> out = new HashMap<>();
        if (c.blocks().stream().noneMatch(b -> b.ffn() instanceof FfnConfig.Moe)) return out;
        ActivationCache cache = Bld.cache(run.dir.root());
        cache.build(run.backend, run.parent, run.calibration(), run.config.cacheDtype(), cacheProgress);
        for (int l = 0; l < c.numLayers(); l++) {
            if (!(c.parentBlock(l).ffn() instanceof FfnConfig.Moe pm)) continue;
            ActivationCache.Layer a = cache.read(l);
            int N = a.rows();
            MoeOp parentOp = (MoeOp) new BlockOps(c, run.parent.tensors(), "the parent", run.backend).ffn(l, pm);
            double[] scores = null;
            Map<FfnConfig.Moe, double[]> perVariant = new LinkedHashMap<>();
            for (SearchSpace.Candidate cand : run.space.candidates(c, l)) {
                if (!(cand.block().ffn() instanceof FfnConfig.Moe m) || perVariant.containsKey(m)) continue;
                int[] keep;
                if (m.numExperts() < pm.numExperts()) {
                    if (scores == null) scores = ExpertScores.score(parentOp, run.space.expertScoring(), a.mid(), N);
                    keep = CandidateInit.topExperts(scores, m.numExperts());
                } else {
                    keep = java.util.stream.IntStream.range(0, m.numExperts()).toArray();
                }
                Map<String, Tensor> w = CandidateInit.experts(run.parent.tensors(), l, pm, keep);
                List<BlockConfig> blocks = new ArrayList<>(c.blocks());
                blocks.set(l, new BlockConfig(c.blocks().get(l).attention(), m));
                MoeOp op = (MoeOp) new BlockOps(c.withBlocks(blocks), w, "candidate", run.backend).ffn(l, m);
                perVariant.put(m, selection(op, a.mid(), N));
            }
            out.put(l, perVariant);
        }
        return out;
    }

    /** The fraction of the N tokens that select each expert (in their top-k). */
    static double[] selection(MoeOp op, float[] x, int N) {
        MoeOp.Routing r = op.route(op.normed(x, new float[N], N), N);
        double[] p = new double[op.numExperts()];
        for (int e : r.experts()) p[e] += 1.0 / N;
        return p;
    }
}
