package dev.puzzle.core.model;

/**
 * The attention sub-block of one layer: GQA with its own KV-head count, sliding window, one linear map, or
 * nothing. GQA and window layers may keep their KV cache in FP8 E4M3 ({@code fp8Kv}) with per-KV-head
 * scales: K and V are quantized when written to the cache and dequantized when read.
 */
public sealed interface AttentionConfig {

    /** Grouped-query attention over the whole causal context. */
    record Gqa(int numKvHeads, boolean fp8Kv) implements AttentionConfig {
        public Gqa {
            if (numKvHeads < 1) throw new IllegalArgumentException("numKvHeads must be >= 1, got " + numKvHeads);
        }

        /** With the KV cache in the model's own dtype. */
        public Gqa(int numKvHeads) {
            this(numKvHeads, false);
        }
    }

    /** GQA restricted to the last {@code window} positions (the query's own included); a ring-buffer KV cache. */
    record Window(int numKvHeads, int window, boolean fp8Kv) implements AttentionConfig {
        public Window {
            if (numKvHeads < 1) throw new IllegalArgumentException("numKvHeads must be >= 1, got " + numKvHeads);
            if (window < 1) throw new IllegalArgumentException("window must be >= 1, got " + window);
        }

        /** With the KV cache in the model's own dtype. */
        public Window(int numKvHeads, int window) {
            this(numKvHeads, window, false);
        }
    }

    /** Attention replaced by one linear map of the normed input: {@code x + W·rmsnorm(x)}; no KV cache. */
    record Linear() implements AttentionConfig {}

    /** No attention at all: the residual stream passes through. */
    record NoOp() implements AttentionConfig {}

    /** Whether the KV cache is FP8 E4M3 (false for linear and no-op, which cache nothing). */
    default boolean fp8Kv() {
        return false;
    }

    /** The same variant with its KV cache in FP8; refused for a variant without a KV cache. */
    default AttentionConfig withFp8Kv() {
        return switch (this) {
            case Gqa g -> new Gqa(g.numKvHeads(), true);
            case Window w -> new Window(w.numKvHeads(), w.window(), true);
            case Linear l -> throw new IllegalArgumentException("an FP8 KV cache needs attention with a KV cache, not linear");
            case NoOp n -> throw new IllegalArgumentException("an FP8 KV cache needs attention with a KV cache, not no_op");
        };
    }

    /** The same variant with its KV cache in the model's dtype. */
    default AttentionConfig withoutFp8Kv() {
        return switch (this) {
            case Gqa g -> new Gqa(g.numKvHeads());
            case Window w -> new Window(w.numKvHeads(), w.window());
            default -> this;
        };
    }

    /** The window of a sliding-window variant; 0 when attention sees the whole context (or there is no attention). */
    default int window() {
        return switch (this) {
            case Window w -> w.window();
            case Gqa g -> 0;
            case Linear l -> 0;
            case NoOp n -> 0;
        };
    }

    /** Whether the variant has weights (all but the no-op): what BLD trains and the candidate store keeps. */
    default boolean hasWeights() {
        return switch (this) {
            case Gqa g -> true;
            case Window w -> true;
            case Linear l -> true;
            case NoOp n -> false;
        };
    }

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
