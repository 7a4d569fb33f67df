package dev.puzzle.blocklibrary;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one codec between a block and its variant name in {@code block_library.json}, in the
 * public Puzzle library's style: {@code attention = gqa 2 kv heads (parent * 50%) && ffn = dense 86
 * (parent * 50%)}. {@link #parse} reads back every name {@link #name} writes. Names from another tool's
 * library (NVIDIA's Llama-70B one) do not parse: they stay names, without blocks.
 */
public final class VariantNames {
    private VariantNames() {}

    private static final Pattern GQA = Pattern.compile("gqa (\\d+) kv heads \\(parent \\* \\d+%\\)");
    private static final Pattern WINDOW = Pattern.compile("window (\\d+), (\\d+) kv heads");
    private static final Pattern DENSE = Pattern.compile("dense (\\d+) \\(parent \\* \\d+%\\)");
    private static final Pattern MOE = Pattern.compile("moe (\\d+) experts \\(parent \\* \\d+%\\), top (\\d+), width (\\d+)(, normalized)?(, shared (\\d+))?");

    public static String name(ModelConfig parent, BlockConfig b) {
        String an = switch (b.attention()) {
            case AttentionConfig.Gqa g -> String.format(Locale.ROOT, "gqa %d kv heads (parent * %s)", g.numKvHeads(), pct(g.numKvHeads(), parent.numKvHeads()));
            case AttentionConfig.Window w -> String.format(Locale.ROOT, "window %d, %d kv heads", w.window(), w.numKvHeads());
            case AttentionConfig.Linear l -> "linear";
            case AttentionConfig.NoOp n -> "no_op";
        };
        String fn = switch (b.ffn()) {
            case FfnConfig.Dense d -> String.format(Locale.ROOT, "dense %d (parent * %s)", d.intermediateSize(), pct(d.intermediateSize(), parent.intermediateSize()));
            case FfnConfig.Moe m -> String.format(Locale.ROOT, "moe %d experts (parent * %s), top %d, width %d%s%s", m.numExperts(),
                    pct(m.numExperts(), parent.blocks().stream().map(BlockConfig::ffn).filter(x -> x instanceof FfnConfig.Moe)
                            .mapToInt(x -> ((FfnConfig.Moe) x).numExperts()).max().orElse(m.numExperts())),
                    m.topK(), m.expertIntermediate(), m.normTopK() ? ", normalized" : "", m.sharedIntermediate() > 0 ? ", shared " + m.sharedIntermediate() : "");
            case FfnConfig.Linear l -> "linear";
            case FfnConfig.NoOp n -> "no_op";
        };
        return "attention = " + an + (b.attention().fp8Kv() ? ", kv fp8" : "") + " && ffn = " + fn;
    }

    private static final Pattern FUSED = Pattern.compile("fused ffn of layers (\\d+)-(\\d+), width (\\d+) && attention = (.+)");

    /**
     * The name of a fused FFN run i..j ({@code layers_i-j}): layer i keeps {@code attention} and gets one
     * dense FFN of {@code width}; layers i+1..j are both-no-op.
     */
    public static String fusedName(ModelConfig parent, int i, int j, AttentionConfig attention, int width) {
        String a = name(parent, new BlockConfig(attention, new FfnConfig.NoOp()));
        a = a.substring("attention = ".length(), a.length() - " && ffn = no_op".length());
        return String.format(Locale.ROOT, "fused ffn of layers %d-%d, width %d && attention = %s", i, j, width, a);
    }

    /** The blocks of a fused run's name ({@link #fusedName}), layer i first; empty when the name is not one. */
    public static List<BlockConfig> parseFused(String name) {
        Matcher m = FUSED.matcher(name);
        if (!m.matches()) return List.of();
        int i = Integer.parseInt(m.group(1)), j = Integer.parseInt(m.group(2)), width = Integer.parseInt(m.group(3));
        Optional<BlockConfig> head = parse("attention = " + m.group(4) + " && ffn = no_op");
        if (head.isEmpty() || j <= i || width < 1) return List.of();
        List<BlockConfig> out = new ArrayList<>();
        out.add(new BlockConfig(head.get().attention(), new FfnConfig.Dense(width)));
        for (int l = i + 1; l <= j; l++) out.add(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp()));
        return out;
    }

    /** The block a name stands for, or empty when the name is not one of ours. */
    public static Optional<BlockConfig> parse(String name) {
        String[] parts = name.split(" && ", -1);
        if (parts.length != 2 || !parts[0].startsWith("attention = ") || !parts[1].startsWith("ffn = ")) return Optional.empty();
        String a = parts[0].substring("attention = ".length()), f = parts[1].substring("ffn = ".length());
        boolean fp8 = a.endsWith(", kv fp8");
        if (fp8) a = a.substring(0, a.length() - ", kv fp8".length());
        AttentionConfig attn;
        Matcher m;
        try {
            if ((m = GQA.matcher(a)).matches()) attn = new AttentionConfig.Gqa(Integer.parseInt(m.group(1)));
            else if ((m = WINDOW.matcher(a)).matches()) attn = new AttentionConfig.Window(Integer.parseInt(m.group(2)), Integer.parseInt(m.group(1)));
            else if (a.equals("linear")) attn = new AttentionConfig.Linear();
            else if (a.equals("no_op")) attn = new AttentionConfig.NoOp();
            else return Optional.empty();
            FfnConfig ffn;
            if ((m = DENSE.matcher(f)).matches()) ffn = new FfnConfig.Dense(Integer.parseInt(m.group(1)));
            else if ((m = MOE.matcher(f)).matches()) ffn = new FfnConfig.Moe(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    Integer.parseInt(m.group(3)), m.group(4) != null, m.group(6) == null ? 0 : Integer.parseInt(m.group(6)));
            else if (f.equals("linear")) ffn = new FfnConfig.Linear();
            else if (f.equals("no_op")) ffn = new FfnConfig.NoOp();
            else return Optional.empty();
            return Optional.of(new BlockConfig(fp8 ? attn.withFp8Kv() : attn, ffn));
        } catch (IllegalArgumentException e) { // numbers out of range: not a name of ours
            return Optional.empty();
        }
    }

    private static String pct(int a, int b) {
        return Math.round(100.0 * a / b) + "%";
    }
}
