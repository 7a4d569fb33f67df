package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.eval.Throughput;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.hardware.CostModel;
import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.hardware.RooflineCostModel;
import dev.puzzle.hardware.TokenRate;
import dev.puzzle.hardware.Workload;
import dev.puzzle.pipeline.report.ReportModel;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.LongConsumer;

/**
 * How far the cost model is from this machine, on architectures it has never seen: N children drawn at random
 * from the search space (each layer an independent uniform draw among its candidates — not the MIP's picks), each
 * predicted as the search predicts it (the sum of its blocks' runtimes in the profile's {@code block_costs.json}
 * and the embeddings' and head's in {@code model_costs.json}, the very numbers the MIP budgets) and measured whole
 * where the profile measured its blocks ({@link WholeModelTimer}: this toolkit's evaluation harness, or llama.cpp for
 * {@code llamacpp-cpu}; random weights of the child's shape: speed does not depend on the values; the workload's
 * prefill and generation, median and interquartile range of the repeats).
 * Single-layer candidates only (no fused FFN runs). The same children are also predicted by the roofline of the run's hardware profile where that is not already
 * the cost model. Reported: each child's error, the mean absolute percentage error, the worst error and Spearman's
 * rank correlation between predicted and measured throughput; the parent is measured too, as the noise floor.
 * Meaningful where the profile describes this machine ({@code hardware: local-cpu} or {@code llamacpp-cpu}); on another profile the
 * errors say how far that hardware is from this one.
 */
public final class CostValidation {
    private CostValidation() {}

    /**
     * One child: its blocks in brief and as the profile names them, predicted tokens/s (the profile's, the roofline's
     * or null), measured median and quartiles.
     */
    public record Child(List<String> blocks, List<String> variants, double predictedTokensPerS, Double rooflineTokensPerS, double measuredTokensPerS,
                        ReportModel.Spread measuredSpread) {
        /** (predicted − measured) / measured. */
        public double error() {
            return (predictedTokensPerS - measuredTokensPerS) / measuredTokensPerS;
        }
    }

    /** Errors as fractions (0.1 = 10%). */
    public record Result(String hardware, String costModel, int reps, long seed, Child parent, List<Child> children, double mape, double worstError,
                         double spearman, Double rooflineMape, Double rooflineSpearman) {
        public List<String> lines() {
            List<String> out = new ArrayList<>();
            out.add(String.format(Locale.ROOT, "%-10s %14s %14s %22s %9s  %s", "", "predicted", "roofline", "measured [IQR]", "error", "blocks"));
            out.add(row("parent", parent));
            for (int i = 0; i < children.size(); i++) out.add(row("child " + (i + 1), children.get(i)));
            out.add(String.format(Locale.ROOT, "%s (%s) on %d random children: MAPE %.1f%%, worst %+.1f%%, Spearman %.3f%s", hardware, costModel, children.size(),
                    100 * mape, 100 * worstError, spearman, rooflineMape == null ? ""
                            : String.format(Locale.ROOT, "; the roofline of the same profile: MAPE %.1f%%, Spearman %.3f", 100 * rooflineMape, rooflineSpearman)));
            ReportModel.Spread s = parent.measuredSpread();
            out.add(String.format(Locale.ROOT, "noise floor: the parent's interquartile range is %.1f%% of its median (%d repeats)",
                    100 * (s.q3() - s.q1()) / parent.measuredTokensPerS(), reps));
            return out;
        }

        private static String row(String name, Child c) {
            return String.format(Locale.ROOT, "%-10s %14.0f %14s %22s %+8.1f%%  %s", name, c.predictedTokensPerS(),
                    c.rooflineTokensPerS() == null ? "-" : String.format(Locale.ROOT, "%.0f", c.rooflineTokensPerS()),
                    ReportModel.rate(c.measuredTokensPerS(), c.measuredSpread()), 100 * c.error(), String.join(" | ", c.blocks()));
        }
    }

