package dev.puzzle.core.model;

import dev.puzzle.core.tensor.DType;

/**
 * The attention sub-block of one layer: GQA with its own KV-head count, sliding window, one linear map, a Mamba-2
 * mixer, or nothing; and any of these with weights ({@link Quantized}) stored in a quantized format. GQA and window
 * layers may keep their KV cache in FP8 E4M3 ({@code fp8Kv}) with per-KV-head scales: K and V are quantized
 * when written to the cache and dequantized when read.
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

    /**
     * Attention replaced by a Mamba-2 mixer (Nemotron-H's): {@code heads} SSM heads of {@code headDim} channels, an SSM
     * state of {@code state} per channel, B and C shared by {@code groups} groups of heads, a causal conv of {@code conv}
     * taps. No KV cache: its state per sequence (conv window and SSM state) does not grow with the context.
     */
    record Mamba2(int heads, int headDim, int state, int groups, int conv) implements AttentionConfig {
        public Mamba2 {
            if (heads < 1) throw new IllegalArgumentException("mamba heads must be >= 1, got " + heads);
            if (headDim < 1) throw new IllegalArgumentException("mamba head_dim must be >= 1, got " + headDim);
            if (state < 1) throw new IllegalArgumentException("mamba state size must be >= 1, got " + state);
            if (groups < 1 || heads % groups != 0) throw new IllegalArgumentException("mamba groups must divide its " + heads + " heads, got " + groups);
            if (conv < 1) throw new IllegalArgumentException("mamba conv kernel must be >= 1, got " + conv);
        }

        /** Channels of the inner stream (H·P). */
        public int inner() {
            return heads * headDim;
        }

        /** Channels the conv runs over: x, B and C (I + 2·G·N). */
        public int convChannels() {
            return inner() + 2 * groups * state;
        }

        /**
         * The mixer of a model's attention shape — its heads and head dim, a group per KV head, a state of head-dim size,
         * 4 conv taps — which attention-to-SSM initialization starts from the attention's own projections.
         */
        public static Mamba2 attentionShaped(ModelConfig c) {
            return new Mamba2(c.numHeads(), c.headDim(), c.headDim(), c.numKvHeads(), 4);
        }
    }

    /** No attention at all: the residual stream passes through. */
    record NoOp() implements AttentionConfig {}

    /**
     * Another variant whose weight matrices (the projections or the linear map; norms, biases and KV scales
     * stay FP32) are stored in {@code weights}, a quantized dtype, where their rows are whole blocks of it
     * (others keep the model's type, as llama.cpp falls back). It computes as its base with those weights.
     */
    record Quantized(AttentionConfig base, DType weights) implements AttentionConfig {
        public Quantized {
            java.util.Objects.requireNonNull(base, "base");
            if (base instanceof Quantized) throw new IllegalArgumentException("weights are quantized once: " + base + " is quantized already");
            if (!base.hasWeights()) throw new IllegalArgumentException("no_op attention has no weights to quantize");
            if (!weights.isQuantized()) throw new IllegalArgumentException(weights.configName() + " is not a quantized weight format");
        }
    }

    /** The quantized format of the variant's weights; null when they are in the model's own type. */
    default DType quantizedWeights() {
        return switch (this) {
            case Quantized q -> q.weights();
            case Gqa g -> null;
            case Window w -> null;
            case Linear l -> null;
            case Mamba2 m -> null;
            case NoOp n -> null;
        };
    }

    /** The variant with its weights in the model's own type (itself when they are). */
    default AttentionConfig unquantized() {
        return this instanceof Quantized q ? q.base() : this;
    }

    /** The same variant with its weights in {@code dtype}: quantized for a quantized dtype, else in the model's type. */
    default AttentionConfig withWeights(DType dtype) {
        return dtype.isQuantized() ? new Quantized(unquantized(), dtype) : unquantized();
    }

    /** Whether the KV cache is FP8 E4M3 (false for linear and no-op, which cache nothing). */
    default boolean fp8Kv() {
        return switch (this) {
            case Gqa g -> g.fp8Kv();
            case Window w -> w.fp8Kv();
            case Quantized q -> q.base().fp8Kv();
            case Linear l -> false;
            case Mamba2 m -> false;
            case NoOp n -> false;
        };
    }

    /** The same variant with its KV cache in FP8; refused for a variant without a KV cache. */
    default AttentionConfig withFp8Kv() {
        return switch (this) {
            case Gqa g -> new Gqa(g.numKvHeads(), true);
            case Window w -> new Window(w.numKvHeads(), w.window(), true);
            case Quantized q -> new Quantized(q.base().withFp8Kv(), q.weights());
            case Linear l -> throw new IllegalArgumentException("an FP8 KV cache needs attention with a KV cache, not linear");
            case Mamba2 m -> throw new IllegalArgumentException("an FP8 KV cache needs attention with a KV cache, not mamba2");
            case NoOp n -> throw new IllegalArgumentException("an FP8 KV cache needs attention with a KV cache, not no_op");
        };
    }

    /** The same variant with its KV cache in the model's dtype. */
    default AttentionConfig withoutFp8Kv() {
        return switch (this) {
            case Gqa g -> new Gqa(g.numKvHeads());
            case Window w -> new Window(w.numKvHeads(), w.window());
            case Quantized q -> new Quantized(q.base().withoutFp8Kv(), q.weights());
            case Linear l -> this;
            case Mamba2 m -> this;
            case NoOp n -> this;
        };
    }

    /** The window of a sliding-window variant; 0 when attention sees the whole context (or there is no attention). */
    default int window() {
        return switch (this) {
            case Window w -> w.window();
            case Quantized q -> q.base().window();
            case Gqa g -> 0;
            case Linear l -> 0;
            case Mamba2 m -> 0;
            case NoOp n -> 0;
        };
    }

    /** Whether the variant has weights (all but the no-op): what BLD trains and the candidate store keeps. */
    default boolean hasWeights() {
        return switch (this) {
            case Gqa g -> true;
            case Window w -> true;
            case Linear l -> true;
            case Mamba2 m -> true;
            case Quantized q -> true;
            case NoOp n -> false;
        };
    }

    /** KV heads this variant caches (0 for linear, Mamba-2 and no-op). */
    default int kvHeads() {
        return switch (this) {
            case Gqa g -> g.numKvHeads();
            case Window w -> w.numKvHeads();
            case Quantized q -> q.base().kvHeads();
            case Linear l -> 0;
            case Mamba2 m -> 0;
            case NoOp n -> 0;
        };
    }
}
