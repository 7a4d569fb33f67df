package dev.puzzle.hardware;

import dev.puzzle.core.PuzzleException;

import java.util.Locale;

/**
 * The one conversion between a whole-model throughput (tokens/s) and the runtime of a workload (ms),
 * Puzzle's translation: the workload generates {@code batch · generation_length} tokens in
 * {@code runtime_ms} (prefill included), so {@code tokens/s = 1000 · batch · generation_length / runtime_ms}.
 */
public final class TokenRate {
    private TokenRate() {}

    /** Runtime (ms) that a throughput target allows. */
    public static double runtimeMs(double tokensPerSecond, int batch, int generationLength) {
        if (!(tokensPerSecond > 0)) throw new PuzzleException("throughput must be positive, got " + tokensPerSecond);
        return 1000.0 * batch * generationLength / tokensPerSecond;
    }

    public static double runtimeMs(double tokensPerSecond, Workload w) {
        return runtimeMs(tokensPerSecond, w.batch(), w.generationLength());
    }

    /** Throughput (tokens/s) of a workload that takes {@code runtimeMs}. */
    public static double tokensPerSecond(double runtimeMs, Workload w) {
        return 1000.0 * w.batch() * w.generationLength() / Math.max(1e-12, runtimeMs);
    }

    /** A factor or rate without trailing zeros: 1.5, 2, 1.25. */
    public static String format(double v) {
        String s = String.format(Locale.ROOT, "%.4f", v);
        return s.contains(".") ? s.replaceAll("0+$", "").replaceAll("\\.$", "") : s;
    }
}
