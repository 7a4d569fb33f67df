package dev.puzzle.pipeline;

import dev.puzzle.core.model.BlockConfig;

import java.util.List;

/**
 * One architecture to realize and evaluate: the parent itself, a Puzzle child chosen by the MIP, or a
 * baseline at the same budget.
 *
 * @param name     its folder under RUN_DIR/compress, e.g. {@code puzzle-260000} or {@code uniform-1.5x}
 * @param kind     what made it
 * @param target   the throughput target it was made for (null for the parent)
 * @param targetTokensPerSecond that target in tokens/s on the profile (NaN for the parent)
 * @param blocks   one block per layer
 * @param variants the library's variant name of every layer
 * @param solvedBy how it was chosen (solver, time limit, status), for the report
 */
public record Plan(String name, Kind kind, RunConfig.Target target, double targetTokensPerSecond, List<BlockConfig> blocks, List<String> variants,
                   String solvedBy) {
    public Plan {
        blocks = List.copyOf(blocks);
        variants = List.copyOf(variants);
    }

    /** What made a model. */
    public enum Kind {
        PARENT("parent"), PUZZLE("puzzle"), UNIFORM("uniform"), LAYER_DROP("layer-drop"),
        /** Puzzle's search with one global KV dtype, FP8, in every layer that caches K and V (Puzzletron's setting). */
        FP8_GLOBAL("fp8-global");

        public final String label;

        Kind(String label) {
            this.label = label;
        }

        public static Kind of(String label) {
            for (Kind k : values()) if (k.label.equals(label)) return k;
            throw new IllegalArgumentException("unknown model kind '" + label + "'");
        }
    }
}
