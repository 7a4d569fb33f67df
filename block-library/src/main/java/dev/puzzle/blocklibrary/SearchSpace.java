package dev.puzzle.blocklibrary;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puzzle.core.config.ConfigNode;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.DType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The candidate blocks of every layer (Puzzle's search space), from YAML:
 * <pre>
 * attention: {kv_heads: [4, 2, 1], window: [128], linear: true, no_op: true, fp8_kv: true, mamba2: true, mamba2_heads: [0.5]}
 * ffn: {widths: [1.0, 0.5, 0.25], linear: true, no_op: true}   # ratios of the parent's width, or sizes
 * moe: {experts: [1.0, 0.5, 0.25], top_k: [2, 1], scoring: reap} # MoE layers: ratios of the layer's experts, or counts
 * ffn_fusion: {max_run: 3, threshold: 0.5}   # runs of 2..max_run layers fused into one wide FFN (layers_i-j)
 * precision: [bf16, q8_0, q4_0]   # weight formats of every variant with weights (bf16: unquantized)
 * overrides:
 *   - layers: [0, 1]        # or "0-3"
 *     ffn: {widths: [1.0]}
 * </pre>
 * {@code fp8_kv} adds a twin with an FP8 E4M3 KV cache (scales calibrated on the text) of every variant
 * that has a KV cache, the parent's own included. Every layer's candidates are the coupled combinations of its attention and FFN variants; the
 * parent's own block is always among them, first. Window variants take every listed KV-head count; without
 * {@code window}, a parent with sliding layers (gpt-oss) offers its own windows to every layer (full → window).
 * Values are checked against the parent up front: a KV-head count must divide the head count, a
 * width may not exceed the parent's. In a MoE layer of the parent, {@code moe} takes the place of the
 * dense widths: each expert count (with each top-k, capped at the count; default the layer's own) is a
 * candidate keeping the experts {@code scoring} ranks highest (frequency, reap, ranked_choice, reroute;
 * default reap); {@code ffn.linear} and {@code ffn.no_op} apply to every layer.
 * <p>
 * A hybrid parent (Nemotron-H) keeps each layer's role: a part that is the no-op in the parent stays the no-op (an MLP
 * layer gets no mixer, a mixer layer no FFN); a Mamba-2 layer of the parent is offered narrower Mamba-2 mixers —
 * {@code mamba2_heads}: ratios of its heads or counts, rounded to a multiple of its groups, each keeping the heads that
 * contribute most on the calibration text — and {@code linear}/{@code no_op}, not attention; a squared-ReLU MLP layer
 * takes {@code ffn.widths} as narrower squared-ReLU MLPs.
 * <p>
 * {@code precision} lists the weight formats each attention and each FFN variant with weights is offered in,
 * chosen per sub-block (a MoE layer's experts as one choice): the quantized ones ({@code q8_0, q4_0, mxfp4, nvfp4,
 * fp8}) add a twin of the variant with its matrices in that format ({@link AttentionConfig.Quantized}); an element
 * type ({@code bf16}, {@code f16} or {@code f32}: the weights as the workload stores them) keeps the unquantized
 * variants, which are dropped when the list has none — except the parent's own block, always a candidate.
 */
public final class SearchSpace {

    /** A candidate with its stable, readable name. */
    public record Candidate(String name, BlockConfig block) {}

    private record Part(List<AttentionConfig> attention, List<FfnConfig> ffn, Moe moe, Precision precision, List<Double> mambaHeads) {}

    /** The quantized formats variants are offered in, and whether the unquantized ones stay; null in a Part: no precision axis. */
    private record Precision(List<DType> quantized, boolean unquantized) {}

    /** Expert counts (ratios in (0, 1] or counts) and top-k options of MoE layers; empty lists: the layer's own. */
    private record Moe(List<Double> ratios, List<Integer> counts, List<Integer> topK) {}

    private final Part defaults;
    private ExpertScoring scoring = ExpertScoring.REAP;
    private int fusionMaxRun; // 0: no FFN fusion
    private double fusionThreshold = 1.0;
    private final Map<Integer, Part> perLayer = new LinkedHashMap<>();

    private SearchSpace(Part defaults) {
        this.defaults = defaults;
    }