    /**
     * Draws, predicts and measures {@code n} children against the profile of {@code hw} (the run's own, just
     * profiled); writes {@code RUN_DIR/profile/validation.json}.
     */
    public static Result run(Run run, HardwareProfile hw, int n, long seed, int reps, Listener listener) throws IOException {
        if (n < 2) throw new dev.puzzle.core.PuzzleException("--validate needs at least 2 children (a rank correlation of fewer says nothing), got " + n);
        if (run.parent.config().blocks().stream().anyMatch(b -> b.ffn().numExperts() > 0)) {
            throw new dev.puzzle.core.PuzzleException(run.config.file + ": --validate does not draw MoE children yet (their costs need the routing profile measures)");
        }
        if (!java.nio.file.Files.exists(run.dir.blockCosts())) throw new dev.puzzle.core.PuzzleException(run.dir.blockCosts() + ": no profile yet (run 'puzzle profile' first)");
        com.fasterxml.jackson.databind.JsonNode costs = dev.puzzle.core.config.Json.readObject(run.dir.blockCosts(), "the profile's block costs");
        double fixedMs = run.dir.fixedCosts().getOrDefault(dev.puzzle.core.model.LibraryKeys.RUNTIME_MS, Double.NaN);
        if (Double.isNaN(fixedMs)) throw new dev.puzzle.core.PuzzleException(run.dir.modelCosts() + ": no embeddings_and_head runtime_ms (run 'puzzle profile' again)");
        Profiled cm = (layer, b) -> {
            String name = dev.puzzle.core.model.BlockNames.library(run.parent.config(), b);
            com.fasterxml.jackson.databind.JsonNode ms = costs.path("layer_" + layer).path(name).path("stats").path("runtime_ms");
            if (!ms.isNumber()) throw new dev.puzzle.core.PuzzleException(run.dir.blockCosts() + ": layer_" + layer + " has no runtime_ms for '" + name + "'");
            return ms.asDouble();
        };
        CostModel roofline = run.config.measured() ? new RooflineCostModel(hw) : null;
        Workload w = run.config.workload();
        ModelConfig parent = run.parent.config();
        List<List<BlockConfig>> draws = draw(run, n, new Random(seed));
        LongConsumer progress = listener.progress("validate", n + 1);
        dev.puzzle.hardware.LlamaCppCostModel llama = LlamaCppProfile.applies(run.config) ? LlamaCppProfile.costModel(run) : null;
        List<Child> children = new ArrayList<>();
        Child p;
        try {
            WholeModelTimer timer = llama != null ? WholeModelTimer.llamaCpp(run, llama) : WholeModelTimer.toolkit(run);
            timer.settle(); // no model is measured before the JIT has settled
            p = child(run, cm, fixedMs, roofline, w, parent.blocks(), timer, seed, reps);
            progress.accept(1);
            for (List<BlockConfig> b : draws) {
                children.add(child(run, cm, fixedMs, roofline, w, b, timer, seed, reps));
                progress.accept(children.size() + 1);
            }
        } finally {
            if (llama != null) llama.close();
        }
        double[] pred = children.stream().mapToDouble(Child::predictedTokensPerS).toArray(), meas = children.stream().mapToDouble(Child::measuredTokensPerS).toArray();
        double mape = children.stream().mapToDouble(c -> Math.abs(c.error())).average().orElse(0);
        double worst = children.stream().mapToDouble(Child::error).reduce(0, (a, b) -> Math.abs(b) > Math.abs(a) ? b : a);
        Double rMape = null, rSpearman = null;
        if (roofline != null) {
            rMape = children.stream().mapToDouble(c -> Math.abs((c.rooflineTokensPerS() - c.measuredTokensPerS()) / c.measuredTokensPerS())).average().orElse(0);
            rSpearman = spearman(children.stream().mapToDouble(Child::rooflineTokensPerS).toArray(), meas);
        }
        Result res = new Result(hw.name(), run.config.measured() ? "measured" : "roofline", reps, seed, p, children, mape, worst, spearman(pred, meas), rMape,
                rSpearman);
        AtomicFiles.writeString(run.dir.layout().costValidation(), ReportModel.json(res));
        return res;
    }

    /** {@code n} children of the search space, each layer an independent uniform draw among its single-layer candidates. */
    static List<List<BlockConfig>> draw(Run run, int n, Random r) {
        ModelConfig parent = run.parent.config();
        List<List<BlockConfig>> draws = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            List<BlockConfig> blocks = new ArrayList<>();
            for (int l = 0; l < parent.numLayers(); l++) {
                List<SearchSpace.Candidate> c = run.space.candidates(parent, l);
                blocks.add(c.get(r.nextInt(c.size())).block());
            }
            draws.add(blocks);
        }
        return draws;
    }

    /** A block's runtime at a layer as the profile recorded it. */
    private interface Profiled {
        double runtimeMs(int layer, BlockConfig b);
    }

    private static Child child(Run run, Profiled cm, double fixedMs, CostModel roofline, Workload w, List<BlockConfig> blocks, WholeModelTimer timer, long seed,
                               int reps) {
        ModelConfig parent = run.parent.config();
        double ms = fixedMs, rms = roofline == null ? 0 : roofline.embeddingsAndHead(parent, w).runtimeMs();
        for (int l = 0; l < blocks.size(); l++) {
            ms += cm.runtimeMs(l, blocks.get(l));
            if (roofline != null) rms += roofline.block(parent, blocks.get(l), w).runtimeMs();
        }
        Throughput.Stat s = timer.tokensPerS(blocks, seed, reps);
        List<String> names = new ArrayList<>(), variants = new ArrayList<>();
        for (BlockConfig b : blocks) {
            names.add(b.toString());
            variants.add(dev.puzzle.core.model.BlockNames.library(parent, b));
        }
        return new Child(names, variants, TokenRate.tokensPerSecond(ms, w), roofline == null ? null : TokenRate.tokensPerSecond(rms, w), s.median(),
                ReportModel.Spread.of(s));
    }

    /** Spearman's rank correlation: Pearson's correlation of the ranks, ties given their mean rank. */
    static double spearman(double[] a, double[] b) {
        double[] ra = ranks(a), rb = ranks(b);
        double ma = Arrays.stream(ra).average().orElse(0), mb = Arrays.stream(rb).average().orElse(0), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < ra.length; i++) {
            sab += (ra[i] - ma) * (rb[i] - mb);
            saa += (ra[i] - ma) * (ra[i] - ma);
            sbb += (rb[i] - mb) * (rb[i] - mb);
        }
        return saa == 0 || sbb == 0 ? 0 : sab / Math.sqrt(saa * sbb);
    }

    static double[] ranks(double[] v) {
        Integer[] idx = new Integer[v.length];
        for (int i = 0; i < v.length; i++) idx[i] = i;
        Arrays.sort(idx, (x, y) -> Double.compare(v[x], v[y]));
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; ) {
            int j = i;
            while (j + 1 < v.length && v[idx[j + 1]] == v[idx[i]]) j++;
            for (int k = i; k <= j; k++) r[idx[k]] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        return r;
    }
}
