package dev.puzzle.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.hardware.BlockCost;
import dev.puzzle.hardware.CostModel;
import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.hardware.MeasuredCostModel;
import dev.puzzle.hardware.RooflineCostModel;
import dev.puzzle.hardware.Workload;
import dev.puzzle.mip.BlockLibrary;
import dev.puzzle.mip.BlockLibrary.Replacement;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code puzzle profile CONFIG}: the cost of every candidate block on a hardware profile and workload. */
@Command(name = "profile", mixinStandardHelpOptions = true,
        header = "Cost every candidate block of the search space on a hardware profile and workload.",
        description = "Reads the run config's parent, search_space, hardware, workload and cost_model (roofline, or measured: the real kernels timed here). Writes RUN_DIR/profile/block_costs.json (block_library.json layout, stats only) and RUN_DIR/profile/model_costs.json (embeddings, head, the parent's totals), and prints a table.",
        footer = {"", "Example:", "  puzzle profile examples/stories260K/puzzle.yaml"})
final class ProfileCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Option(names = "--hardware", paramLabel = "PROFILE", description = "Override the config's hardware profile.")
    String hardware;

    @Override
    public Integer call() throws Exception {
        RunContext ctx = new RunContext(config);
        HardwareProfile hw = HardwareProfile.load(hardware != null ? hardware : ctx.rc.hardware());
        run(ctx.rc, ctx.parent, ctx.space, hw, spec.commandLine().getOut(), spec.commandLine().getErr());
        return ExitCodes.OK;
    }

    /** Costs every candidate and writes RUN_DIR/profile/{block_costs,model_costs}.json; prints a table to {@code out}. */
    static void run(RunConfig rc, Checkpoint parentCk, SearchSpace space, HardwareProfile hw, PrintWriter out, PrintWriter err) throws Exception {
        ModelConfig parent = parentCk.config();
        Workload w = rc.workload();
        CostModel model = rc.measured() ? new MeasuredCostModel(3) : new RooflineCostModel(hw);
        // Every distinct block is costed once, its attention and FFN parts separately for the split stats.
        Map<BlockConfig, Map<String, Double>> stats = new LinkedHashMap<>();
        List<Replacement> reps = new ArrayList<>();
        List<List<SearchSpace.Candidate>> perLayer = new ArrayList<>();
        int distinct = 0;
        for (int l = 0; l < parent.numLayers(); l++) {
            perLayer.add(space.candidates(parent, l));
            for (SearchSpace.Candidate c : perLayer.get(l)) if (!stats.containsKey(c.block())) {
                stats.put(c.block(), null);
                distinct++;
            }
        }
        Progress progress = new Progress(err, "profile", distinct);
        int done = 0;
        for (BlockConfig b : new ArrayList<>(stats.keySet())) {
            stats.put(b, stats(model, parent, b, w));
            progress.update(++done);
        }
        for (int l = 0; l < parent.numLayers(); l++) {
            for (SearchSpace.Candidate c : perLayer.get(l)) reps.add(new Replacement(reps.size(), l, 1, c.name(), stats.get(c.block())));
        }
        Path dir = rc.runDir().resolve("profile");
        new BlockLibrary(parent.numLayers(), reps, "profile").write(dir.resolve("block_costs.json"));
        BlockCost fixed = model.embeddingsAndHead(parent, w);
        BlockCost total = model.model(parent, w);
        ObjectMapper m = new ObjectMapper();
        ObjectNode mc = m.createObjectNode();
        mc.put("hardware", hw.name());
        mc.put("cost_model", rc.measured() ? "measured" : "roofline");
        ObjectNode wj = mc.putObject("workload");
        wj.put("batch", w.batch()).put("prefill_length", w.prefillLength()).put("generation_length", w.generationLength())
                .put("weight_dtype", w.weightDtype()).put("kv_dtype", w.kvDtype());
        ObjectNode fj = mc.putObject("embeddings_and_head");
        fixed.stats().forEach((k, v) -> fj.put(k.substring("stats.".length()), v));
        ObjectNode pj = mc.putObject("parent_total");
        total.stats().forEach((k, v) -> pj.put(k.substring("stats.".length()), v));
        pj.put("throughput_tokens_per_s", 1000.0 * w.batch() * w.generationLength() / Math.max(1e-12, total.runtimeMs()));
        AtomicFiles.writeString(dir.resolve("model_costs.json"), m.writerWithDefaultPrettyPrinter().writeValueAsString(mc) + "\n");

        out.printf(Locale.ROOT, "%s on %s (%s), batch %d, prefill %d, generate %d, weights %s, KV %s%n", parentCk.source(), hw.name(),
                rc.measured() ? "measured" : "roofline", w.batch(), w.prefillLength(), w.generationLength(), w.weightDtype(), w.kvDtype());
        out.printf(Locale.ROOT, "%12s %12s %12s %12s %12s  %s%n", "params", "memory MiB", "prefill ms", "decode ms", "runtime ms", "block");
        for (var e : stats.entrySet()) {
            Map<String, Double> s = e.getValue();
            out.printf(Locale.ROOT, "%12.0f %12.4f %12.4f %12.4f %12.4f  %s%n", s.get("stats.num_params"), s.get("stats.memory_mib"), s.get("stats.prefill_ms"),
                    s.get("stats.decode_ms"), s.get("stats.runtime_ms"), SearchSpace.name(parent, e.getKey().attention(), e.getKey().ffn()));
        }
        out.printf(Locale.ROOT, "embeddings + head: %,d params, %.4f MiB, %.4f ms%n", fixed.params(), fixed.memoryMib(), fixed.runtimeMs());
        out.printf(Locale.ROOT, "parent total: %,d params, %.4f MiB, %.4f ms, %.1f tokens/s%n", total.params(), total.memoryMib(), total.runtimeMs(),
                1000.0 * w.batch() * w.generationLength() / Math.max(1e-12, total.runtimeMs()));
        out.printf("wrote %s and %s%n", dir.resolve("block_costs.json"), dir.resolve("model_costs.json"));
    }

    /** Stats of one block in the layout of NVIDIA's library: totals, then the attention and FFN parts. */
    static Map<String, Double> stats(CostModel model, ModelConfig parent, BlockConfig b, Workload w) {
        Map<String, Double> s = new LinkedHashMap<>(model.block(parent, b, w).stats());
        BlockCost a = model.block(parent, new BlockConfig(b.attention(), new FfnConfig.NoOp()), w);
        BlockCost f = model.block(parent, new BlockConfig(new AttentionConfig.NoOp(), b.ffn()), w);
        s.put("stats.ffn_intermediate_size", (double) (b.ffn() instanceof FfnConfig.Dense d ? d.intermediateSize() : 0));
        s.put("stats.attention_memory_mib", a.memoryMib());
        s.put("stats.attention_runtime_ms", a.runtimeMs());
        s.put("stats.attention_num_params", (double) a.params());
        s.put("stats.ffn_memory_mib", f.memoryMib());
        s.put("stats.ffn_runtime_ms", f.runtimeMs());
        s.put("stats.ffn_num_params", (double) f.params());
        return s;
    }
}
