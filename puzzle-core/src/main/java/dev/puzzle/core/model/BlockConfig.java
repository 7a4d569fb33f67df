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

    /** A short readable name, e.g. {@code attn=gqa4 ffn=dense172}. */
    public String describe() {
        String a = switch (attention) {
            case AttentionConfig.Gqa g -> "gqa" + g.numKvHeads();
            case AttentionConfig.Window w -> "window" + w.window() + "_kv" + w.numKvHeads();
            case AttentionConfig.Linear l -> "linear";
            case AttentionConfig.NoOp n -> "no_op";
        };
        String f = switch (ffn) {
            case FfnConfig.Dense d -> "dense" + d.intermediateSize();
            case FfnConfig.Moe m -> "moe" + m.numExperts() + "x" + m.expertIntermediate() + "_top" + m.topK()
                    + (m.sharedIntermediate() > 0 ? "_shared" + m.sharedIntermediate() : "");
            case FfnConfig.Linear l -> "linear";
            case FfnConfig.NoOp n -> "no_op";
        };
        return "attn=" + a + (attention.fp8Kv() ? "_fp8kv" : "") + " ffn=" + f;
    }
}
