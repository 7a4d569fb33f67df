package dev.puzzle.core.model;

import java.util.Objects;

/** One decoder layer: its attention variant and its FFN variant. A uniform parent is a list of equal entries. */
public record BlockConfig(AttentionConfig attention, FfnConfig ffn) {
    public BlockConfig {
        Objects.requireNonNull(attention, "attention");
        Objects.requireNonNull(ffn, "ffn");
    }

    public static BlockConfig parent(int numKvHeads, int intermediateSize) {
        return new BlockConfig(new AttentionConfig.Gqa(numKvHeads), new FfnConfig.Dense(intermediateSize));
    }

    /** Both sub-blocks no-op: the layer passes the residual stream through (a dropped layer, or a layer inside a fused run). */
    public static final BlockConfig EMPTY = new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp());

    /** Whether the layer does nothing at all. */
    public boolean empty() {
        return equals(EMPTY);
    }

    /** A short readable form ({@link BlockNames#brief}), e.g. {@code attn=gqa4 ffn=dense172}. */
    @Override
    public String toString() {
        return BlockNames.brief(this);
    }
}
