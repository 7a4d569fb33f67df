package dev.puzzle.mip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The candidates the MIP chooses from, in the layout of the public Puzzle demo's
 * {@code block_library.json}: {@code layer_i → variant name → {stats: {...}, metrics: {...}}}. Every
 * numeric leaf is addressed by its dotted path ({@code stats.memory_mib}, {@code metrics.kl_div}).
 * A replacement covering a run of consecutive layers (FFN fusion) is keyed {@code layers_i-j}
 * (inclusive). Variant names are free text.
 */
public final class BlockLibrary {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SINGLE = Pattern.compile("layer_(\\d+)");
    private static final Pattern SPAN = Pattern.compile("layers_(\\d+)-(\\d+)");

    /** One choice: covers layers [first, first+span), with its values by dotted key. */
    public record Replacement(int index, int first, int span, String name, Map<String, Double> values) {
        public int last() {
            return first + span - 1;
        }

        public String layerKey() {
            return span == 1 ? "layer_" + first : "layers_" + first + "-" + last();
        }
    }

    private final int numLayers;
    private final List<Replacement> replacements;
    private final String source;

    public BlockLibrary(int numLayers, List<Replacement> replacements, String source) {
        this.numLayers = numLayers;
        this.replacements = List.copyOf(replacements);
        this.source = source;
        boolean[] covered = new boolean[numLayers];
        for (Replacement r : replacements) {
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

    /** Builder-style constructor from per-layer variant maps (single-layer replacements only). */
    public static BlockLibrary of(List<Map<String, Map<String, Double>>> layers) {
        List<Replacement> reps = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            for (var e : layers.get(i).entrySet()) reps.add(new Replacement(reps.size(), i, 1, e.getKey(), e.getValue()));
        }
        return new BlockLibrary(layers.size(), reps, "library");
    }

    public int numLayers() {
        return numLayers;
    }

    public List<Replacement> replacements() {
        return replacements;
    }

    public String source() {
        return source;
    }

    /** Replacements whose span starts at {@code layer}. */
    public List<Replacement> startingAt(int layer) {
        return replacements.stream().filter(r -> r.first() == layer).toList();
    }

    /** Keys present in every replacement (the ones usable as objective or budget). */
    public Set<String> commonKeys() {
        Set<String> keys = null;
        for (Replacement r : replacements) {
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
        for (Replacement r : replacements) {
            if (!r.values().containsKey(key)) {
                throw new PuzzleException(source + ": " + r.layerKey() + " variant '" + r.name() + "' has no '" + key + "' (" + role + ")");
            }
        }
    }

    public static BlockLibrary read(Path file) {
        JsonNode root = dev.puzzle.core.config.Json.readObject(file, "a block library");
        if (root.isEmpty()) {
            throw new PuzzleException(file + ": a block library is a JSON object of layer_i → variant → {stats, metrics}");
        }
        TreeMap<Integer, List<Object[]>> byFirst = new TreeMap<>();
        int maxLayer = -1;
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            int first, last;
            Matcher m1 = SINGLE.matcher(key), m2 = SPAN.matcher(key);
            if (m1.matches()) {
                first = last = Integer.parseInt(m1.group(1));
            } else if (m2.matches()) {
                first = Integer.parseInt(m2.group(1));
                last = Integer.parseInt(m2.group(2));
                if (last < first) throw PuzzleException.field(file, key, key, "span ends before it starts");
            } else {
                throw PuzzleException.field(file, key, key, "expected layer_<i> or layers_<i>-<j>");
            }
            if (!e.getValue().isObject() || e.getValue().isEmpty()) throw PuzzleException.field(file, key, e.getValue(), "must map variant names to {stats, metrics}");
            maxLayer = Math.max(maxLayer, last);
            for (Iterator<Map.Entry<String, JsonNode>> vs = e.getValue().fields(); vs.hasNext(); ) {
                Map.Entry<String, JsonNode> v = vs.next();
                if (!v.getValue().isObject()) throw PuzzleException.field(file, key + "." + v.getKey(), v.getValue(), "must be an object of {stats, metrics}");
                Map<String, Double> values = new LinkedHashMap<>();
                flatten(file, key + "[" + v.getKey() + "]", "", v.getValue(), values);
                byFirst.computeIfAbsent(first, k -> new ArrayList<>()).add(new Object[]{last - first + 1, v.getKey(), values});
            }
        }
        List<Replacement> reps = new ArrayList<>();
        for (var e : byFirst.entrySet()) {
            List<Object[]> list = new ArrayList<>(e.getValue());
            list.sort(Comparator.comparingInt(o -> (int) o[0]));
            for (Object[] o : list) {
                @SuppressWarnings("unchecked") Map<String, Double> vals = (Map<String, Double>) o[2];
                reps.add(new Replacement(reps.size(), e.getKey(), (int) o[0], (String) o[1], vals));
            }
        }
        return new BlockLibrary(maxLayer + 1, reps, file.toString());
    }

    private static void flatten(Path file, String where, String prefix, JsonNode n, Map<String, Double> out) {
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String k = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            JsonNode v = e.getValue();
            if (v.isObject()) {
                flatten(file, where, k, v, out);
            } else if (v.isNumber()) {
                double d = v.asDouble();
                if (!Double.isFinite(d)) throw PuzzleException.field(file, where + "." + k, v, "must be finite");
                out.put(k, d);
            } else if (v.isBoolean()) {
                out.put(k, v.asBoolean() ? 1.0 : 0.0);
            }
            // strings and nulls are descriptive: not usable as costs or metrics
        }
    }

    /** Writes the library in the same layout (values re-nested by their dotted keys). Atomic. */
    public void write(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        for (Replacement r : replacements) {
            ObjectNode layer = root.has(r.layerKey()) ? (ObjectNode) root.get(r.layerKey()) : root.putObject(r.layerKey());
            ObjectNode v = layer.putObject(r.name());
            for (var e : r.values().entrySet()) {
                String[] parts = e.getKey().split("\\.");
                ObjectNode o = v;
                for (int i = 0; i < parts.length - 1; i++) o = o.has(parts[i]) ? (ObjectNode) o.get(parts[i]) : o.putObject(parts[i]);
                o.put(parts[parts.length - 1], e.getValue());
            }
        }
        AtomicFiles.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    }
}