    public static SearchSpace parse(ConfigNode c, ModelConfig parent) {
        c.allowOnly("attention", "ffn", "moe", "ffn_fusion", "precision", "overrides");
        SearchSpace s = new SearchSpace(part(c, parent, null));
        ConfigNode fu = c.child("ffn_fusion");
        if (!fu.isMissing()) {
            fu.allowOnly("max_run", "threshold");
            s.fusionMaxRun = fu.integer("max_run", 2);
            if (s.fusionMaxRun > parent.numLayers()) {
                throw fu.error("max_run", s.fusionMaxRun, "a fused run cannot cross the model's end: the parent has " + parent.numLayers() + " layers");
            }
            s.fusionThreshold = fu.number("threshold", 1.0);
            if (!(s.fusionThreshold >= 0) || Double.isInfinite(s.fusionThreshold)) throw fu.error("threshold", s.fusionThreshold, "must be a finite number >= 0");
        }
        ConfigNode m = c.child("moe");
        if (!m.isMissing() && m.has("scoring")) {
            String name = m.string("scoring");
            s.scoring = ExpertScoring.parse(name);
            if (s.scoring == null) throw m.error("scoring", name, "must be one of frequency, reap, ranked_choice, reroute");
        }
        for (ConfigNode o : c.nodes("overrides")) {
            o.allowOnly("layers", "attention", "ffn", "moe", "precision");
            Part base = s.defaults;
            Part p = part(o, parent, base);
            for (int l : layers(o, parent.numLayers())) s.perLayer.put(l, p);
        }
        return s;
    }

    private static Part part(ConfigNode c, ModelConfig parent, Part inherit) {
        List<AttentionConfig> attn = inherit != null && !c.has("attention") ? inherit.attention() : attention(c.child("attention"), parent);
        List<Double> mambaHeads = inherit != null && !c.has("attention") ? inherit.mambaHeads() : mambaHeads(c.child("attention"), parent);
        List<FfnConfig> ffn = inherit != null && !c.has("ffn") ? inherit.ffn() : ffn(c.child("ffn"), parent);
        Moe moe = inherit != null && !c.has("moe") ? inherit.moe() : moe(c.child("moe"), parent);
        Precision precision = inherit != null && !c.has("precision") ? inherit.precision() : precision(c);
        return new Part(attn, ffn, moe, precision, mambaHeads);
    }

    private static Precision precision(ConfigNode c) {
        if (!c.has("precision")) return null;
        List<DType> quantized = new ArrayList<>();
        boolean unquantized = false;
        List<JsonNode> items = c.list("precision");
        if (items.isEmpty()) throw c.error("precision", c.node().get("precision"), "list at least one weight format: " + DType.names());
        for (JsonNode j : items) {
            DType d = DType.fromName(j.asText());
            if (d == null || !j.isTextual()) throw c.error("precision", j, "must be weight formats among " + DType.names());
            if (d.isQuantized()) add(quantized, d);
            else unquantized = true;
        }
        return new Precision(quantized, unquantized);
    }

    private static Moe moe(ConfigNode m, ModelConfig parent) {
        if (m.isMissing()) return new Moe(List.of(), List.of(), List.of());
        m.allowOnly("experts", "top_k", "scoring");
        int most = parent.blocks().stream().mapToInt(b -> b.ffn().numExperts()).max().orElse(0);
        if (most == 0) throw m.error("experts", m.node(), "the parent has no mixture-of-experts layer");
        List<Double> ratios = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (JsonNode j : m.list("experts")) {
            if (!j.isNumber()) throw m.error("experts", j, "must be ratios of a layer's experts (0, 1] or counts");
            if (j.isIntegralNumber() && j.asInt() > 1) {
                if (j.asInt() > most) throw m.error("experts", j.asInt(), "exceeds the parent's " + most + " experts");
                counts.add(j.asInt());
            } else {
                double r = j.asDouble();
                if (!(r > 0 && r <= 1)) throw m.error("experts", j, "a ratio must be in (0, 1]");
                ratios.add(r);
            }
        }
        List<Integer> topK = new ArrayList<>();
        for (JsonNode j : m.list("top_k")) {
            if (!j.isIntegralNumber() || j.asInt() < 1) throw m.error("top_k", j, "must be positive integers");
            topK.add(j.asInt());
        }
        return new Moe(ratios, counts, topK);
    }

