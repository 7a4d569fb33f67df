package dev.puzzle.blocklibrary;

import dev.puzzle.core.ops.MoeOp;

import java.util.Locale;

/**
 * How a MoE candidate chooses the experts it keeps: the run config's {@code search_space.moe.scoring}.
 * The scorers themselves are expert-pruning's; the library stage hands one in as a {@link Scorer}.
 */
public enum ExpertScoring {
    FREQUENCY, REAP, RANKED_CHOICE, REROUTE;

    /** The config name: frequency, reap, ranked_choice, reroute. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The method of a config name, or null when there is none of that name. */
    public static ExpertScoring parse(String s) {
        for (ExpertScoring m : values()) if (m.configName().equals(s)) return m;
        return null;
    }

    /** Scores the experts of a parent MoE layer on N calibration rows x (the layer's FFN input); higher = keep. */
    @FunctionalInterface
    public interface Scorer {
        double[] score(MoeOp parentLayer, float[] x, int N);
    }
}
