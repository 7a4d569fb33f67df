package dev.puzzle.core.model;

import dev.puzzle.core.tensor.DType;

/**
 * The FFN sub-block of one layer: dense SwiGLU of its own width, a squared-ReLU MLP of its own width (Nemotron-H), a
 * mixture of SwiGLU experts, one linear map, or nothing; and any of these with weights ({@link Quantized}) stored in a
 * quantized format.
 */
public sealed interface FfnConfig {

    /** SwiGLU FFN. PyTorch: w2(F.silu(w1(x)) * w3(x)) */
    record Dense(int intermediateSize) implements FfnConfig {
        public Dense {
            if (intermediateSize < 1) throw new IllegalArgumentException("intermediateSize must be >= 1, got " + intermediateSize);
        }
    }

    /**
     * Nemotron-H's MLP: an up projection, squared ReLU, a down projection — {@code down(relu(up h)²)}, no gate. PyTorch:
     * {@code down_proj(torch.relu(up_proj(x)) ** 2)} (HF's "relu2").
     */
    record Relu2(int intermediateSize) implements FfnConfig {
        public Relu2 {
            if (intermediateSize < 1) throw new IllegalArgumentException("intermediateSize must be >= 1, got " + intermediateSize);
        }
    }

    /**
     * A mixture of SwiGLU experts (Mixtral, Qwen2-MoE): a router (numExperts × dim) scores each token,
     * the softmax over all experts is taken, the top-k experts run and their outputs are summed weighted by
     * their probabilities — renormalized over the k when {@code normTopK} (Mixtral always) — plus, when
     * {@code sharedIntermediate > 0}, a shared SwiGLU expert of that width scaled by
     * sigmoid(shared_expert_gate · h) (Qwen2-MoE).
     */
    record Moe(int numExperts, int topK, int expertIntermediate, boolean normTopK, int sharedIntermediate) implements FfnConfig {
        public Moe {
            if (numExperts < 1) throw new IllegalArgumentException("numExperts must be >= 1, got " + numExperts);
            if (topK < 1 || topK > numExperts) throw new IllegalArgumentException("topK must be in [1, numExperts " + numExperts + "], got " + topK);
            if (expertIntermediate < 1) throw new IllegalArgumentException("expertIntermediate must be >= 1, got " + expertIntermediate);
            if (sharedIntermediate < 0) throw new IllegalArgumentException("sharedIntermediate must be >= 0, got " + sharedIntermediate);
        }

        /** The same layer keeping {@code n} experts (top-k capped at n). */
        public Moe withExperts(int n) {
            return new Moe(n, Math.min(topK, n), expertIntermediate, normTopK, sharedIntermediate);
        }
    }

    /** FFN replaced by one linear map of the normed input: {@code x + W·rmsnorm(x)}. */
    record Linear() implements FfnConfig {}

    /** No FFN: the residual stream passes through. */
    record NoOp() implements FfnConfig {}

    /**
     * Another variant whose weight matrices (projections, every expert's, the linear map; norms and a MoE
     * router stay in the model's type) are stored in {@code weights}, a quantized dtype, where their rows are whole
     * blocks of it (others keep the model's type, as llama.cpp falls back). The experts of a MoE layer are one choice.
     */
    record Quantized(FfnConfig base, DType weights) implements FfnConfig {
        public Quantized {
            java.util.Objects.requireNonNull(base, "base");
            if (base instanceof Quantized) throw new IllegalArgumentException("weights are quantized once: " + base + " is quantized already");
            if (!base.hasWeights()) throw new IllegalArgumentException("a no_op FFN has no weights to quantize");
            if (!weights.isQuantized()) throw new IllegalArgumentException(weights.configName() + " is not a quantized weight format");
        }
    }

    /** The quantized format of the variant's weights; null when they are in the model's own type. */
    default DType quantizedWeights() {
        return switch (this) {
            case Quantized q -> q.weights();
            case Dense d -> null;
            case Relu2 r -> null;
            case Moe m -> null;
            case Linear l -> null;
            case NoOp n -> null;
        };
    }

    /** The variant with its weights in the model's own type (itself when they are). */
    default FfnConfig unquantized() {
        return this instanceof Quantized q ? q.base() : this;
    }

    /** The same variant with its weights in {@code dtype}: quantized for a quantized dtype, else in the model's type. */
    default FfnConfig withWeights(DType dtype) {
        return dtype.isQuantized() ? new Quantized(unquantized(), dtype) : unquantized();
    }

    /** Whether the variant has weights (all but the no-op): what BLD trains and the candidate store keeps. */
    default boolean hasWeights() {
        return switch (this) {
            case Dense d -> true;
            case Relu2 r -> true;
            case Moe m -> true;
            case Linear l -> true;
            case Quantized q -> true;
            case NoOp n -> false;
        };
    }

    /** The width of a dense SwiGLU FFN (0 for the other variants). */
    default int denseWidth() {
        return switch (this) {
            case Dense d -> d.intermediateSize();
            case Quantized q -> q.base().denseWidth();
            case Relu2 r -> 0;
            case Moe m -> 0;
            case Linear l -> 0;
            case NoOp n -> 0;
        };
    }

    /** The width of a squared-ReLU MLP (0 for the other variants). */
    default int relu2Width() {
        return switch (this) {
            case Relu2 r -> r.intermediateSize();
            case Quantized q -> q.base().relu2Width();
            case Dense d -> 0;
            case Moe m -> 0;
            case Linear l -> 0;
            case NoOp n -> 0;
        };
    }

    /** Experts of a mixture-of-experts layer (0 for the other variants). */
    default int numExperts() {
        return switch (this) {
            case Moe m -> m.numExperts();
            case Quantized q -> q.base().numExperts();
            case Dense d -> 0;
            case Relu2 r -> 0;
            case Linear l -> 0;
            case NoOp n -> 0;
        };
    }
}
