package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.bld.Bld;
import dev.puzzle.bld.Scorer;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.Perplexity;
import dev.puzzle.core.eval.Throughput;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.hardware.BlockCost;
import dev.puzzle.hardware.CostModel;
import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.hardware.MeasuredCostModel;
import dev.puzzle.hardware.RooflineCostModel;
import dev.puzzle.hardware.Workload;
import dev.puzzle.mip.ArchitectureSearch;
import dev.puzzle.mip.BlockLibrary;
import dev.puzzle.mip.BlockLibrary.Replacement;
import dev.puzzle.mip.Budget;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The whole Puzzle pipeline over one run directory (DESIGN.md section 1): profile, library, distill,
 * score, search (one MIP per throughput target), realize every child as a Hugging Face directory,
 * baselines at the same budgets (uniform width pruning, layer dropping by block influence), evaluate
 * parent, children and baselines with one harness, report. Every stage writes files atomically and is
 * skipped when its output exists, so an interrupted run resumes where it stopped.
 */
final class Compress {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final RunContext ctx;
    private final Path runDir, dir;
    private final PrintWriter out, err;

    Compress(RunContext ctx, PrintWriter out, PrintWriter err) {
        this.ctx = ctx;
        this.runDir = ctx.rc.runDir();
        this.dir = runDir.resolve("compress");
        this.out = out;
        this.err = err;
    }

    private void stage(String name, String state) {
        out.printf("[%s] %s%n", name, state);
        out.flush();
    }

    /** One architecture to realize and evaluate. */
    record Plan(String name, String kind, Double throughput, List<BlockConfig> blocks, List<String> variants) {}