    /** The longest run of layers an FFN fusion candidate spans (at least 2), or 0 without FFN fusion. */
    public int fusionMaxRun() {
        return fusionMaxRun;
    }

    /** A run is a candidate when no pair of its layers has an FFN dependency above this (cosine distance). */
    public double fusionThreshold() {
        return fusionThreshold;
    }

    /** The method that ranks the experts a MoE candidate keeps. */
    public ExpertScoring expertScoring() {
        return scoring;
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
        a.allowOnly("kv_heads", "window", "linear", "no_op", "fp8_kv", "mamba2", "mamba2_heads");
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
        if (!a.has("window")) { // a parent with sliding layers (gpt-oss): its own windows are offered to the full layers
            for (BlockConfig b : parent.blocks()) {
                if (b.attention().window() > 0) for (int kv : kvs) add(out, new AttentionConfig.Window(kv, b.attention().window()));
            }
        }
        if (a.bool("fp8_kv", false)) { // an FP8-cache twin of every variant with a KV cache
            for (AttentionConfig x : new ArrayList<>(out)) add(out, x.withFp8Kv());
        }
        AttentionConfig.Mamba2 mamba = mamba2(a, parent);
        if (mamba != null) add(out, mamba);
        if (a.bool("linear", false)) add(out, new AttentionConfig.Linear());
        if (a.bool("no_op", false)) add(out, new AttentionConfig.NoOp());
        return out;
    }

    /**
     * {@code mamba2: true} — a Mamba-2 mixer of the attention's shape (its heads and head dim, a group per KV head, a state of
     * head-dim size, a 4-tap conv), which {@code CandidateInit} starts from the attention's projections — or {@code mamba2:
     * {heads, head_dim, state, groups, conv}} (each defaulting to that shape); null when absent or false.
     */
    private static AttentionConfig.Mamba2 mamba2(ConfigNode a, ModelConfig parent) {
        if (!a.has("mamba2")) return null;
        JsonNode m = a.node().get("mamba2");
        AttentionConfig.Mamba2 own = AttentionConfig.Mamba2.attentionShaped(parent);
        int heads = own.heads(), headDim = own.headDim(), state = own.state(), groups = own.groups(), conv = own.conv();
        if (m.isBoolean()) {
            if (!m.asBoolean()) return null;
        } else {
            ConfigNode c = a.child("mamba2");
            c.allowOnly("heads", "head_dim", "state", "groups", "conv");
            heads = c.integer("heads", 1, heads);
            headDim = c.integer("head_dim", 1, headDim);
            state = c.integer("state", 1, state);
            groups = c.integer("groups", 1, groups);
            conv = c.integer("conv", 1, conv);
            if (heads % groups != 0) throw c.error("groups", groups, "must divide heads " + heads);
        }
        return new AttentionConfig.Mamba2(heads, headDim, state, groups, conv);
    }

    /** {@code mamba2_heads}: ratios (0, 1] of a Mamba-2 layer's heads, or counts (> 1), kept as given (a count as itself). */
    private static List<Double> mambaHeads(ConfigNode a, ModelConfig parent) {
        List<Double> out = new ArrayList<>();
        if (a.isMissing() || !a.has("mamba2_heads")) return out;
        int most = 0;
        for (BlockConfig b : parent.blocks()) if (b.attention().unquantized() instanceof AttentionConfig.Mamba2 m) most = Math.max(most, m.heads());
        if (most == 0) throw a.error("mamba2_heads", a.node().get("mamba2_heads"), "the parent has no Mamba-2 layer");
        for (JsonNode j : a.list("mamba2_heads")) {
            if (!j.isNumber()) throw a.error("mamba2_heads", j, "must be ratios of a Mamba-2 layer's heads (0, 1] or counts");
            if (j.isIntegralNumber() && j.asInt() > 1) {
                if (j.asInt() > most) throw a.error("mamba2_heads", j.asInt(), "exceeds the parent's " + most + " Mamba-2 heads");
                out.add((double) j.asInt());
            } else {
                double r = j.asDouble();
                if (!(r > 0 && r <= 1)) throw a.error("mamba2_heads", j, "a ratio must be in (0, 1]");
                out.add(r);
            }
        }
        return out;
    }

