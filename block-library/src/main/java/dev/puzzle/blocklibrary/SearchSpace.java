package dev.puzzle.blocklibrary;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puzzle.core.config.ConfigNode;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The candidate blocks of every layer (Puzzle's search space), from YAML:
 * <pre>
 * attention: {kv_heads: [4, 2, 1], window: [128], linear: true, no_op: true}
 * ffn: {widths: [1.0, 0.5, 0.25], linear: true, no_op: true}   # ratios of the parent's width, or sizes
 * overrides:
 *   - layers: [0, 1]        # or "0-3"
 *     ffn: {widths: [1.0]}
 * </pre>
 * Every layer's candidates are the coupled combinations of its attention and FFN variants; the
 * parent's own block is always among them, first. Window variants take every listed KV-head count.
 * Values are checked against the parent up front: a KV-head count must divide the head count, a
 * width may not exceed the parent's.
 */
public final class SearchSpace {

    /** A candidate with its stable, readable name. */
    public record Candidate(String name, BlockConfig block) {}

    private record Part(List<AttentionConfig> attention, List<FfnConfig> ffn) {}

    private final Part defaults;
    private final Map<Integer, Part> perLayer = new LinkedHashMap<>();

    private SearchSpace(Part defaults) {
        this.defaults = defaults;
    }

    public static SearchSpace parse(ConfigNode c, ModelConfig parent) {
        c.allowOnly("attention", "ffn", "overrides");
        SearchSpace s = new SearchSpace(part(c, parent, null));
        for (ConfigNode o : c.nodes("overrides")) {
            o.allowOnly("layers", "attention", "ffn");
            Part base = s.defaults;
            Part p = part(o, parent, base);
            for (int l : layers(o, parent.numLayers())) s.perLayer.put(l, p);
        }
        return s;
    }

    private static Part part(ConfigNode c, ModelConfig parent, Part inherit) {
        List<AttentionConfig> attn = inherit != null && !c.has("attention") ? inherit.attention() : attention(c.child("attention"), parent);
        List<FfnConfig> ffn = inherit != null && !c.has("ffn") ? inherit.ffn() : ffn(c.child("ffn"), parent);
        return new Part(attn, ffn);
    }

    private static List<Integer> layers(ConfigNode o, int n) {
        Set<Integer> out = new LinkedHashSet<>();
        List<JsonNode> items = o.list("layers");
        if (items.isEmpty()) throw o.error("layers", "(missing)", "an override names its layers, e.g. [0, 1] or \"0-3\"");
        for (JsonNode j : items) {
            String s = j.asText().trim();
            try {
                int a, b;
                if (s.contains("-")) {
                    a = Integer.parseInt(s.substring(0, s.indexOf('-')).trim());
                    b = Integer.parseInt(s.substring(s.indexOf('-') + 1).trim());
                    if (a > b) throw o.error("layers", s, "range ends before it starts");
                } else {
                    a = b = Integer.parseInt(s);
                }
                if (a < 0 || b >= n) throw o.error("layers", s, "outside the parent's layers 0.." + (n - 1));
                for (int i = a; i <= b; i++) out.add(i);
            } catch (NumberFormatException e) {
                throw o.error("layers", s, "not a layer index or range");
            }
        }
        return new ArrayList<>(out);
    }

    private static List<AttentionConfig> attention(ConfigNode a, ModelConfig parent) {
        List<AttentionConfig> out = new ArrayList<>();
        out.add(new AttentionConfig.Gqa(parent.numKvHeads()));
        if (a.isMissing()) return out;
        a.allowOnly("kv_heads", "window", "linear", "no_op");
        List<Integer> kvs = new ArrayList<>();
        for (JsonNode j : a.list("kv_heads")) {
            if (!j.isIntegralNumber()) throw a.error("kv_heads", j, "must be integers");
            int kv = j.asInt();
            if (kv < 1 || parent.numHeads() % kv != 0) throw a.error("kv_heads", kv, "must divide the parent's " + parent.numHeads() + " attention heads");
            if (parent.numKvHeads() % kv != 0) {
                throw a.error("kv_heads", kv, "must divide the parent's " + parent.numKvHeads() + " KV heads (children pool groups of them)");
            }
            kvs.add(kv);
            add(out, new AttentionConfig.Gqa(kv));
        }
        if (kvs.isEmpty()) kvs.add(parent.numKvHeads());
        for (JsonNode j : a.list("window")) {
            if (!j.isIntegralNumber() || j.asInt() < 1) throw a.error("window", j, "must be positive integers");
            if (j.asInt() >= parent.maxSeqLen()) throw a.error("window", j.asInt(), "is not below the context length " + parent.maxSeqLen());
            for (int kv : kvs) add(out, new AttentionConfig.Window(kv, j.asInt()));
        }
        if (a.bool("linear", false)) add(out, new AttentionConfig.Linear());
        if (a.bool("no_op", false)) add(out, new AttentionConfig.NoOp());
        return out;
    }

    private static List<FfnConfig> ffn(ConfigNode f, ModelConfig parent) {
        List<FfnConfig> out = new ArrayList<>();
        int full = parent.intermediateSize();
        out.add(new FfnConfig.Dense(full));
        if (f.isMissing()) return out;
        f.allowOnly("widths", "linear", "no_op");
        for (JsonNode j : f.list("widths")) {
            if (!j.isNumber()) throw f.error("widths", j, "must be ratios of the parent's width (0, 1] or sizes");
            int width;
            if (j.isIntegralNumber() && j.asInt() > 1) {
                width = j.asInt();
            } else {
                double r = j.asDouble();
                if (!(r > 0 && r <= 1)) throw f.error("widths", j, "a ratio must be in (0, 1]");
                width = Math.max(1, (int) Math.round(r * full));
            }
            if (width > full) throw f.error("widths", width, "is larger than the parent's FFN width " + full);
            add(out, new FfnConfig.Dense(width));
        }
        if (f.bool("linear", false)) add(out, new FfnConfig.Linear());
        if (f.bool("no_op", false)) add(out, new FfnConfig.NoOp());
        return out;
    }

    private static <T> void add(List<T> list, T x) {
        if (!list.contains(x)) list.add(x);
    }

    /** The candidates of one layer, the parent's own block of that layer first ({@link ModelConfig#parentBlock}). */
    public List<Candidate> candidates(ModelConfig parent, int layer) {
        Part p = perLayer.getOrDefault(layer, defaults);
        BlockConfig own = parent.parentBlock(layer);
        List<AttentionConfig> attention = new ArrayList<>(p.attention());
        attention.remove(own.attention());
        attention.add(0, own.attention());
        List<FfnConfig> ffn = new ArrayList<>(p.ffn());
        ffn.remove(own.ffn());
        ffn.add(0, own.ffn());
        List<Candidate> out = new ArrayList<>();
        for (AttentionConfig a : attention) {
            for (FfnConfig f : ffn) out.add(new Candidate(name(parent, a, f), new BlockConfig(a, f)));
        }
        return out;
    }

    /** The candidate's variant name ({@link VariantNames}). */
    public static String name(ModelConfig parent, AttentionConfig a, FfnConfig f) {
        return VariantNames.name(parent, new BlockConfig(a, f));
    }
}
