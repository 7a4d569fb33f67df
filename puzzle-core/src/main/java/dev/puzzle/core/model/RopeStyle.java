package dev.puzzle.core.model;

/**
 * How rotary position embeddings pair the dimensions of a head. llama2.c and GGUF rotate adjacent
 * pairs (2i, 2i+1); Hugging Face rotates (i, i + headDim/2). The two are equal up to a permutation of
 * the q/k projection rows, which {@code io.Checkpoints.toHalfSplit} applies.
 */
public enum RopeStyle {
    INTERLEAVED,
    HALF_SPLIT
}
