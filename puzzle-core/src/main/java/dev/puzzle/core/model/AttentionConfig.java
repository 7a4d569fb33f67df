package dev.puzzle.core.model;

/** The attention sub-block of one layer: GQA with its own KV-head count, sliding window, one linear map, or nothing. */
public sealed interface AttentionConfig {

    /** Grouped-query attention over the whole causal context. */
    record Gqa(int numKvHeads) implements AttentionConfig {
        public Gqa {
            if (numKvHeads < 1) throw new IllegalArgumentException("numKvHeads must be >= 1, got " + numKvHeads);
        }
    }

    /** GQA restricted to the last {@code window} positions (the query's own included); a ring-buffer KV cache. */
    record Window(int numKvHeads, int window) implements AttentionConfig {
        public Window {
            if (numKvHeads < 1) throw new IllegalArgumentException("numKvHeads must be >= 1, got " + numKvHeads);
            if (window < 1) throw new IllegalArgumentException("window must be >= 1, got " + window);
        }
    }

    /** Attention replaced by one linear map of the normed input: {@code x + W·rmsnorm(x)}; no KV cache. */
    record Linear() implements AttentionConfig {}

    /** No attention at all: the residual stream passes through. */
    record NoOp() implements AttentionConfig {}

    /** KV heads this variant caches (0 for linear and no-op). */
    default int kvHeads() {
        return switch (this) {
            case Gqa g -> g.numKvHeads();
            case Window w -> w.numKvHeads();
            case Linear l -> 0;
            case NoOp n -> 0;
        };
    }
}
