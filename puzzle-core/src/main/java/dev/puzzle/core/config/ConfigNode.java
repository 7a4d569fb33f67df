package dev.puzzle.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.puzzle.core.PuzzleException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * A node of a YAML (or JSON) config file that knows where it came from, so every error names the
 * file, the dotted field and the value. Unknown keys are errors: a typo never passes silently.
 */
public final class ConfigNode {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private final String file;
    private final String path;
    private final JsonNode node;

    private ConfigNode(String file, String path, JsonNode node) {
        this.file = file;
        this.path = path;
        this.node = node;
    }

    public static ConfigNode read(Path file) {
        if (!Files.isRegularFile(file)) throw new PuzzleException(file + ": no such config file");
        try (InputStream in = Files.newInputStream(file)) {
            return parse(file.toString(), in);
        } catch (IOException e) {
            throw new PuzzleException(file + ": cannot read: " + e.getMessage());
        }
    }

    public static ConfigNode parse(String name, InputStream in) {
        try {
            JsonNode n = YAML.readTree(in);
            if (n == null || n.isMissingNode() || n.isNull()) throw new PuzzleException(name + ": empty config");
            if (!n.isObject()) throw new PuzzleException(name + ": a config must be a mapping of keys to values");
            return new ConfigNode(name, "", n);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new PuzzleException(name + ": not valid YAML: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ")" : ""));
        } catch (IOException e) {
            throw new PuzzleException(name + ": cannot read: " + e.getMessage());
        }
    }

    public String file() {
        return file;
    }

    /** The dotted path of this node within the file ("" for the root). */
    public String path() {
        return path;
    }

    private String at(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    public PuzzleException error(String key, Object value, String problem) {
        return PuzzleException.field(file, at(key), value, problem);
    }

    /** Fails on any key not in {@code allowed}, naming it and listing the allowed ones. */
    public ConfigNode allowOnly(String... allowed) {
        Set<String> ok = Set.of(allowed);
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!ok.contains(k)) throw error(k, node.get(k), "unknown key (allowed here: " + String.join(", ", new TreeSet<>(ok)) + ")");
        }
        return this;
    }

    public boolean has(String key) {
        return node.has(key) && !node.get(key).isNull();
    }

    public Set<String> keys() {
        Set<String> s = new java.util.LinkedHashSet<>();
        node.fieldNames().forEachRemaining(s::add);
        return s;
    }

    public ConfigNode child(String key) {
        JsonNode c = node.get(key);
        if (c == null || c.isNull()) return new ConfigNode(file, at(key), MissingNode.getInstance());
        if (!c.isObject()) throw error(key, c, "must be a mapping");
        return new ConfigNode(file, at(key), c);
    }

    /** The parsed value itself (for fingerprints and copies; read fields through the typed accessors). */
    public JsonNode node() {
        return node;
    }

    public boolean isMissing() {
        return node.isMissingNode();
    }

    public String string(String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) throw error(key, "(missing)", "required");
        if (!v.isValueNode()) throw error(key, v, "must be a string");
        return v.asText();
    }

    public String string(String key, String dflt) {
        return has(key) ? string(key) : dflt;
    }

    public double number(String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) throw error(key, "(missing)", "required");
        if (!v.isNumber()) throw error(key, v, "must be a number");
        return v.asDouble();
    }

    public double number(String key, double dflt) {
        return has(key) ? number(key) : dflt;
    }

    public double positive(String key) {
        double v = number(key);
        if (!(v > 0)) throw error(key, v, "must be positive");
        return v;
    }

    public int integer(String key, int min) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) throw error(key, "(missing)", "required");
        if (!v.canConvertToInt() || !v.isIntegralNumber()) throw error(key, v, "must be an integer");
        if (v.asInt() < min) throw error(key, v.asInt(), "must be >= " + min);
        return v.asInt();
    }

    public int integer(String key, int min, int dflt) {
        return has(key) ? integer(key, min) : dflt;
    }

    public boolean bool(String key, boolean dflt) {
        if (!has(key)) return dflt;
        JsonNode v = node.get(key);
        if (!v.isBoolean()) throw error(key, v, "must be true or false");
        return v.asBoolean();
    }

    /** The raw values of a list (a scalar counts as a one-element list); empty when absent. */
    public List<JsonNode> list(String key) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return out;
        if (v.isArray()) v.forEach(out::add);
        else out.add(v);
        return out;
    }

    /** A list of mappings, each as a node. */
    public List<ConfigNode> nodes(String key) {
        List<ConfigNode> out = new ArrayList<>();
        int i = 0;
        for (JsonNode n : list(key)) {
            if (!n.isObject()) throw error(key + "[" + i + "]", n, "must be a mapping");
            out.add(new ConfigNode(file, at(key) + "[" + i++ + "]", n));
        }
        return out;
    }

    /** A path relative to the config file's directory (absolute paths and hf: references pass through). */
    public String pathValue(String key) {
        String s = string(key);
        if (s.startsWith("hf:") || Path.of(s).isAbsolute()) return s;
        Path base = Path.of(file).toAbsolutePath().getParent();
        return base.resolve(s).normalize().toString();
    }
}
