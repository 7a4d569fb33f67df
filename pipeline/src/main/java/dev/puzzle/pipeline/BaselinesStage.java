package dev.puzzle.pipeline;

import dev.puzzle.bld.Bld;
import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.blocklibrary.BlockLibrary.Replacement;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.mip.ArchitectureSearch;
import dev.puzzle.mip.Budget;
import dev.puzzle.mip.SearchLibrary;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The baselines compress compares Puzzle against, at the same budgets and from the same scored library:
 * uniform width pruning (Minitron-style: one KV-head count and one FFN width for every layer, the feasible
 * one with the least summed KL) and layer dropping (ShortGPT, Men et al. 2024: whole layers removed in
 * order of least block influence until the budgets fit); with a precision axis, the whole parent in each uniform
 * weight format it offers.
 */
public final class BaselinesStage {
    private BaselinesStage() {}

    /** Both baselines for every target that has budgets; a baseline that cannot fit a budget is absent. */
    public static List<Plan> run(Run run, BlockLibrary lib, SearchStage.Result search) {
        ModelConfig pc = run.parent.config();
        double[] influence = Bld.blockInfluence(run.dir.root(), pc.numLayers());
        List<Plan> out = new ArrayList<>();
        for (var e : search.budgets().entrySet()) {
            RunConfig.Target t = e.getKey();
            double tps = search.tokensPerSecond().get(t);
            Plan u = uniform(lib, e.getValue(), t, tps, run.space.expertScoring().configName());
            if (u != null) out.add(u);
            Plan d = layerDrop(lib, e.getValue(), influence, pc, t, tps);
            if (d != null) out.add(d);
            Plan g = fp8Global(run, lib, e.getValue(), t, tps);
            if (g != null) out.add(g);
            out.addAll(uniformFormats(lib, pc, e.getValue(), t, tps));
        }
        return out;
    }

    /**
     * Every quantized weight format the search space offers the parent's own blocks in, applied to the whole parent
     * (round to nearest: realized from the parent's weights, not from BLD-trained candidates) where it fits the budgets.
     */
    static List<Plan> uniformFormats(BlockLibrary lib, ModelConfig pc, List<Budget> budgets, RunConfig.Target t, double tps) {
        java.util.Set<dev.puzzle.core.tensor.DType> formats = new java.util.LinkedHashSet<>();
        for (Replacement r : lib.replacements()) {
            if (r.span() != 1 || r.blocks().isEmpty()) continue;
            BlockConfig b = r.blocks().get(0), own = pc.parentBlock(r.first());
            if (b.attention().quantizedWeights() != null && b.attention().unquantized().equals(own.attention()) && b.ffn().unquantized().equals(own.ffn())
                    && b.attention().quantizedWeights() == b.ffn().quantizedWeights()) formats.add(b.attention().quantizedWeights());
        }
        List<Plan> out = new ArrayList<>();
        for (dev.puzzle.core.tensor.DType d : formats) {
            List<Replacement> chosen = new ArrayList<>();
            for (int l = 0; l < pc.numLayers(); l++) {
                BlockConfig own = pc.parentBlock(l);
                Replacement r = lib.find(l, new BlockConfig(own.attention().withWeights(d), own.ffn().withWeights(d)));
                if (r == null) break;
                chosen.add(r);
            }
            if (chosen.size() == pc.numLayers() && fits(chosen, budgets)) {
                out.add(new Plan(d.configName() + "-" + t.label(), Plan.Kind.UNIFORM_FORMAT, t, tps, chosen,
                        "the whole parent in " + d.configName() + ", round to nearest (a uniform weight format, as llama.cpp's quantize makes)"));
            }
        }
        return out;
    }

    static boolean fits(List<Replacement> chosen, List<Budget> budgets) {
        for (Budget b : budgets) {
            double s = 0;
            for (Replacement r : chosen) s += r.values().get(b.key());
            if (!b.satisfiedBy(s, 1e-9)) return false;
        }
        return true;
    }

    /**
     * Whether uniform pruning may put this block in every layer: the parent's own kind made narrower — GQA over the
     * whole context with a dense FFN, or with fewer experts in a MoE layer.
     */
    static boolean uniformKind(BlockConfig b) {
        boolean attention = switch (b.attention()) {
            case AttentionConfig.Gqa g -> true;
            case AttentionConfig.Window w -> false;
            case AttentionConfig.Linear l -> false;
            case AttentionConfig.Mamba2 m -> false;
            case AttentionConfig.NoOp n -> false;
            case AttentionConfig.Quantized q -> false; // uniform formats are baselines of their own
        };
        boolean ffn = switch (b.ffn()) {
            case FfnConfig.Dense d -> true;
            case FfnConfig.Relu2 r -> true;
            case FfnConfig.Moe m -> true;
            case FfnConfig.Linear l -> false;
            case FfnConfig.NoOp n -> false;
            case FfnConfig.Quantized q -> false;
        };
        return attention && ffn;
    }

