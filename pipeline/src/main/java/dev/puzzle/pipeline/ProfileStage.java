package dev.puzzle.pipeline;

import dev.puzzle.ffnfusion.FfnFusion;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.blocklibrary.BlockLibrary;
import dev.puzzle.blocklibrary.BlockLibraryJson;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.hardware.BlockCost;
import dev.puzzle.hardware.CostModel;
import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.hardware.MeasuredCostModel;
import dev.puzzle.hardware.RooflineCostModel;
import dev.puzzle.hardware.TokenRate;
import dev.puzzle.hardware.Workload;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * The profile stage: the cost of every candidate block of the search space on a hardware profile and
 * workload (roofline, or measured on this machine), written to {@code RUN_DIR/profile/block_costs.json}
 * (block_library.json layout, stats only) and {@code model_costs.json} (embeddings, head, parent totals).
 * A MoE parent's routing is measured first on the calibration text ({@link MoeRouting}, building the
 * library stage's activation cache) so that each layer's MoE candidates cost the experts they touch.
 */
public final class ProfileStage {
    private ProfileStage() {}

    /** What profile found: the distinct blocks' stats and the fixed and total costs, for a table. */
    public record Result(String hardware, String costModel, Workload workload, Map<String, Map<String, Double>> blocks, BlockCost fixed, BlockCost total,
                         Calibration calibration) {
        public double parentTokensPerSecond() {
            return TokenRate.tokensPerSecond(total.runtimeMs(), workload);
        }

        /** The human table the profile command prints. */
        public List<String> table(String parentSource) {
            Workload w = workload;
            List<String> out = new ArrayList<>();
            out.add(String.format(Locale.ROOT, "%s on %s (%s), batch %d, prefill %d, generate %d, weights %s, KV %s", parentSource, hardware, costModel,
                    w.batch(), w.prefillLength(), w.generationLength(), w.weightDtype(), w.kvDtype()));
            out.add(String.format(Locale.ROOT, "%12s %12s %12s %12s %12s  %s", "params", "memory MiB", "prefill ms", "decode ms", "runtime ms", "block"));
            for (var e : blocks.entrySet()) {
                Map<String, Double> s = e.getValue();
                out.add(String.format(Locale.ROOT, "%12.0f %12.4f %12.4f %12.4f %12.4f  %s", s.get(LibraryKeys.NUM_PARAMS), s.get(LibraryKeys.MEMORY_MIB),
                        s.get(LibraryKeys.PREFILL_MS), s.get(LibraryKeys.DECODE_MS), s.get(LibraryKeys.RUNTIME_MS), e.getKey()));
            }
            out.add(String.format(Locale.ROOT, "embeddings + head: %,d params, %.4f MiB, %.4f ms", fixed.params(), fixed.memoryMib(), fixed.runtimeMs()));
            out.add(String.format(Locale.ROOT, "parent total: %,d params, %.4f MiB, %.4f ms, %.1f tokens/s", total.params(), total.memoryMib(), total.runtimeMs(),
                    parentTokensPerSecond()));
            if (calibration != null) out.add(calibration.line());
            return out;
        }
    }

    /**
     * The run's cost model: measured here (on the GPU with CUDA events under the CUDA backend; in llama.cpp for
     * {@code llamacpp-cpu}), or the profile's roofline. Close it after use (the llama.cpp one holds a process).
     */
    public static CostModel costModel(Run run, HardwareProfile hw) {
        if (!run.config.measured()) return new RooflineCostModel(hw);
        if (LlamaCppProfile.applies(run.config)) return LlamaCppProfile.costModel(run);
        return run.backend.gpu().<CostModel>map(gpu -> new dev.puzzle.hardware.DeviceCostModel(gpu, 3)).orElseGet(() -> new MeasuredCostModel(run.backend, 3));
    }

    /** How whole models are measured beside a cost model: in llama.cpp for its cost model, else this toolkit's decoder. */
    static WholeModelTimer timer(Run run, CostModel model) {
        return model instanceof dev.puzzle.hardware.LlamaCppCostModel l ? WholeModelTimer.llamaCpp(run, l) : WholeModelTimer.toolkit(run);
    }

