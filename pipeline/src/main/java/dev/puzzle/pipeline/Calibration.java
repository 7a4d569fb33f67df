package dev.puzzle.pipeline;

import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.hardware.TokenRate;
import dev.puzzle.hardware.Workload;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.LongConsumer;

/**
 * Whole model = sum of parts, checked and made so (the measured cost models on the CPU, this toolkit's and
 * llama.cpp's): blocks timed apart do not add up to a whole model timed by the evaluation's harness (per-layer
 * hand-offs, caches shared by the layers), so a few whole models — the parent and random children of the search space, drawn apart
 * from the ones {@code profile --validate} checks — are measured and {@code measured = scale · Σ blocks + fixed} is
 * fitted to them by least squares (measured where the blocks were: {@link WholeModelTimer}). Every block's times are multiplied by {@code scale} and {@code fixed} takes the
 * place of the embeddings' and head's time, so the search still adds parts and its sums match whole models; the
 * fit's residual (root mean square, relative) is kept with it.
 *
 * @param models      the whole models measured
 * @param scale       the factor on every block's time
 * @param fixedMs     the per-model time besides the blocks (embeddings, head, overheads), ms of the workload
 * @param uncalibratedFixedMs the embeddings' and head's time as timed alone
 * @param residual    RMS of (fitted − measured) / measured over the models
 */
public record Calibration(int models, double scale, double fixedMs, double uncalibratedFixedMs, double residual) {
    /** Whole models measured for the fit: the parent and this many random children. */
    static final int CHILDREN = 5;

    /** The least-squares line through (x, y) with a non-negative intercept (else through the origin). */
    static double[] fit(double[] x, double[] y) {
        int n = x.length;
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) {
            mx += x[i] / n;
            my += y[i] / n;
        }
        double sxy = 0, sxx = 0;
        for (int i = 0; i < n; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        double a = sxx > 0 ? sxy / sxx : Double.NaN, b = my - a * mx;
        if (!(a > 0) || b < 0) { // no usable slope, or a negative fixed time: a scale alone
            double xy = 0, xx = 0;
            for (int i = 0; i < n; i++) {
                xy += x[i] * y[i];
                xx += x[i] * x[i];
            }
            a = xy / xx;
            b = 0;
        }
        return new double[]{a, b};
    }

    /**
     * Measures the parent and {@link #CHILDREN} random children whole with {@code timer}, fits the line; null where it
     * cannot be measured that way (the harness would shorten the workload to the parent's context, or a MoE parent's
     * routing decides its time).
     */
    static Calibration measure(Run run, Map<BlockConfig, Map<String, Double>> stats, double fixedMs, Workload w, WholeModelTimer timer, LongConsumer progress) {
        ModelConfig parent = run.parent.config();
        if (timer.shortened()) return null;
        if (parent.blocks().stream().anyMatch(b -> b.ffn().numExperts() > 0)) return null;
        List<List<BlockConfig>> models = new ArrayList<>();
        models.add(parent.blocks());
        models.addAll(CostValidation.draw(run, CHILDREN, new Random(0x5EEDL))); // apart from profile --validate's draws (seed 1 by default)
        timer.settle();
        double[] x = new double[models.size()], y = new double[models.size()];
        for (int i = 0; i < models.size(); i++) {
            for (BlockConfig b : models.get(i)) x[i] += stats.get(b).get(LibraryKeys.RUNTIME_MS);
            y[i] = TokenRate.runtimeMs(timer.tokensPerS(models.get(i), 1, 5).median(), w);
            progress.accept(i + 1);
        }
        double[] ab = fit(x, y);
        double ss = 0;
        for (int i = 0; i < x.length; i++) {
            double e = (ab[0] * x[i] + ab[1] - y[i]) / y[i];
            ss += e * e;
        }
        return new Calibration(x.length, ab[0], ab[1], fixedMs, Math.sqrt(ss / x.length));
    }

    /** A block's stats with its times multiplied by the scale. */
    Map<String, Double> scaled(Map<String, Double> s) {
        Map<String, Double> out = new java.util.LinkedHashMap<>(s);
        for (String k : List.of(LibraryKeys.RUNTIME_MS, LibraryKeys.PREFILL_MS, LibraryKeys.DECODE_MS, LibraryKeys.ATTENTION_RUNTIME_MS, LibraryKeys.FFN_RUNTIME_MS)) {
            out.computeIfPresent(k, (key, v) -> v * scale);
        }
        return out;
    }

    /** The fit in words, for profile's table. */
    String line() {
        return String.format(java.util.Locale.ROOT, "calibrated on %d whole models measured here: whole = %.3f x sum of blocks + %.3f ms (the embeddings"
                + " and head alone: %.3f ms); residual %.1f%% RMS", models, scale, fixedMs, uncalibratedFixedMs, 100 * residual);
    }
}
