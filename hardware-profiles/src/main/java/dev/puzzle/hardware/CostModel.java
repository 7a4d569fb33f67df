package dev.puzzle.hardware;

import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;

/** Costs of blocks of a model under a workload: analytic ({@link RooflineCostModel}) or timed ({@link MeasuredCostModel}). */
public interface CostModel {
    /** One decoder layer with the given block, in a model of {@code model}'s dimensions. */
    BlockCost block(ModelConfig model, BlockConfig block, Workload w);

    /**
     * As {@link #block(ModelConfig, BlockConfig, Workload)}, with the routing measured for a MoE block:
     * {@code routing[i]} the probability that a token selects expert i (they sum to top-k). Null, or a
     * model that cannot use it, assumes uniform routing.
     */
    default BlockCost block(ModelConfig model, BlockConfig block, Workload w, double[] routing) {
        return block(model, block, w);
    }

    /** The parts outside the layers: token embedding, final norm and LM head. */
    BlockCost embeddingsAndHead(ModelConfig model, Workload w);

    /** The whole model: every layer plus embeddings and head. */
    default BlockCost model(ModelConfig model, Workload w) {
        BlockCost total = embeddingsAndHead(model, w);
        for (BlockConfig b : model.blocks()) total = total.plus(block(model, b, w));
        return total;
    }
}
