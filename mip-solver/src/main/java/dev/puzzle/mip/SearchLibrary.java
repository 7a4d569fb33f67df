package dev.puzzle.mip;

import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.core.PuzzleException;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The numeric view of a block library the MIP chooses from: per choice, the layers it covers, its
 * name, and its values by dotted key ({@code stats.memory_mib}, {@code metrics.kl_div}). The typed
 * library (blocks, the {@code block_library.json} adapter) lives in {@code block-library}; the
 * solver needs only numbers. A choice may cover a run of consecutive layers (FFN fusion).
 */
public final class SearchLibrary {

    /** One choice: covers layers [first, first+span), with its values by dotted key. */
    public record Choice(int index, int first, int span, String name, Map<String, Double> values) {
        public int last() {
            return first + span - 1;
        }

        public String layerKey() {
            return span == 1 ? "layer_" + first : "layers_" + first + "-" + last();
        }
    }

    private final int numLayers;
    private final List<Choice> replacements;
    private final String source;

    public SearchLibrary(int numLayers, List<Choice> replacements, String source) {
        this.numLayers = numLayers;
        this.replacements = List.copyOf(replacements);
        this.source = source;
        boolean[] covered = new boolean[numLayers];
        for (Choice r : replacements) {
            if (r.first() < 0 || r.span() < 1 || r.last() >= numLayers) {
                throw new PuzzleException(source + ": " + r.layerKey() + " is outside layers 0.." + (numLayers - 1));
            }
            if (r.span() == 1) covered[r.first()] = true;
        }
        for (int i = 0; i < numLayers; i++) {
            final int layer = i;
            if (!covered[i] && replacements.stream().noneMatch(r -> r.first() <= layer && layer <= r.last())) {
                throw new PuzzleException(source + ": layer_" + i + " has no variant");
            }
        }
    }

    /** The numeric view of a typed library: the same replacements, in order, with their values. */
    public static SearchLibrary of(BlockLibrary typed) {
        List<Choice> choices = new ArrayList<>();
        for (BlockLibrary.Replacement r : typed.replacements()) choices.add(new Choice(choices.size(), r.first(), r.span(), r.name(), r.values()));
        return new SearchLibrary(typed.numLayers(), choices, typed.source());
    }

    /** Builder-style constructor from per-layer variant maps (single-layer replacements only). */
    public static SearchLibrary of(List<Map<String, Map<String, Double>>> layers) {
        List<Choice> reps = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            for (var e : layers.get(i).entrySet()) reps.add(new Choice(reps.size(), i, 1, e.getKey(), e.getValue()));
        }
        return new SearchLibrary(layers.size(), reps, "library");
    }

    public int numLayers() {
        return numLayers;
    }

    public List<Choice> replacements() {
        return replacements;
    }

    public String source() {
        return source;
    }

    /** Replacements whose span starts at {@code layer}. */
    public List<Choice> startingAt(int layer) {
        return replacements.stream().filter(r -> r.first() == layer).toList();
    }

    /** Keys present in every replacement (the ones usable as objective or budget). */
    public Set<String> commonKeys() {
        Set<String> keys = null;
        for (Choice r : replacements) {
            if (keys == null) keys = new LinkedHashSet<>(r.values().keySet());
            else keys.retainAll(r.values().keySet());
        }
        return keys == null ? Set.of() : keys;
    }

    /** Checks that {@code key} exists in every replacement; names the first that lacks it. */
    public void requireKey(String key, String role) {
        boolean anywhere = replacements.stream().anyMatch(r -> r.values().containsKey(key));
        if (!anywhere) {
            throw new PuzzleException(source + ": no variant has " + role + " key '" + key + "' (keys: " + String.join(", ", new java.util.TreeSet<>(commonKeys())) + ")");
        }
        for (Choice r : replacements) {
            if (!r.values().containsKey(key)) {
                throw new PuzzleException(source + ": " + r.layerKey() + " variant '" + r.name() + "' has no '" + key + "' (" + role + ")");
            }
        }
    }
}
