package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.BlockLibrary.Replacement;
import dev.puzzle.core.model.BlockConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * One architecture to realize and evaluate: the parent itself, a Puzzle child chosen by the MIP, or a
 * baseline at the same budget.
 *
 * @param name     its folder under RUN_DIR/compress, e.g. {@code puzzle-260000} or {@code uniform-1.5x}
 * @param kind     what made it
 * @param target   the throughput target it was made for (null for the parent)
 * @param targetTokensPerSecond that target in tokens/s on the profile (NaN for the parent)
 * @param choice   the library's replacements it is made of, in layer order, covering every layer once
 * @param solvedBy how it was chosen (solver, time limit, status), for the report
 */
public record Plan(String name, Kind kind, RunConfig.Target target, double targetTokensPerSecond, List<Replacement> choice, String solvedBy) {
    public Plan {
        choice = List.copyOf(choice);
        int next = 0;
        for (Replacement r : choice) {
            if (r.first() != next) throw new IllegalArgumentException(name + ": " + r.layerKey() + " does not start at layer " + next);
            if (r.blocks().isEmpty()) throw new IllegalArgumentException(name + ": " + r.layerKey() + " variant '" + r.name() + "' names no block of this toolkit");
            next += r.span();
        }
    }

    /** One block per layer. */
    public List<BlockConfig> blocks() {
        List<BlockConfig> out = new ArrayList<>();
        for (Replacement r : choice) out.addAll(r.blocks());
        return out;
    }

    /** The replacement that covers layer {@code l}. */
    public Replacement at(int l) {
        for (Replacement r : choice) if (r.first() <= l && l <= r.last()) return r;
        throw new IndexOutOfBoundsException("layer " + l + " of " + name);
    }

    /** What made a model. */
    public enum Kind {
        PARENT("parent"), PUZZLE("puzzle"), UNIFORM("uniform"), LAYER_DROP("layer-drop"),
        /** Puzzle's search with one global KV dtype, FP8, in every layer that caches K and V (Puzzletron's setting). */
        FP8_GLOBAL("fp8-global"),
        /**
         * The whole parent in one quantized weight format, round to nearest (all Q8_0, all Q4_0, all MXFP4: what a
         * llama.cpp user picks today), against the child that chooses architecture and precision per block.
         */
        UNIFORM_FORMAT("uniform-format");

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
