package dev.puzzle.core.model;

/** The FFN sub-block of one layer: dense SwiGLU of its own width, one linear map, or nothing. */
public sealed interface FfnConfig {

    /** SwiGLU FFN. PyTorch: w2(F.silu(w1(x)) * w3(x)) */
    record Dense(int intermediateSize) implements FfnConfig {
        public Dense {
            if (intermediateSize < 1) throw new IllegalArgumentException("intermediateSize must be >= 1, got " + intermediateSize);
        }
    }

    /** FFN replaced by one linear map of the normed input: {@code x + W·rmsnorm(x)}. */
    record Linear() implements FfnConfig {}

    /** No FFN: the residual stream passes through. */
    record NoOp() implements FfnConfig {}
}
