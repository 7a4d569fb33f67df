package dev.puzzle.pipeline;

import dev.puzzle.bld.Bld;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.mip.SearchLibrary;
import dev.puzzle.mip.SearchLibrary.Choice;
import dev.puzzle.mip.Budget;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The baselines compress compares Puzzle against, at the same budgets and from the same scored library:
 * uniform width pruning (Minitron-style: one KV-head count and one FFN width for every layer, the feasible
 * one with the least summed KL) and layer dropping (ShortGPT, Men et al. 2024: whole layers removed in
 * order of least block influence until the budgets fit).
 */
public final class BaselinesStage {
    private BaselinesStage() {}

    /** Both baselines for every target that has budgets; a baseline that cannot fit a budget is absent. */
    public static List<Plan> run(Run run, SearchLibrary lib, SearchStage.Result search) {
        ModelConfig pc = run.parent.config();
        List<Map<String, BlockConfig>> byName = search.candidatesByName();
        double[] influence = Bld.blockInfluence(run.dir.root(), pc.numLayers());
        List<Plan> out = new ArrayList<>();
        for (var e : search.budgets().entrySet()) {
            RunConfig.Target t = e.getKey();
            double tps = search.tokensPerSecond().get(t);
            Plan u = uniform(lib, e.getValue(), byName, t, tps, run.space.expertScoring().configName());
            if (u != null) out.add(u);
            Plan d = layerDrop(lib, e.getValue(), influence, pc, t, tps);
            if (d != null) out.add(d);
            Plan g = fp8Global(run, lib, e.getValue(), byName, t, tps);
            if (g != null) out.add(g);
        }
        return out;
    }

    static boolean fits(List<Choice> chosen, List<Budget> budgets) {
        for (Budget b : budgets) {
            double s = 0;
            for (Choice r : chosen) s += r.values().get(b.key());
            if (!b.satisfiedBy(s, 1e-9)) return false;
        }
        return true;
    }

    private static Choice find(SearchLibrary lib, int layer, String name) {
        for (Choice r : lib.startingAt(layer)) if (r.span() == 1 && r.name().equals(name)) return r;
        return null;
    }

    /**
     * Minitron-style uniform pruning: the same GQA + dense block in every layer; the feasible one with least
     * summed KL, or null. A MoE parent's layers keep the same number of experts everywhere instead (REAP's
     * uniform expert pruning when the run scores experts by REAP), each layer's experts chosen by the run's
     * expert scoring.
     */
    static Plan uniform(SearchLibrary lib, List<Budget> budgets, List<Map<String, BlockConfig>> byName, RunConfig.Target t, double tps) {
        return uniform(lib, budgets, byName, t, tps, "reap");
    }

    static Plan uniform(SearchLibrary lib, List<Budget> budgets, List<Map<String, BlockConfig>> byName, RunConfig.Target t, double tps, String scoring) {
        int L = lib.numLayers();
        Plan best = null;
        double bestKl = Double.POSITIVE_INFINITY;
        for (var cand : byName.get(0).entrySet()) {
            String name = cand.getKey();
            BlockConfig b = cand.getValue();
            if (!(b.attention() instanceof AttentionConfig.Gqa) || !(b.ffn() instanceof FfnConfig.Dense || b.ffn() instanceof FfnConfig.Moe)) continue;
            List<Choice> chosen = new ArrayList<>();
            for (int l = 0; l < L; l++) {
                Choice r = find(lib, l, name);
                if (r == null) break;
                chosen.add(r);
            }
            if (chosen.size() != L || !fits(chosen, budgets)) continue;
            double kl = 0;
            for (Choice r : chosen) kl += r.values().get(LibraryKeys.KL_DIV);
            if (kl < bestKl) {
                bestKl = kl;
                best = new Plan("uniform-" + t.label(), Plan.Kind.UNIFORM, t, tps, Collections.nCopies(L, b), Collections.nCopies(L, name),
                        b.ffn() instanceof FfnConfig.Moe
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
    static Plan fp8Global(Run run, SearchLibrary lib, List<Budget> budgets, List<Map<String, BlockConfig>> byName, RunConfig.Target t, double tps) {
        List<Choice> keep = new ArrayList<>();
        boolean any = false;
        for (Choice c : lib.replacements()) {
            BlockConfig b = c.span() == 1 ? byName.get(c.first()).get(c.name()) : null;
            if (b == null) continue;
            any |= b.attention().fp8Kv();
            if (b.attention().kvHeads() == 0 || b.attention().fp8Kv()) keep.add(c);
        }
        if (!any) return null;
        List<Choice> renumbered = new ArrayList<>();
        for (Choice c : keep) renumbered.add(new Choice(renumbered.size(), c.first(), c.span(), c.name(), c.values()));
        SearchLibrary only = new SearchLibrary(lib.numLayers(), renumbered, lib.source() + " (FP8 KV everywhere)");
        RunConfig.Search s = run.config.compressSearch();
        try {
            var sol = dev.puzzle.mip.ArchitectureSearch.solve(new dev.puzzle.mip.ArchitectureSearch.Problem(only, s.objective(), s.maximize(), budgets),
                    new dev.puzzle.mip.ArchitectureSearch.Options(s.solver(), s.timeLimit(), Math.max(1, dev.puzzle.core.tensor.Parallel.threads())));
            List<BlockConfig> blocks = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (int l = 0; l < lib.numLayers(); l++) {
                names.add(sol.atLayer(l).name());
                blocks.add(byName.get(l).get(sol.atLayer(l).name()));
            }
            return new Plan("fp8global-" + t.label(), Plan.Kind.FP8_GLOBAL, t, tps, blocks, names,
                    "Puzzle's search with every KV cache in FP8 (one global KV dtype): what the per-layer choice is compared with");
        } catch (dev.puzzle.mip.ArchitectureSearch.InfeasibleException e) {
            return null;
        }
    }

    /** ShortGPT-style layer dropping: whole layers removed in order of least block influence until the budgets fit; null when none fits. */
    static Plan layerDrop(SearchLibrary lib, List<Budget> budgets, double[] influence, ModelConfig pc, RunConfig.Target t, double tps) {
        int L = pc.numLayers();
        Integer[] order = new Integer[L];
        for (int l = 0; l < L; l++) order[l] = l;
        Arrays.sort(order, (a, b) -> Double.compare(influence[a], influence[b]));
        BlockConfig empty = new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp());
        String emptyName = SearchSpace.name(pc, empty.attention(), empty.ffn());
        boolean[] drop = new boolean[L];
        for (int k = 0; k <= L; k++) {
            List<Choice> chosen = new ArrayList<>();
            List<BlockConfig> blocks = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (int l = 0; l < L; l++) {
                BlockConfig b = drop[l] ? empty : pc.parentBlock(l);
                String want = drop[l] ? emptyName : SearchSpace.name(pc, b.attention(), b.ffn());
                Choice r = find(lib, l, want);
                if (r == null) return null; // the search space cannot drop (or keep) this layer whole
                chosen.add(r);
                blocks.add(b);
                names.add(want);
            }
            if (fits(chosen, budgets)) {
                return new Plan("layerdrop-" + t.label(), Plan.Kind.LAYER_DROP, t, tps, blocks, names,
                        "layer dropping: " + k + " layers of least block influence removed");
            }
            if (k < L) drop[order[k]] = true;
        }
        return null;
    }
}