    /** The narrower Mamba-2 mixers of a parent's Mamba-2 layer {@code pm}: each of {@code heads} as a multiple of its groups. */
    private static List<AttentionConfig> narrower(AttentionConfig.Mamba2 pm, List<Double> heads) {
        List<AttentionConfig> out = new ArrayList<>();
        int G = pm.groups();
        for (double v : heads) {
            double n = v <= 1 ? v * pm.heads() : v;
            int h = (int) Math.max(G, Math.min(pm.heads(), Math.round(n / G) * G));
            add(out, new AttentionConfig.Mamba2(h, pm.headDim(), pm.state(), G, pm.conv()));
        }
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

    /**
     * Every variant of {@code parts} with weights in each quantized format of {@code p} after it, the unquantized ones kept
     * when {@code p} lists an element type (the parent's own part always, first); variants without weights as they are.
     */
    private static <T> List<T> inFormats(List<T> parts, T own, Precision p, java.util.function.Predicate<T> weighted,
                                         java.util.function.BiFunction<T, DType, T> withWeights) {
        List<T> out = new ArrayList<>();
        for (T x : parts) {
            if (!weighted.test(x)) {
                add(out, x);
                continue;
            }
            if (p.unquantized() || x.equals(own)) add(out, x);
            for (DType d : p.quantized()) add(out, withWeights.apply(x, d));
        }
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
        if (own.attention() instanceof AttentionConfig.NoOp) { // a layer without a mixer (a hybrid's MLP layer) gets none
            attention = new ArrayList<>(List.of(own.attention()));
        } else if (own.attention().unquantized() instanceof AttentionConfig.Mamba2 pm) { // a hybrid's Mamba-2 layer: narrower Mamba-2, linear, no-op
            List<AttentionConfig> kept = new ArrayList<>(narrower(pm, p.mambaHeads()));
            for (AttentionConfig a : attention) if (a instanceof AttentionConfig.Linear || a instanceof AttentionConfig.NoOp) kept.add(a);
            attention = kept;
        }
        attention.remove(own.attention());
        attention.add(0, own.attention());
        List<FfnConfig> ffn = new ArrayList<>(p.ffn());
        if (own.ffn() instanceof FfnConfig.NoOp) { // a mixer layer of a hybrid gets no FFN
            ffn = new ArrayList<>(List.of(own.ffn()));
        } else if (own.ffn().unquantized() instanceof FfnConfig.Relu2) { // the widths as squared-ReLU MLPs
            List<FfnConfig> relu2 = new ArrayList<>();
            for (FfnConfig f : ffn) add(relu2, f.denseWidth() > 0 ? new FfnConfig.Relu2(f.denseWidth()) : f);
            ffn = relu2;
        }
        if (own.ffn() instanceof FfnConfig.Moe m) { // expert counts take the place of dense widths
            ffn.removeIf(f -> f.denseWidth() > 0);
            List<Integer> counts = new ArrayList<>(p.moe().counts());
            for (double r : p.moe().ratios()) counts.add(Math.max(1, (int) Math.round(r * m.numExperts())));
            List<Integer> ks = p.moe().topK().isEmpty() ? List.of(m.topK()) : p.moe().topK();
            List<FfnConfig> moes = new ArrayList<>();
            for (int n : counts) {
                for (int k : ks) if (n <= m.numExperts()) add(moes, new FfnConfig.Moe(n, Math.min(k, n), m.expertIntermediate(), m.normTopK(), m.sharedIntermediate()));
            }
            ffn.addAll(0, moes);
        }
        ffn.remove(own.ffn());
        ffn.add(0, own.ffn());
        if (p.precision() != null) {
            attention = inFormats(attention, own.attention(), p.precision(), AttentionConfig::hasWeights, AttentionConfig::withWeights);
            ffn = inFormats(ffn, own.ffn(), p.precision(), FfnConfig::hasWeights, FfnConfig::withWeights);
        }
        List<Candidate> out = new ArrayList<>();
        for (AttentionConfig a : attention) {
            for (FfnConfig f : ffn) out.add(new Candidate(BlockNames.library(parent, new BlockConfig(a, f)), new BlockConfig(a, f)));
        }
        return out;
    }
}
