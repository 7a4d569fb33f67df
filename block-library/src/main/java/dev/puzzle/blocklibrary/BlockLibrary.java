package dev.puzzle.blocklibrary;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.LibraryKeys;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The typed block library: every replacement the search may choose, with its costs and scores. One
 * stage writes it (profile: costs; score: metrics), the search reads it; {@link BlockLibraryJson} is its
 * adapter to the public Puzzle {@code block_library.json} layout.
 *
 * @param numLayers    layers of the parent
 * @param replacements every choice; each layer is covered by at least one
 * @param source       where it came from, for messages
 */
public record BlockLibrary(int numLayers, List<Replacement> replacements, String source) {

    /**
     * One choice: it covers layers [first, first + span) with {@code blocks} (one per layer; empty when
     * the variant name is another tool's and names no block of ours), and carries its values by dotted
     * key: costs under {@code stats.} ({@link LibraryKeys}), scores under {@code metrics.}.
     */
    public record Replacement(int first, int span, String name, List<BlockConfig> blocks, Map<String, Double> values) {
        public Replacement {
            blocks = List.copyOf(blocks);
            values = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(values));
            if (!blocks.isEmpty() && blocks.size() != span) {
                throw new IllegalArgumentException(name + ": " + blocks.size() + " blocks for a span of " + span + " layers");
            }
        }

        /** A single-layer replacement by one of our blocks, named by {@link BlockNames}. */
        public static Replacement of(dev.puzzle.core.model.ModelConfig parent, int layer, BlockConfig block, Map<String, Double> values) {
            return new Replacement(layer, 1, BlockNames.library(parent, block), List.of(block), values);
        }

        public int last() {
            return first + span - 1;
        }

        /** {@code layer_i}, or {@code layers_i-j} for a span. */
        public String layerKey() {
            return span == 1 ? "layer_" + first : "layers_" + first + "-" + last();
        }

        /** The values under {@code stats.} (costs), keys without the prefix. */
        public Map<String, Double> stats() {
            return group(LibraryKeys.STATS_PREFIX);
        }

        /** The values under {@code metrics.} (scores), keys without the prefix. */
        public Map<String, Double> metrics() {
            return group(LibraryKeys.METRICS_PREFIX);
        }

        private Map<String, Double> group(String prefix) {
            Map<String, Double> m = new LinkedHashMap<>();
            values.forEach((k, v) -> {
                if (k.startsWith(prefix)) m.put(k.substring(prefix.length()), v);
            });
            return m;
        }

        /** The same choice with more values (e.g. scores added to costs). */
        public Replacement with(Map<String, Double> more) {
            Map<String, Double> m = new LinkedHashMap<>(values);
            m.putAll(more);
            return new Replacement(first, span, name, blocks, m);
        }
    }

    public BlockLibrary {
        replacements = List.copyOf(replacements);
        boolean[] covered = new boolean[numLayers];
        for (Replacement r : replacements) {
            if (r.first() < 0 || r.span() < 1 || r.last() >= numLayers) {
                throw new PuzzleException(source + ": " + r.layerKey() + " is outside layers 0.." + (numLayers - 1));
            }
            for (int l = r.first(); l <= r.last(); l++) covered[l] = true;
        }
        for (int i = 0; i < numLayers; i++) {
            if (!covered[i]) throw new PuzzleException(source + ": layer_" + i + " has no variant");
        }
    }

    /** The replacement starting at {@code first} over {@code span} layers with these blocks, or null. */
    public Replacement find(int first, List<BlockConfig> blocks) {
        for (Replacement r : replacements) if (r.first() == first && r.span() == blocks.size() && r.blocks().equals(blocks)) return r;
        return null;
    }

    /** The single-layer replacement of {@code layer} by {@code block}, or null. */
    public Replacement find(int layer, BlockConfig block) {
        for (Replacement r : replacements) if (r.first() == layer && r.span() == 1 && r.blocks().equals(List.of(block))) return r;
        return null;
    }
}
