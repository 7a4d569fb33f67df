package dev.puzzle.blocklibrary;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.blocklibrary.BlockLibrary.Replacement;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.config.Json;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The typed block library in the layout of the public Puzzle demo's {@code block_library.json}:
 * {@code layer_i → variant name → {stats: {...}, metrics: {...}}}; a replacement covering a run of
 * consecutive layers (FFN fusion) is keyed {@code layers_i-j} (inclusive). Numeric leaves become values
 * by dotted path ({@code stats.memory_mib}); strings and nulls are descriptive and dropped. Variant
 * names go through {@link BlockNames}: ours become blocks, others stay names.
 */
public final class BlockLibraryJson {
    private BlockLibraryJson() {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SINGLE = Pattern.compile("layer_(\\d+)");
    private static final Pattern SPAN = Pattern.compile("layers_(\\d+)-(\\d+)");

    public static BlockLibrary read(Path file) {
        JsonNode root = Json.readObject(file, "a block library");
        if (root.isEmpty()) {
            throw new PuzzleException(file + ": a block library is a JSON object of layer_i → variant → {stats, metrics}");
        }
        record Entry(int span, String name, Map<String, Double> values) {}
        TreeMap<Integer, List<Entry>> byFirst = new TreeMap<>();
        int maxLayer = -1;
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            int first, last;
            Matcher m1 = SINGLE.matcher(key), m2 = SPAN.matcher(key);
            if (m1.matches()) {
                first = last = layerIndex(file, key, m1.group(1));
            } else if (m2.matches()) {
                first = layerIndex(file, key, m2.group(1));
                last = layerIndex(file, key, m2.group(2));
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
                byFirst.computeIfAbsent(first, k -> new ArrayList<>()).add(new Entry(last - first + 1, v.getKey(), values));
            }
        }
        List<Replacement> reps = new ArrayList<>();
        for (var e : byFirst.entrySet()) {
            List<Entry> list = new ArrayList<>(e.getValue());
            list.sort(Comparator.comparingInt(Entry::span));
            for (Entry o : list) {
                List<BlockConfig> blocks = o.span() == 1 ? BlockNames.parse(o.name()).map(List::of).orElse(List.of()) : BlockNames.parseFused(o.name());
                if (blocks.size() != o.span()) blocks = List.of();
                reps.add(new Replacement(e.getKey(), o.span(), o.name(), blocks, o.values()));
            }
        }
        return new BlockLibrary(maxLayer + 1, reps, file.toString());
    }

    /** The most layers a library may name: far above any model's, and a bound on what is allocated per layer. */
    static final int MAX_LAYERS = 100_000;

    private static int layerIndex(Path file, String key, String digits) {
        if (digits.length() > 6 || Integer.parseInt(digits) >= MAX_LAYERS) throw PuzzleException.field(file, key, key, "layer index beyond " + (MAX_LAYERS - 1));
        return Integer.parseInt(digits);
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
    public static void write(BlockLibrary lib, Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        for (Replacement r : lib.replacements()) {
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