    /** Costs every candidate on {@code hw} and writes the two files. */
    public static Result run(Run run, HardwareProfile hw, Listener listener) throws IOException {
        LlamaCppProfile.check(run);
        CostModel model = costModel(run, hw);
        try {
            return run(run, hw, model, listener);
        } finally {
            if (model instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    // a finished timing process: nothing of the run's depends on its exit
                }
            }
        }
    }

    private static Result run(Run run, HardwareProfile hw, CostModel model, Listener listener) throws IOException {
        RunConfig rc = run.config;
        ModelConfig parent = run.parent.config();
        Workload w = rc.workload();
        // Every distinct block is costed once, its attention and FFN parts separately for the split stats.
        Map<BlockConfig, Map<String, Double>> stats = new LinkedHashMap<>();
        List<List<SearchSpace.Candidate>> perLayer = new ArrayList<>();
        for (int l = 0; l < parent.numLayers(); l++) {
            perLayer.add(run.space.candidates(parent, l));
            for (SearchSpace.Candidate c : perLayer.get(l)) stats.putIfAbsent(c.block(), null);
        }
        // A MoE block's time depends on its layer's routing, measured on the calibration text (roofline only:
        // the measured model times random weights); every other block costs the same in every layer.
        Map<Integer, Map<FfnConfig.Moe, double[]>> routing = rc.measured() ? Map.of()
                : MoeRouting.measure(run, listener.progress("routing cache", parent.numLayers())::accept);
        LongConsumer progress = listener.progress("profile", stats.size());
        int done = 0;
        for (BlockConfig b : new ArrayList<>(stats.keySet())) {
            stats.put(b, stats(model, parent, b, w, null));
            progress.accept(++done);
        }
        BlockCost alone = model.embeddingsAndHead(parent, w);
        // Measured on the CPU: the parts made to add up to whole models measured here (Calibration).
        Calibration cal = rc.measured() && run.backend.gpu().isEmpty() && routing.isEmpty()
                ? Calibration.measure(run, stats, alone.runtimeMs(), w, timer(run, model), listener.progress("calibrate", Calibration.CHILDREN + 1)) : null;
        if (cal != null) stats.replaceAll((b, st) -> cal.scaled(st));
        List<BlockLibrary.Replacement> reps = new ArrayList<>();
        BlockCost total = cal == null ? alone : times(alone, cal.fixedMs() / Math.max(1e-12, alone.runtimeMs()));
        BlockCost fixed = total;
        for (int l = 0; l < parent.numLayers(); l++) {
            Map<FfnConfig.Moe, double[]> layerRouting = routing.getOrDefault(l, Map.of());
            for (SearchSpace.Candidate c : perLayer.get(l)) {
                double[] p = layerRouting.get(c.block().ffn()); // MoE variants only
                Map<String, Double> s = p == null ? stats.get(c.block()) : stats(model, parent, c.block(), w, p);
                reps.add(BlockLibrary.Replacement.of(parent, l, c.block(), s));
            }
            BlockConfig own = parent.parentBlock(l);
            BlockCost ownCost = model.block(parent, own, w, layerRouting.get(own.ffn()));
            total = total.plus(cal == null ? ownCost : times(ownCost, cal.scale()));
        }
        for (FfnFusion.Span f : Fusion.of(run, listener.progress("fusion cache", parent.numLayers())::accept).spans()) {
            Map<String, Double> sum = new LinkedHashMap<>(); // the wide FFN's layer plus its both-no-op layers (zero)
            for (BlockConfig b : f.blocks()) stats(model, parent, b, w, null).forEach((k, v) -> sum.merge(k, v, Double::sum));
            reps.add(new BlockLibrary.Replacement(f.first(), f.span(), f.name(), f.blocks(), cal == null ? sum : cal.scaled(sum)));
        }
        BlockLibraryJson.write(new BlockLibrary(parent.numLayers(), reps, "profile"), run.dir.blockCosts());
        String costModelName = rc.measured() ? "measured" : "roofline";
        ObjectMapper m = new ObjectMapper();
        ObjectNode mc = m.createObjectNode();
        mc.put("hardware", hw.name());
        mc.put("cost_model", costModelName);
        if (rc.measured()) mc.put("measured_on", model instanceof dev.puzzle.hardware.LlamaCppCostModel ? "llama.cpp (node-llama-cpp, "
                + LlamaCppProfile.THREADS + " thread)" : run.backend.name());
        ObjectNode wj = mc.putObject("workload");
        wj.put("batch", w.batch()).put("prefill_length", w.prefillLength()).put("generation_length", w.generationLength())
                .put("weight_dtype", w.weightDtype()).put("kv_dtype", w.kvDtype());
        ObjectNode fj = mc.putObject("embeddings_and_head");
        fixed.stats().forEach((k, v) -> fj.put(LibraryKeys.bare(k), v));
        if (cal != null) {
            mc.putObject("calibration").put("whole_models", cal.models()).put("scale", cal.scale()).put("fixed_ms", cal.fixedMs())
                    .put("embeddings_and_head_alone_ms", cal.uncalibratedFixedMs()).put("residual_rms", cal.residual());
        }
        ObjectNode pj = mc.putObject("parent_total");
        total.stats().forEach((k, v) -> pj.put(LibraryKeys.bare(k), v));
        pj.put("throughput_tokens_per_s", TokenRate.tokensPerSecond(total.runtimeMs(), w));
        AtomicFiles.writeString(run.dir.modelCosts(), m.writerWithDefaultPrettyPrinter().writeValueAsString(mc) + "\n");
        Map<String, Map<String, Double>> named = new LinkedHashMap<>();
        stats.forEach((b, s) -> named.put(BlockNames.library(parent, b), s));
        return new Result(hw.name(), costModelName, w, named, fixed, total, cal);
    }

    /** A cost with its times multiplied by f. */
    private static BlockCost times(BlockCost c, double f) {
        return new BlockCost(c.params(), c.weightBytes(), c.kvCacheBytes(), c.prefillMs() * f, c.decodeMs() * f, c.kvHeads());
    }

    /** Stats of one block in the layout of NVIDIA's library: totals, then the attention and FFN parts. */
    static Map<String, Double> stats(CostModel model, ModelConfig parent, BlockConfig b, Workload w, double[] routing) {
        Map<String, Double> s = new LinkedHashMap<>(model.block(parent, b, w, routing).stats());
        BlockCost a = model.block(parent, new BlockConfig(b.attention(), new FfnConfig.NoOp()), w);
        BlockCost f = model.block(parent, new BlockConfig(new AttentionConfig.NoOp(), b.ffn()), w, routing);
        switch (b.ffn().unquantized()) { // a quantized MoE routes as its base
            case FfnConfig.Moe m -> s.put(LibraryKeys.MOE_ACTIVE_EXPERTS, RooflineCostModel.activeExperts(m.numExperts(), m.topK(), w.batch(), routing));
            case FfnConfig.Dense d -> { }
            case FfnConfig.Relu2 r -> { }
            case FfnConfig.Linear x -> { }
            case FfnConfig.NoOp n -> { }
            case FfnConfig.Quantized q -> throw new IllegalStateException("unwrapped above");
        }
        s.put(LibraryKeys.FFN_INTERMEDIATE_SIZE, (double) (b.ffn().denseWidth() + b.ffn().relu2Width()));
        s.put(LibraryKeys.ATTENTION_MEMORY_MIB, a.memoryMib());
        s.put(LibraryKeys.ATTENTION_RUNTIME_MS, a.runtimeMs());
        s.put(LibraryKeys.ATTENTION_NUM_PARAMS, (double) a.params());
        s.put(LibraryKeys.FFN_MEMORY_MIB, f.memoryMib());
        s.put(LibraryKeys.FFN_RUNTIME_MS, f.runtimeMs());
        s.put(LibraryKeys.FFN_NUM_PARAMS, (double) f.params());
        return s;
    }
}
