package dev.puzzle.bld;

import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.FfnConfig;

/**
 * One blockwise-local-distillation job: train a candidate of layer {@code layer}. Decoupled mode trains an
 * attention variant ({@code ffn} null) or an FFN variant ({@code attention} null) alone; coupled mode
 * trains a whole block (both set) on the layer's full contribution.
 */
public record BldJob(int layer, AttentionConfig attention, FfnConfig ffn) {
    public String id() {
        if (attention != null && ffn != null) return "block-" + BlockNames.id(attention) + "__" + BlockNames.id(ffn);
        return attention != null ? BlockNames.id(attention) : BlockNames.id(ffn);
    }

    /** A stable key across runs and machines: the job's place in a shard and its random seed. */
    public String key() {
        return "layer_" + layer + "/" + id();
    }
}
