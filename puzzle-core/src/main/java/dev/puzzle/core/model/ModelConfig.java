package dev.puzzle.core.model;

import java.util.List;

/**
 * The shape of a Llama-family decoder. {@code numKvHeads} and {@code intermediateSize} are the parent's
 * defaults; each layer's own choice lives in {@code blocks}, so a heterogeneous child is simply a
 * list of different entries.
 *
 * @param architecture  the Hugging Face architecture name (e.g. LlamaForCausalLM)
 * @param dim           hidden size (HF hidden_size)
 * @param numHeads      query heads (HF num_attention_heads)
 * @param headDim       dimension of one head
 * @param numKvHeads    the parent's KV heads (HF num_key_value_heads)
 * @param intermediateSize the parent's FFN width (HF intermediate_size)
 * @param vocabSize     vocabulary size
 * @param maxSeqLen     context length (HF max_position_embeddings)
 * @param normEps       RMSNorm epsilon
 * @param ropeTheta     RoPE base
 * @param ropeStyle     which dimensions RoPE pairs
 * @param tiedEmbeddings whether the classifier shares the token embedding
 * @param qkvBias       whether q/k/v projections have biases (Qwen2)
 * @param blocks        one block per layer
 * @param qkNorm        whether attention RMS-normalizes each head's q and k before RoPE (Qwen3)
 * @param extensions    what gpt-oss adds: attention sinks, an o_proj bias, YaRN RoPE, clamped-SwiGLU experts with biases
 */