    void run() throws Exception {
        RunConfig rc = ctx.rc;
        RunConfig.Compress cc = rc.compress();
        ModelConfig pc = ctx.parent.config();
        HardwareProfile hw = HardwareProfile.load(rc.hardware());
        Workload w = rc.workload();
        boolean coupled = rc.distill().coupled();
        checkFingerprint();
        // 1. profile
        if (Files.exists(runDir.resolve("profile/model_costs.json")) && Files.exists(runDir.resolve("profile/block_costs.json"))) {
            stage("profile", "done earlier, skipped");
        } else {
            stage("profile", "costing every candidate on " + hw.name());
            ProfileCommand.run(rc, ctx.parent, ctx.space, hw, new PrintWriter(java.io.Writer.nullWriter()), err);
        }
        // 2-3. library and distill (each skips what is done)
        stage("library", "activation cache and candidate initialization");
        int L = pc.numLayers();
        Bld.buildLibrary(ctx.parent, ctx.space, ctx.calibration(), runDir, rc.cacheDtype(),
                new Progress(err, "cache", L)::update, new Progress(err, "init", L)::update);
        stage("distill", "blockwise local distillation");
        Progress[] bar = new Progress[1];
        int trained = Bld.distill(ctx.parent, ctx.space, rc.distill(), runDir, new int[]{0, 1}, dev.puzzle.core.tensor.Parallel.threads(), (d, t) -> {
            synchronized (bar) {
                if (bar[0] == null) bar[0] = new Progress(err, "distill", t);
                bar[0].update(d);
            }
        });
        stage("distill", trained == 0 ? "all jobs done earlier" : "trained " + trained + " jobs");
        // 4. score
        Path scored = runDir.resolve("score/block_library.json");
        if (Files.exists(scored)) {
            stage("score", "done earlier, skipped");
        } else {
            stage("score", "replace-1-block scoring");
            ScoreCommand.run(ctx, new PrintWriter(java.io.Writer.nullWriter()), err);
        }
        // 5. search, and baselines at the same budgets
        BlockLibrary lib = BlockLibrary.read(scored);
        Map<String, Double> fixed = SearchCommand.fixedCosts(runDir.resolve("profile/model_costs.json"));
        Map<Integer, Map<String, BlockConfig>> byName = new LinkedHashMap<>();
        for (int l = 0; l < L; l++) {
            Map<String, BlockConfig> m = new LinkedHashMap<>();
            for (SearchSpace.Candidate c : ctx.space.candidates(pc, l)) m.put(c.name(), c.block());
            byName.put(l, m);
        }
        List<Plan> plans = new ArrayList<>();
        List<String> infeasible = new ArrayList<>();
        double[] bi = Bld.blockInfluence(runDir, L);
        for (double t : cc.throughputs()) {
            List<Budget> budgets = budgets(t, cc, w, fixed);
            String tag = String.format(Locale.ROOT, "%.0f", t);
            try {
                var sol = ArchitectureSearch.solve(new ArchitectureSearch.Problem(lib, "metrics.kl_div", false, budgets),
                        new ArchitectureSearch.Options(ArchitectureSearch.Backend.CP_SAT, 60, Math.max(1, dev.puzzle.core.tensor.Parallel.threads())));
                List<BlockConfig> blocks = new ArrayList<>();
                List<String> names = new ArrayList<>();
                for (int l = 0; l < L; l++) {
                    names.add(sol.atLayer(l).name());
                    blocks.add(byName.get(l).get(sol.atLayer(l).name()));
                }
                plans.add(new Plan("puzzle-" + tag, "puzzle", t, blocks, names));
            } catch (ArchitectureSearch.InfeasibleException e) {
                String why = unreachable(lib, t, cc, w, fixed);
                infeasible.add(why);
                stage("search", why);
                continue;
            }
            if (cc.baselines()) {
                Plan u = uniform(lib, budgets, byName, t, tag);
                if (u != null) plans.add(u);
                Plan d = layerDrop(lib, budgets, bi, pc, t, tag);
                if (d != null) plans.add(d);
            }
        }
        if (plans.stream().noneMatch(p -> p.kind().equals("puzzle"))) {
            throw new PuzzleException(rc.file + ": field 'compress.throughputs': no target can be met: " + String.join("; ", infeasible));
        }
        stage("search", plans.stream().filter(p -> p.kind().equals("puzzle")).count() + " Puzzle children, "
                + plans.stream().filter(p -> !p.kind().equals("puzzle")).count() + " baselines");
        // 6-7. realize and evaluate (parent first)
        CostModel cost = rc.measured() ? new MeasuredCostModel(3) : new RooflineCostModel(hw);
        int[][] held = ctx.heldout();
        Scorer.Reference ref = Scorer.run(ctx.parent, held);
        List<Plan> all = new ArrayList<>();
        all.add(new Plan("parent", "parent", null, pc.blocks(), parentNames(byName, pc)));
        all.addAll(plans);
        // Warm the JIT before the first timing, or the first model measured (the parent) would look slow.
        Decoder warm = new Decoder(ctx.parent);
        long until = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < until) Throughput.measure(warm, cc.prompt(), cc.generate(), 1);
        Progress pe = new Progress(err, "realize+evaluate", all.size());
        List<ObjectNode> results = new ArrayList<>();
        int i = 0;
        for (Plan p : all) {
            results.add(evaluate(p, coupled, held, ref, cost, w, cc, hw));
            pe.update(++i);
        }
        // 8. report
        ObjectNode report = Report.build(rc, hw, w, results, infeasible, cc);
        Report.write(runDir.resolve("report"), report);
        stage("report", runDir.resolve("report/index.html").toString());
        for (String line : Report.summary(report)) out.println(line);
    }

    /**
     * Resuming is only sound for the same run: the sections that shape the stages' outputs are
     * fingerprinted on the first run, and a run directory made from other settings is refused.
     */
    private void checkFingerprint() throws IOException {
        var root = JSON.readTree(new com.fasterxml.jackson.databind.ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory()).readTree(ctx.rc.file.toFile()).toString());
        ObjectNode fp = JSON.createObjectNode();
        for (String k : new String[]{"parent", "hardware", "cost_model", "workload", "search_space", "data", "distill"}) if (root.has(k)) fp.set(k, root.get(k));
        if (root.path("compress").has("gkd")) fp.set("gkd", root.get("compress").get("gkd"));
        String text = JSON.writeValueAsString(fp);
        Path f = runDir.resolve("run.fingerprint.json");
        if (Files.exists(f)) {
            if (!Files.readString(f).trim().equals(text)) {
                throw new PuzzleException(ctx.rc.file + ": run_dir " + runDir + " was made with other parent/hardware/workload/search_space/data/distill"
                        + " settings; use a new run_dir (or delete it) to start over");
            }
        } else {
            AtomicFiles.writeString(f, text + "\n");
        }
    }

    /** Why a target cannot be met, in whole-model terms: the best throughput and the least memory any architecture has. */
    private static String unreachable(BlockLibrary lib, double t, RunConfig.Compress cc, Workload w, Map<String, Double> fixed) {
        var o = new ArchitectureSearch.Options(ArchitectureSearch.Backend.CP_SAT, 60, 1);
        double minRuntime = ArchitectureSearch.extreme(lib, "stats.runtime_ms", false, o) + fixed.getOrDefault("stats.runtime_ms", 0.0);
        double minMemory = ArchitectureSearch.extreme(lib, "stats.memory_mib", false, o) + fixed.getOrDefault("stats.memory_mib", 0.0);
        double best = 1000.0 * w.batch() * w.generationLength() / minRuntime;
        return String.format(Locale.ROOT, "%.0f tokens/s%s: no architecture meets it; the fastest reaches %.0f tokens/s (%.4g ms, of which embeddings"
                        + " and head take %.4g ms) and the smallest needs %.4g MiB", t, cc.memoryMib() != null ? String.format(Locale.ROOT, " within %.4g MiB", cc.memoryMib()) : "",
                best, minRuntime, fixed.getOrDefault("stats.runtime_ms", 0.0), minMemory);
    }

    static List<Budget> budgets(double throughput, RunConfig.Compress cc, Workload w, Map<String, Double> fixed) {
        List<Budget> b = new ArrayList<>();
        b.add(RunConfig.wholeModel("stats.runtime_ms", Budget.runtimeMsForThroughput(throughput, w.batch(), w.generationLength()), fixed));
        if (cc.memoryMib() != null) b.add(RunConfig.wholeModel("stats.memory_mib", cc.memoryMib(), fixed));
        return b;
    }

    private static List<String> parentNames(Map<Integer, Map<String, BlockConfig>> byName, ModelConfig pc) {
        List<String> n = new ArrayList<>();
        for (int l = 0; l < pc.numLayers(); l++) {
            final int layer = l;
            n.add(byName.get(l).entrySet().stream().filter(e -> e.getValue().equals(pc.blocks().get(layer))).map(Map.Entry::getKey).findFirst().orElse("parent"));
        }
        return n;
    }

    private static boolean fits(List<Replacement> chosen, List<Budget> budgets) {
        for (Budget b : budgets) {
            double s = 0;
            for (Replacement r : chosen) s += r.values().get(b.key());
            if (!b.satisfiedBy(s, 1e-9)) return false;
        }
        return true;
    }

    /** Minitron-style uniform pruning: one KV-head count and one FFN width for every layer; the feasible one with least KL. */
    private Plan uniform(BlockLibrary lib, List<Budget> budgets, Map<Integer, Map<String, BlockConfig>> byName, double t, String tag) {
        int L = lib.numLayers();
        Plan best = null;
        double bestKl = Double.POSITIVE_INFINITY;
        for (String name : byName.get(0).keySet()) {
            BlockConfig b = byName.get(0).get(name);
            if (!(b.attention() instanceof AttentionConfig.Gqa) || !(b.ffn() instanceof FfnConfig.Dense)) continue;
            List<Replacement> chosen = new ArrayList<>();
            for (int l = 0; l < L; l++) {
                Replacement r = lib.startingAt(l).stream().filter(x -> x.name().equals(name)).findFirst().orElse(null);
                if (r == null) break;
                chosen.add(r);
            }
            if (chosen.size() != L || !fits(chosen, budgets)) continue;
            double kl = 0;
            for (Replacement r : chosen) kl += r.values().get("metrics.kl_div");
            if (kl < bestKl) {
                bestKl = kl;
                best = new Plan("uniform-" + tag, "uniform", t, java.util.Collections.nCopies(L, b), java.util.Collections.nCopies(L, name));
            }
        }
        return best;
    }

    /** ShortGPT-style layer dropping: remove whole layers in order of least block influence until the budgets fit. */
    private Plan layerDrop(BlockLibrary lib, List<Budget> budgets, double[] bi, ModelConfig pc, double t, String tag) {
        int L = pc.numLayers();
        Integer[] order = new Integer[L];
        for (int l = 0; l < L; l++) order[l] = l;
        Arrays.sort(order, (a, b) -> Double.compare(bi[a], bi[b]));
        BlockConfig empty = new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp());
        String emptyName = SearchSpace.name(pc, empty.attention(), empty.ffn());
        boolean[] drop = new boolean[L];
        for (int k = 0; k <= L; k++) {
            List<Replacement> chosen = new ArrayList<>();
            List<BlockConfig> blocks = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (int l = 0; l < L; l++) {
                BlockConfig b = drop[l] ? empty : pc.blocks().get(l);
                String want = drop[l] ? emptyName : SearchSpace.name(pc, b.attention(), b.ffn());
                Replacement r = lib.startingAt(l).stream().filter(x -> x.name().equals(want)).findFirst().orElse(null);
                if (r == null) return null; // the search space cannot drop (or keep) this layer whole
                chosen.add(r);
                blocks.add(b);
                names.add(want);
            }
            if (fits(chosen, budgets)) return new Plan("layerdrop-" + tag, "layer-drop", t, blocks, names);
            if (k < L) drop[order[k]] = true;
        }
        return null;
    }

    /** Realizes (unless done), evaluates (unless done), and returns the child's record. */
    private ObjectNode evaluate(Plan p, boolean coupled, int[][] held, Scorer.Reference ref, CostModel cost, Workload w,
                                RunConfig.Compress cc, HardwareProfile hw) throws IOException {
        Path childDir = dir.resolve(p.name());
        Path evalFile = childDir.resolve("eval.json");
        if (Files.exists(evalFile)) return (ObjectNode) JSON.readTree(evalFile.toFile());
        Path model = childDir.resolve("model");
        if (!p.kind().equals("parent") && !Files.exists(model.resolve("config.json"))) {
            Checkpoint child = Bld.realize(ctx.parent, p.blocks(), runDir, coupled);
            if (cc.gkd() != null) { // optional: the whole child against the parent; resumes from its checkpoint
                Files.createDirectories(childDir);
                int steps = (int) Math.max(1, cc.gkd().tokens() / ((long) Math.min(cc.gkd().batchSequences(), calibration().length) * calibration()[0].length));
                child = dev.puzzle.bld.Gkd.train(ctx.parent, child, calibration(), cc.gkd(), childDir.resolve("gkd-checkpoint.safetensors"),
                        new Progress(err, "gkd " + p.name(), steps)::update).child();
            }
            Path tmp = childDir.resolve(".model.partial");
            ConvertCommand.deleteTree(tmp);
            Checkpoints.writeHfDir(child, tmp, null);
            Files.move(tmp, model, StandardCopyOption.ATOMIC_MOVE);
        }
        Checkpoint ck = p.kind().equals("parent") ? ctx.parent : Checkpoints.load(model);
        ObjectNode o = measure(ck, held, ref, cost, w, cc);
        o.put("name", p.name());
        o.put("kind", p.kind());
        o.put("gkd", cc.gkd() != null && !p.kind().equals("parent"));
        if (p.throughput() != null) o.put("target_tokens_per_s", p.throughput());
        o.put("model", p.kind().equals("parent") ? ctx.parent.source() : model.toString());
        ArrayNode layers = o.putArray("blocks");
        for (int l = 0; l < p.blocks().size(); l++) layers.addObject().put("layer", l).put("variant", p.variants().get(l)).put("block", p.blocks().get(l).describe());
        Files.createDirectories(childDir);
        AtomicFiles.writeString(evalFile, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
        return o;
    }

    private int[][] calibrationCache;

    private int[][] calibration() {
        if (calibrationCache == null) calibrationCache = ctx.calibration();
        return calibrationCache;
    }

    /** Every number the report shows for one model, from one harness. */
    static ObjectNode measure(Checkpoint ck, int[][] held, Scorer.Reference ref, CostModel cost, Workload w, RunConfig.Compress cc) {
        ModelConfig c = ck.config();
        Map<String, Double> m = Scorer.metrics(ref, Scorer.run(ck, held), held, c.vocabSize(), c.dim());
        Decoder d = new Decoder(ck);
        double nll = 0;
        int n = 0;
        for (int[] seq : held) {
            Perplexity.Result r = Perplexity.evaluate(d, seq, seq.length, null);
            nll += r.meanNll() * r.predicted();
            n += r.predicted();
        }
        Throughput.Result tp = Throughput.measure(d, cc.prompt(), cc.generate(), cc.reps());
        BlockCost pred = cost.model(c, w);
        ObjectNode o = JSON.createObjectNode();
        o.put("kl_div", m.get("metrics.kl_div"));
        o.put("top1_agreement", m.get("metrics.top1_agreement"));
        o.put("hidden_cosine", m.get("metrics.hidden_cosine"));
        o.put("lm_loss", nll / n);
        o.put("perplexity", Math.exp(nll / n));
        o.put("parameters", ck.parameterCount());
        o.put("measured_prefill_tokens_per_s", tp.prefillTokensPerSecond());
        o.put("measured_decode_tokens_per_s", tp.decodeTokensPerSecond());
        o.put("predicted_runtime_ms", pred.runtimeMs());
        o.put("predicted_memory_mib", pred.memoryMib());
        o.put("predicted_tokens_per_s", 1000.0 * w.batch() * w.generationLength() / pred.runtimeMs());
        ArrayNode per = o.putArray("predicted_layer_runtime_ms");
        for (BlockConfig b : c.blocks()) per.add(cost.block(c, b, w).runtimeMs());
        return o;
    }
}
