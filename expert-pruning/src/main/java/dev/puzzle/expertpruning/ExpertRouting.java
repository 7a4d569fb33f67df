package dev.puzzle.expertpruning;

import dev.puzzle.blocklibrary.CandidateInit;
import dev.puzzle.blocklibrary.ExpertScoring;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.MoeOp;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The routing of a MoE layer's candidates measured on calibration rows, for their costs: per candidate, the
 * probability that a token selects each kept expert (they sum to the candidate's top-k). The experts kept
 * are the ones the library keeps (the same scoring on the same rows), the router rows sliced to them.
 */
public final class ExpertRouting {
    private ExpertRouting() {}

    /**
     * Selection probabilities of every candidate of layer {@code l}.
     *
     * @param parentTensors the parent's tensors by Hugging Face name
     * @param candidates    the layer's MoE variants (each at most the parent layer's experts)
     * @param x             N rows of the layer's FFN input (the residual stream before its FFN norm)
     */
    public static Map<FfnConfig.Moe, double[]> measure(Backend backend, ModelConfig parent, Map<String, Tensor> parentTensors, int l,
                                                       FfnConfig.Moe own, List<FfnConfig.Moe> candidates, ExpertScoring scoring, float[] x, int N) {
        MoeOp parentOp = new BlockOps(parent, parentTensors, "the parent", backend).moe(l, own);
        double[] scores = null;
        Map<FfnConfig.Moe, double[]> out = new LinkedHashMap<>();
        for (FfnConfig.Moe m : candidates) {
            if (out.containsKey(m)) continue;
            int[] keep;
            if (m.numExperts() < own.numExperts()) {
                if (scores == null) scores = ExpertScores.score(parentOp, scoring, x, N);
                keep = CandidateInit.topExperts(scores, m.numExperts());
            } else {
                keep = IntStream.range(0, m.numExperts()).toArray();
            }
            Map<String, Tensor> w = CandidateInit.experts(parentTensors, l, own, keep);
            List<BlockConfig> blocks = new ArrayList<>(parent.blocks());
            blocks.set(l, new BlockConfig(parent.blocks().get(l).attention(), m));
            MoeOp op = new BlockOps(parent.withBlocks(blocks), w, "candidate", backend).moe(l, m);
            out.put(m, selection(op, x, N));
        }
        return out;
    }

    /** The fraction of the N tokens that select each expert (in their top-k). */
    public static double[] selection(MoeOp op, float[] x, int N) {
        MoeOp.Routing r = op.route(op.normed(x, new float[N], N), N);
        double[] p = new double[op.numExperts()];
        for (int e : r.experts()) p[e] += 1.0 / N;
        return p;
    }
}