    /**
     * Minitron-style uniform pruning: the same GQA + dense block in every layer; the feasible one with least
     * summed KL, or null. A MoE parent's layers keep the same number of experts everywhere instead (REAP's
     * uniform expert pruning when the run scores experts by REAP), each layer's experts chosen by the run's
     * expert scoring.
     */
    static Plan uniform(BlockLibrary lib, List<Budget> budgets, RunConfig.Target t, double tps) {
        return uniform(lib, budgets, t, tps, "reap");
    }

    static Plan uniform(BlockLibrary lib, List<Budget> budgets, RunConfig.Target t, double tps, String scoring) {
        int L = lib.numLayers();
        Plan best = null;
        double bestKl = Double.POSITIVE_INFINITY;
        for (Replacement first : lib.replacements()) {
            if (first.first() != 0 || first.span() != 1 || first.blocks().isEmpty() || !uniformKind(first.blocks().get(0))) continue;
            BlockConfig b = first.blocks().get(0);
            List<Replacement> chosen = new ArrayList<>();
            for (int l = 0; l < L; l++) {
                Replacement r = lib.find(l, b);
                if (r == null) break;
                chosen.add(r);
            }
            if (chosen.size() != L || !fits(chosen, budgets)) continue;
            double kl = 0;
            for (Replacement r : chosen) kl += r.values().get(LibraryKeys.KL_DIV);
            if (kl < bestKl) {
                bestKl = kl;
                best = new Plan("uniform-" + t.label(), Plan.Kind.UNIFORM, t, tps, chosen, b.ffn().numExperts() > 0
                        ? "uniform expert pruning (" + scoring + "): the same expert count in every layer, least summed KL of the uniform choices that fit"
                        : "uniform width pruning: least summed KL of the uniform choices that fit");
            }
        }
        return best;
    }

    /**
     * When the search space has per-layer FP8 KV caches: the same search (objective, budgets, solver) with
     * every layer that caches K and V in FP8 — one global KV dtype — so the report can say what choosing the
     * KV precision per layer bought; null without FP8 variants or when nothing fits.
     */
    static Plan fp8Global(Run run, BlockLibrary lib, List<Budget> budgets, RunConfig.Target t, double tps) {
        List<Replacement> keep = new ArrayList<>();
        boolean any = false;
        for (Replacement r : lib.replacements()) {
            if (r.span() != 1 || r.blocks().isEmpty()) continue;
            AttentionConfig a = r.blocks().get(0).attention();
            any |= a.fp8Kv();
            if (a.kvHeads() == 0 || a.fp8Kv()) keep.add(r);
        }
        if (!any) return null;
        BlockLibrary only = new BlockLibrary(lib.numLayers(), keep, lib.source() + " (FP8 KV everywhere)");
        RunConfig.Search s = run.config.compressSearch();
        try {
            var sol = ArchitectureSearch.solve(new ArchitectureSearch.Problem(SearchLibrary.of(only), s.objective(), s.maximize(), budgets),
                    new ArchitectureSearch.Options(s.solver(), s.timeLimit(), run.backend.threads()));
            return new Plan("fp8global-" + t.label(), Plan.Kind.FP8_GLOBAL, t, tps, SearchStage.chosen(only, sol),
                    "Puzzle's search with every KV cache in FP8 (one global KV dtype): what the per-layer choice is compared with");
        } catch (ArchitectureSearch.InfeasibleException e) {
            return null;
        }
    }

    /** ShortGPT-style layer dropping: whole layers removed in order of least block influence until the budgets fit; null when none fits. */
    static Plan layerDrop(BlockLibrary lib, List<Budget> budgets, double[] influence, ModelConfig pc, RunConfig.Target t, double tps) {
        int L = pc.numLayers();
        Integer[] order = new Integer[L];
        for (int l = 0; l < L; l++) order[l] = l;
        Arrays.sort(order, (a, b) -> Double.compare(influence[a], influence[b]));
        boolean[] drop = new boolean[L];
        for (int k = 0; k <= L; k++) {
            List<Replacement> chosen = new ArrayList<>();
            for (int l = 0; l < L; l++) {
                Replacement r = lib.find(l, drop[l] ? BlockConfig.EMPTY : pc.parentBlock(l));
                if (r == null) return null; // the search space cannot drop (or keep) this layer whole
                chosen.add(r);
            }
            if (fits(chosen, budgets)) {
                return new Plan("layerdrop-" + t.label(), Plan.Kind.LAYER_DROP, t, tps, chosen, "layer dropping: " + k + " layers of least block influence removed");
            }
            if (k < L) drop[order[k]] = true;
        }
        return null;
    }
}
