package dev.puzzle.mip;

import dev.puzzle.core.PuzzleException;

/**
 * A budget on the sum of one cost key over the chosen replacements: {@code min ≤ Σ ≤ max}
 * (either side may be open).
 */
public record Budget(String key, double min, double max) {
    public Budget {
        if (key == null || key.isBlank()) throw new PuzzleException("a budget needs a key");
        if (Double.isNaN(min) || Double.isNaN(max) || min > max) throw new PuzzleException("budget on '" + key + "': empty range [" + min + ", " + max + "]");
    }

    public static Budget atMost(String key, double max) {
        return new Budget(key, Double.NEGATIVE_INFINITY, max);
    }

    public static Budget atLeast(String key, double min) {
        return new Budget(key, min, Double.POSITIVE_INFINITY);
    }

    /** Parses {@code KEY=VALUE}, an upper ({@code max}) or lower ({@code min}) budget; errors name the setting {@code max} or {@code min}. */
    public static Budget parse(String spec, boolean isMax) {
        String option = isMax ? "max" : "min";
        int eq = spec.lastIndexOf('=');
        if (eq <= 0 || eq == spec.length() - 1) throw PuzzleException.setting(option, spec, "expected KEY=VALUE");
        String key = spec.substring(0, eq).trim();
        double v;
        try {
            v = Double.parseDouble(spec.substring(eq + 1).trim().replace("_", ""));
        } catch (NumberFormatException e) {
            throw PuzzleException.setting(option, spec, "'" + spec.substring(eq + 1) + "' is not a number");
        }
        return isMax ? atMost(key, v) : atLeast(key, v);
    }

    public boolean satisfiedBy(double total, double tolerance) {
        return total >= min - tolerance && total <= max + tolerance;
    }

    @Override
    public String toString() {
        if (min == Double.NEGATIVE_INFINITY) return key + " <= " + max;
        if (max == Double.POSITIVE_INFINITY) return key + " >= " + min;
        return min + " <= " + key + " <= " + max;
    }
}