public record ModelConfig(String architecture, int dim, int numHeads, int headDim, int numKvHeads,
                          int intermediateSize, int vocabSize, int maxSeqLen, float normEps, float ropeTheta,
                          RopeStyle ropeStyle, boolean tiedEmbeddings, boolean qkvBias, List<BlockConfig> blocks, boolean qkNorm,
                          Extensions extensions) {

    /**
     * The parts of gpt-oss's layout (OpenAI's published definition, HF {@code GptOssForCausalLM}) and Nemotron-H's beyond
     * Llama's, each on its own so any layout may carry it.
     *
     * @param sinks      every attention layer with a KV cache has one learned logit per query head
     *                   ({@code self_attn.sinks}), added to its softmax's denominator and dropped from its output
     * @param outputBias o_proj has a bias ({@code self_attn.o_proj.bias})
     * @param yarn       YaRN RoPE scaling, or null for plain RoPE
     * @param experts    gpt-oss's experts: null for plain SwiGLU experts without biases
     * @param noRope     attention has no position embedding at all (Nemotron-H: its Mamba-2 layers carry the order)
     * @param sigmoidExperts Nemotron 3's experts: null for softmax-routed SwiGLU experts
     */
    public record Extensions(boolean sinks, boolean outputBias, Yarn yarn, ClampedSwiGlu experts, boolean noRope, SigmoidExperts sigmoidExperts) {
        public static final Extensions NONE = new Extensions(false, false, null, null, false, null);

        /** With RoPE. */
        public Extensions(boolean sinks, boolean outputBias, Yarn yarn, ClampedSwiGlu experts) {
            this(sinks, outputBias, yarn, experts, false, null);
        }

        /** Without Nemotron 3's experts. */
        public Extensions(boolean sinks, boolean outputBias, Yarn yarn, ClampedSwiGlu experts, boolean noRope) {
            this(sinks, outputBias, yarn, experts, noRope, null);
        }

        public Extensions {
            if (noRope && yarn != null) throw new IllegalArgumentException("a model without RoPE has no YaRN scaling");
            if (experts != null && sigmoidExperts != null) throw new IllegalArgumentException("experts are gpt-oss's or Nemotron 3's, not both");
        }

        public boolean any() {
            return !equals(NONE);
        }

        /** In words, for inspect: "attention sinks, o_proj bias, YaRN RoPE (...), clamped-SwiGLU experts (...)"; empty for none. */
        public String describe() {
            List<String> parts = new java.util.ArrayList<>();
            if (noRope) parts.add("no RoPE (attention without position embeddings)");
            if (sinks) parts.add("attention sinks");
            if (outputBias) parts.add("o_proj bias");
            if (yarn != null) {
                parts.add(String.format(java.util.Locale.ROOT, "YaRN RoPE (factor %s, original context %d, beta %s/%s, %s, attention factor %.4f)",
                        num(yarn.factor()), yarn.originalContext(), num(yarn.betaFast()), num(yarn.betaSlow()), yarn.truncate() ? "truncated" : "not truncated", yarn.scale()));
            }
            if (experts != null) {
                parts.add("experts with biases and a biased router, clamped SwiGLU (limit " + num(experts.limit()) + ", alpha " + num(experts.alpha()) + ")");
            }
            if (sigmoidExperts != null) {
                parts.add("squared-ReLU experts, a sigmoid router with a selection bias, weights × " + num(sigmoidExperts.scale()) + ", an ungated shared expert");
            }
            return String.join(", ", parts);
        }

        private static String num(float v) {
            return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
        }
    }

    /**
     * gpt-oss's experts: the router has a bias, every projection has one, and the activation of gate a and up b is
     * {@code (clamp(b, −limit, limit) + 1) · g · σ(alpha · g)}, g = min(a, limit).
     */
    public record ClampedSwiGlu(float limit, float alpha) {
        public static final float GPT_OSS_ALPHA = 1.702f;

        public ClampedSwiGlu {
            if (!(limit > 0) || Float.isInfinite(limit)) throw new IllegalArgumentException("swiglu_limit must be > 0, got " + limit);
            if (!(alpha > 0) || Float.isInfinite(alpha)) throw new IllegalArgumentException("the clamped SwiGLU's alpha must be > 0, got " + alpha);
        }
    }

    /**
     * Nemotron 3's mixture of experts (HF {@code NemotronHMOE}, one expert group): router scores p = σ(Wr·h); the top-k of
     * p + {@code e_score_correction_bias} (which only steers the choice, and is not trained) run, each weighted by its p —
     * over their sum when normTopK — times {@code scale} ({@code routed_scaling_factor}); experts and the shared expert are
     * squared-ReLU MLPs {@code down(relu(up h)²)}; the shared expert is added ungated.
     */
    public record SigmoidExperts(float scale) {
        public SigmoidExperts {
            if (!(scale > 0) || Float.isInfinite(scale)) throw new IllegalArgumentException("routed_scaling_factor must be > 0, got " + scale);
        }
    }

    /** Without gpt-oss's extensions. */
    public ModelConfig(String architecture, int dim, int numHeads, int headDim, int numKvHeads, int intermediateSize, int vocabSize,
                       int maxSeqLen, float normEps, float ropeTheta, RopeStyle ropeStyle, boolean tiedEmbeddings, boolean qkvBias,
                       List<BlockConfig> blocks, boolean qkNorm) {
        this(architecture, dim, numHeads, headDim, numKvHeads, intermediateSize, vocabSize, maxSeqLen, normEps, ropeTheta, ropeStyle,
                tiedEmbeddings, qkvBias, blocks, qkNorm, Extensions.NONE);
    }

    /** Without q/k norms. */
    public ModelConfig(String architecture, int dim, int numHeads, int headDim, int numKvHeads, int intermediateSize, int vocabSize,
                       int maxSeqLen, float normEps, float ropeTheta, RopeStyle ropeStyle, boolean tiedEmbeddings, boolean qkvBias,
                       List<BlockConfig> blocks) {
        this(architecture, dim, numHeads, headDim, numKvHeads, intermediateSize, vocabSize, maxSeqLen, normEps, ropeTheta, ropeStyle,
                tiedEmbeddings, qkvBias, blocks, false);
    }

    public ModelConfig {
        blocks = List.copyOf(blocks);
        java.util.Objects.requireNonNull(extensions, "extensions");
        check(dim > 0, "dim", dim);
        check(numHeads > 0, "numHeads", numHeads);
        check(headDim > 0 && headDim % 2 == 0, "headDim (must be even)", headDim);
        check(numKvHeads > 0 && numHeads % numKvHeads == 0, "numKvHeads (must divide numHeads " + numHeads + ")", numKvHeads);
        check(intermediateSize > 0, "intermediateSize", intermediateSize);
        check(vocabSize > 0, "vocabSize", vocabSize);
        check(maxSeqLen > 0, "maxSeqLen", maxSeqLen);
        check(normEps > 0, "normEps", normEps);
        check(ropeTheta > 0, "ropeTheta", ropeTheta);
        check(!blocks.isEmpty(), "blocks (at least one layer)", blocks.size());
        for (int i = 0; i < blocks.size(); i++) {
            int kv = blocks.get(i).attention().kvHeads();
            if (kv > 0 && numHeads % kv != 0) {
                throw new IllegalArgumentException("layer " + i + ": numKvHeads " + kv + " does not divide numHeads " + numHeads);
            }
        }
    }

    private static void check(boolean ok, String name, Object value) {
        if (!ok) throw new IllegalArgumentException("invalid " + name + ": " + value);
    }

    /**
     * A uniform parent of equal GQA + dense-FFN blocks, built by name, e.g.
     * {@code ModelConfig.builder("LlamaForCausalLM").dim(64).layers(5).heads(8).kvHeads(4).intermediateSize(172).vocabSize(512).build()}.
     * Defaults: KV heads = heads, context 2048, RMSNorm epsilon 1e-5, RoPE base 10000 in half-split pairing,
     * untied classifier, no biases.
     */
    public static Builder builder(String architecture) {
        return new Builder(architecture);
    }

    /** Builds a uniform parent; {@link #build} checks every value (the record's own checks) and that heads divide dim. */
    public static final class Builder {
        private final String architecture;
        private int dim, layers, heads, kvHeads = -1, intermediateSize, vocabSize, maxSeqLen = 2048;
        private float normEps = 1e-5f, ropeTheta = 10000f;
        private RopeStyle ropeStyle = RopeStyle.HALF_SPLIT;
        private boolean tiedEmbeddings, qkvBias;

        private Builder(String architecture) {
            this.architecture = architecture;
        }

        public Builder dim(int v) { dim = v; return this; }
        public Builder layers(int v) { layers = v; return this; }
        public Builder heads(int v) { heads = v; return this; }
        public Builder kvHeads(int v) { kvHeads = v; return this; }
        public Builder intermediateSize(int v) { intermediateSize = v; return this; }
        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder maxSeqLen(int v) { maxSeqLen = v; return this; }
        public Builder normEps(float v) { normEps = v; return this; }
        public Builder ropeTheta(float v) { ropeTheta = v; return this; }
        public Builder ropeStyle(RopeStyle v) { ropeStyle = v; return this; }
        public Builder tiedEmbeddings(boolean v) { tiedEmbeddings = v; return this; }
        public Builder qkvBias(boolean v) { qkvBias = v; return this; }

        public ModelConfig build() {
            if (layers < 1) throw new IllegalArgumentException("invalid numLayers: " + layers);
            if (heads < 1 || dim % heads != 0) throw new IllegalArgumentException("numHeads " + heads + " does not divide dim " + dim);
            int kv = kvHeads < 0 ? heads : kvHeads; // unset: multi-head attention
            List<BlockConfig> blocks = java.util.Collections.nCopies(layers, BlockConfig.parent(kv, intermediateSize));
            return new ModelConfig(architecture, dim, heads, dim / heads, kv, intermediateSize, vocabSize, maxSeqLen, normEps, ropeTheta,
                    ropeStyle, tiedEmbeddings, qkvBias, blocks);
        }
    }

    public int numLayers() {
        return blocks.size();
    }

    /**
     * The parent's own block at layer {@code l} — what a candidate of that layer replaces. A uniform
     * parent has the same one everywhere; a heterogeneous parent (a DeciLM checkpoint) has its own per layer.
     */
    public BlockConfig parentBlock(int l) {
        return blocks.get(l);
    }

    public int qDim() {
        return numHeads * headDim;
    }

    /** True when every layer is the parent's GQA + dense FFN. */
    public boolean isUniformParent() {
        BlockConfig p = BlockConfig.parent(numKvHeads, intermediateSize);
        return blocks.stream().allMatch(p::equals);
    }

    public ModelConfig withBlocks(List<BlockConfig> newBlocks) {
        return new ModelConfig(architecture, dim, numHeads, headDim, numKvHeads, intermediateSize, vocabSize, maxSeqLen,
                normEps, ropeTheta, ropeStyle, tiedEmbeddings, qkvBias, newBlocks, qkNorm, extensions);
    }

    /** The same model with every part's weights in the model's own type (what training builds its ops from; quantized parts train on FP32 masters). */
    public ModelConfig unquantized() {
        return withBlocks(blocks.stream().map(b -> new BlockConfig(b.attention().unquantized(), b.ffn().unquantized())).toList());
    }

    public ModelConfig withRopeStyle(RopeStyle style) {
        return new ModelConfig(architecture, dim, numHeads, headDim, numKvHeads, intermediateSize, vocabSize, maxSeqLen,
                normEps, ropeTheta, style, tiedEmbeddings, qkvBias, blocks, qkNorm, extensions);
    }

    public ModelConfig withExtensions(Extensions ext) {
        return new ModelConfig(architecture, dim, numHeads, headDim, numKvHeads, intermediateSize, vocabSize, maxSeqLen,
                normEps, ropeTheta, ropeStyle, tiedEmbeddings, qkvBias, blocks, qkNorm, ext);
    }

    /** The rotation of every attention head: RoPE's frequencies (YaRN's where the model has it; none without RoPE). */
    public Rope.Frequencies ropeFrequencies() {
        if (extensions.noRope()) return Rope.Frequencies.NONE;
        return Rope.Frequencies.of(headDim, ropeTheta, extensions.yarn());
    }
}
