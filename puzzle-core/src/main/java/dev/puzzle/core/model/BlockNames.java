package dev.puzzle.core.model;

import dev.puzzle.core.tensor.DType;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one codec between a block and its text, with one exhaustive switch per variant family that gives
 * every form at once:
 * <ul>
 *   <li>the variant name in {@code block_library.json}, in the public Puzzle library's style:
 *       {@code attention = gqa 2 kv heads (parent * 50%) && ffn = dense 86 (parent * 50%)}; {@link #parse}
 *       reads back every name {@link #library} writes. Names from another tool's library (NVIDIA's
 *       Llama-70B one) do not parse: they stay names, without blocks;</li>
 *   <li>a short readable form for messages and {@code inspect}: {@code attn=gqa4 ffn=dense172};</li>
 *   <li>a stable, file-safe id of each sub-block for the candidate store: {@code attn-window64-kv2}, {@code ffn-dense86}.</li>
 * </ul>
 * A new variant does not compile until it has all three here.
 */
public final class BlockNames {
    private BlockNames() {}

    /** The three forms of one sub-block; {@code library} is null when no parent was given. */
    private record Words(String library, String brief, String id) {}

    private static Words words(AttentionConfig a, ModelConfig parent) {
        String fp8Brief = a.fp8Kv() ? "_fp8kv" : "", fp8Id = a.fp8Kv() ? "-fp8kv" : "", fp8Lib = a.fp8Kv() ? ", kv fp8" : "";
        return switch (a) {
            case AttentionConfig.Gqa g -> new Words(
                    parent == null ? null : String.format(Locale.ROOT, "gqa %d kv heads (parent * %s)", g.numKvHeads(), pct(g.numKvHeads(), parent.numKvHeads())) + fp8Lib,
                    "gqa" + g.numKvHeads() + fp8Brief, "attn-gqa" + g.numKvHeads() + fp8Id);
            case AttentionConfig.Window w -> new Words(
                    String.format(Locale.ROOT, "window %d, %d kv heads", w.window(), w.numKvHeads()) + fp8Lib,
                    "window" + w.window() + "_kv" + w.numKvHeads() + fp8Brief, "attn-window" + w.window() + "-kv" + w.numKvHeads() + fp8Id);
            case AttentionConfig.Linear l -> new Words("linear", "linear", "attn-linear");
            case AttentionConfig.Mamba2 m -> new Words(
                    String.format(Locale.ROOT, "mamba2 %d heads of %d, state %d, groups %d, conv %d", m.heads(), m.headDim(), m.state(), m.groups(), m.conv()),
                    "mamba2_h" + m.heads() + "x" + m.headDim() + "_n" + m.state() + "_g" + m.groups() + "_k" + m.conv(),
                    "attn-mamba2-h" + m.heads() + "x" + m.headDim() + "-n" + m.state() + "-g" + m.groups() + "-k" + m.conv());
            case AttentionConfig.NoOp n -> new Words("no_op", "no_op", "attn-noop");
            case AttentionConfig.Quantized q -> quantized(words(q.base(), parent), q.weights());
        };
    }

    /** A quantized part's words: its base's, then the format ({@code , weights q4_0}, {@code _q4_0}, {@code -q4_0}). */
    private static Words quantized(Words base, DType format) {
        String f = format.configName();
        return new Words(base.library() == null ? null : base.library() + WEIGHTS + f, base.brief() + "_" + f, base.id() + "-" + f);
    }

    private static final String WEIGHTS = ", weights ";

    /** A library name part without its {@code , weights FORMAT} suffix, and the format (null when there is none or it is not a quantized format). */
    private record Suffix(String rest, DType format) {
        static Suffix of(String part) {
            int i = part.lastIndexOf(WEIGHTS);
            if (i < 0) return new Suffix(part, null);
            DType d = DType.fromName(part.substring(i + WEIGHTS.length()));
            return d != null && d.isQuantized() ? new Suffix(part.substring(0, i), d) : new Suffix(part, null);
        }
    }

    private static Words words(FfnConfig f, ModelConfig parent) {
        return switch (f) {
            case FfnConfig.Dense d -> new Words(
                    parent == null ? null : String.format(Locale.ROOT, "dense %d (parent * %s)", d.intermediateSize(), pct(d.intermediateSize(), parent.intermediateSize())),
                    "dense" + d.intermediateSize(), "ffn-dense" + d.intermediateSize());
            case FfnConfig.Relu2 r -> new Words(
                    parent == null ? null : String.format(Locale.ROOT, "relu2 mlp %d (parent * %s)", r.intermediateSize(), pct(r.intermediateSize(), parent.intermediateSize())),
                    "relu2_" + r.intermediateSize(), "ffn-relu2-" + r.intermediateSize());
            case FfnConfig.Moe m -> new Words(
                    parent == null ? null : String.format(Locale.ROOT, "moe %d experts (parent * %s), top %d, width %d%s%s", m.numExperts(),
                            pct(m.numExperts(), mostExperts(parent, m.numExperts())), m.topK(), m.expertIntermediate(),
                            m.normTopK() ? ", normalized" : "", m.sharedIntermediate() > 0 ? ", shared " + m.sharedIntermediate() : ""),
                    "moe" + m.numExperts() + "x" + m.expertIntermediate() + "_top" + m.topK() + (m.sharedIntermediate() > 0 ? "_shared" + m.sharedIntermediate() : ""),
                    "ffn-moe" + m.numExperts() + "-top" + m.topK());
            case FfnConfig.Linear l -> new Words("linear", "linear", "ffn-linear");
            case FfnConfig.NoOp n -> new Words("no_op", "no_op", "ffn-noop");
            case FfnConfig.Quantized q -> quantized(words(q.base(), parent), q.weights());
        };
    }

    private static final Pattern GQA = Pattern.compile("gqa (\\d+) kv heads \\(parent \\* \\d+%\\)");
    private static final Pattern WINDOW = Pattern.compile("window (\\d+), (\\d+) kv heads");
    private static final Pattern MAMBA2 = Pattern.compile("mamba2 (\\d+) heads of (\\d+), state (\\d+), groups (\\d+), conv (\\d+)");
    private static final Pattern DENSE = Pattern.compile("dense (\\d+) \\(parent \\* \\d+%\\)");
    private static final Pattern RELU2 = Pattern.compile("relu2 mlp (\\d+) \\(parent \\* \\d+%\\)");
    private static final Pattern MOE = Pattern.compile("moe (\\d+) experts \\(parent \\* \\d+%\\), top (\\d+), width (\\d+)(, normalized)?(, shared (\\d+))?");
    private static final Pattern FUSED = Pattern.compile("fused ffn of layers (\\d+)-(\\d+), width (\\d+) && attention = (.+)");

    /** The attention variant a library name's attention part stands for (the inverse of {@link #words(AttentionConfig, ModelConfig)}), or null. */
    private static AttentionConfig attention(String name) {
        Suffix w = Suffix.of(name);
        AttentionConfig base = w.format() == null ? null : attention(w.rest());
        if (w.format() != null) return base == null || !base.hasWeights() ? null : base.withWeights(w.format());
        String a = name;
        boolean fp8 = a.endsWith(", kv fp8");
        if (fp8) a = a.substring(0, a.length() - ", kv fp8".length());
        Matcher m;
        AttentionConfig out;
        if ((m = GQA.matcher(a)).matches()) out = new AttentionConfig.Gqa(Integer.parseInt(m.group(1)));
        else if ((m = WINDOW.matcher(a)).matches()) out = new AttentionConfig.Window(Integer.parseInt(m.group(2)), Integer.parseInt(m.group(1)));
        else if ((m = MAMBA2.matcher(a)).matches()) out = new AttentionConfig.Mamba2(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)));
        else if (a.equals("linear")) out = new AttentionConfig.Linear();
        else if (a.equals("no_op")) out = new AttentionConfig.NoOp();
        else return null;
        return fp8 ? out.withFp8Kv() : out;
    }

    /** The FFN variant a library name's FFN part stands for, or null. */
    private static FfnConfig ffn(String name) {
        Suffix w = Suffix.of(name);
        if (w.format() != null) {
            FfnConfig base = ffn(w.rest());
            return base == null || !base.hasWeights() ? null : base.withWeights(w.format());
        }
        String f = name;
        Matcher m;
        if ((m = DENSE.matcher(f)).matches()) return new FfnConfig.Dense(Integer.parseInt(m.group(1)));
        if ((m = RELU2.matcher(f)).matches()) return new FfnConfig.Relu2(Integer.parseInt(m.group(1)));
        if ((m = MOE.matcher(f)).matches()) return new FfnConfig.Moe(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3)), m.group(4) != null, m.group(6) == null ? 0 : Integer.parseInt(m.group(6)));
        if (f.equals("linear")) return new FfnConfig.Linear();
        if (f.equals("no_op")) return new FfnConfig.NoOp();
        return null;
    }

    /** The block's variant name in {@code block_library.json} (percentages relative to {@code parent}). */
    public static String library(ModelConfig parent, BlockConfig b) {
        return "attention = " + words(b.attention(), parent).library() + " && ffn = " + words(b.ffn(), parent).library();
    }

    /** The block a library name stands for, or empty when the name is not one of ours. */
    public static Optional<BlockConfig> parse(String name) {
        String[] parts = name.split(" && ", -1);
        if (parts.length != 2 || !parts[0].startsWith("attention = ") || !parts[1].startsWith("ffn = ")) return Optional.empty();
        try {
            AttentionConfig a = attention(parts[0].substring("attention = ".length()));
            FfnConfig f = ffn(parts[1].substring("ffn = ".length()));
            return a == null || f == null ? Optional.empty() : Optional.of(new BlockConfig(a, f));
        } catch (IllegalArgumentException e) { // numbers out of range: not a name of ours
            return Optional.empty();
        }
    }

    /**
     * The library name of a fused FFN run i..j ({@code layers_i-j}): layer i keeps {@code attention} and gets
     * one dense FFN of {@code width}; layers i+1..j are both-no-op.
     */
    public static String fused(ModelConfig parent, int i, int j, AttentionConfig attention, int width) {
        return String.format(Locale.ROOT, "fused ffn of layers %d-%d, width %d && attention = %s", i, j, width, words(attention, parent).library());
    }

    /** The blocks of a fused run's name ({@link #fused}), layer i first; empty when the name is not one. */
    public static List<BlockConfig> parseFused(String name) {
        Matcher m = FUSED.matcher(name);
        if (!m.matches()) return List.of();
        try {
            int i = Integer.parseInt(m.group(1)), j = Integer.parseInt(m.group(2)), width = Integer.parseInt(m.group(3));
            AttentionConfig head = attention(m.group(4));
            if (head == null || j <= i || width < 1) return List.of();
            List<BlockConfig> out = new ArrayList<>();
            out.add(new BlockConfig(head, new FfnConfig.Dense(width)));
            for (int l = i + 1; l <= j; l++) out.add(BlockConfig.EMPTY);
            return out;
        } catch (IllegalArgumentException e) {
            return List.of();
        }
    }

    /** A short readable form for messages and listings, e.g. {@code attn=gqa4 ffn=dense172}. */
    public static String brief(BlockConfig b) {
        return "attn=" + words(b.attention(), null).brief() + " ffn=" + words(b.ffn(), null).brief();
    }

    /** The candidate store's file-safe id of an attention variant, e.g. {@code attn-window64-kv2}. */
    public static String id(AttentionConfig a) {
        return words(a, null).id();
    }

    /** The candidate store's file-safe id of an FFN variant, e.g. {@code ffn-dense86}. */
    public static String id(FfnConfig f) {
        return words(f, null).id();
    }

    private static int mostExperts(ModelConfig parent, int fallback) {
        int most = 0;
        for (BlockConfig b : parent.blocks()) most = Math.max(most, b.ffn().numExperts());
        return most > 0 ? most : fallback;
    }

    private static String pct(int a, int b) {
        return Math.round(100.0 * a / b) + "%";
    }
}
