package dev.puzzle.hardware;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The shipped H100 profile's roofline against NVIDIA's H100 measurements of Llama-3.3-70B blocks (the
 * Puzzle block library: fp8, batch 256, sequence 1200): the 16 variants of a layer in the same runtime
 * order, memory within 5%, and the mean absolute percentage error printed. The profile's efficiencies
 * were calibrated on this same data (see h100-80gb-sxm.yaml), so its runtime error here is in-sample.
 */
class RooflineVsH100Test {
    /** Llama-3.3-70B-Instruct: hidden 8192, 80 layers, 64 heads of 128, 8 KV heads, FFN 28672, vocabulary 128256, RoPE θ 500000. */
    static final ModelConfig LLAMA_70B = ModelConfig.builder("LlamaForCausalLM").dim(8192).layers(80).heads(64).kvHeads(8).intermediateSize(28672).vocabSize(128256).maxSeqLen(131072).normEps(1e-5f).ropeTheta(500000f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(false).qkvBias(false).build();

    record Measured(String name, BlockConfig block, double runtimeMs, double memoryMib, double params) {}

    static List<Measured> layer0() throws IOException {
        Path p = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize()
                .resolve("data/llama-3.3-70b-block-library/block_library.json");
        Assumptions.assumeTrue(Files.exists(p), "skipped: " + p + " is absent (../shared not laid out beside the repository)");
        JsonNode layer = new ObjectMapper().readTree(p.toFile()).get("layer_0");
        List<Measured> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = layer.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode s = e.getValue().get("stats");
            int kv = s.get("num_kv_heads").asInt(), f = s.get("ffn_intermediate_size").asInt();
            BlockConfig b = new BlockConfig(kv == 0 ? new AttentionConfig.NoOp() : new AttentionConfig.Gqa(kv),
                    f == 0 ? new FfnConfig.NoOp() : new FfnConfig.Dense(f));
            out.add(new Measured(e.getKey(), b, s.get("runtime_ms").asDouble(), s.get("memory_mib").asDouble(), s.get("num_params").asDouble()));
        }
        return out;
    }

    /** The library's workload: batch 256 generating 1,200 tokens each, fp8 weights and KV cache. */
    static final Workload WORKLOAD = new Workload(256, 0, 1200, "fp8", "fp8");

    @Test
    void ordersTheSixteenVariantsLikeTheMeasurementsAndPrintsMape() throws IOException {
        List<Measured> ms = layer0();
        assertEquals(16, ms.size());
        RooflineCostModel roofline = new RooflineCostModel(HardwareProfile.load("h100-80gb-sxm"));
        double ape = 0;
        int n = 0;
        List<double[]> pairs = new ArrayList<>();
        System.out.println("H100 roofline vs NVIDIA's measurement, Llama-3.3-70B layer variants (fp8, batch 256, 1200 tokens):");
        for (Measured m : ms) {
            BlockCost c = roofline.block(LLAMA_70B, m.block(), WORKLOAD);
            assertEquals(m.params(), c.params(), 0.0, "parameter count of " + m.name());
            pairs.add(new double[]{m.runtimeMs(), c.runtimeMs()});
            // Memory (weights + KV cache) is counted, not calibrated: it must agree on its own.
            assertEquals(m.memoryMib(), c.memoryMib(), 0.05 * Math.max(1, m.memoryMib()), "memory of " + m.name());
            if (m.runtimeMs() > 0) {
                ape += Math.abs(c.runtimeMs() - m.runtimeMs()) / m.runtimeMs();
                n++;
            }
            System.out.printf("  %-40s measured %7.1f ms  roofline %7.1f ms  memory %7.1f vs %7.1f MiB%n",
                    m.block().toString(), m.runtimeMs(), c.runtimeMs(), m.memoryMib(), c.memoryMib());
        }
        double mape = 100 * ape / n;
        System.out.printf("  runtime MAPE %.1f%% over %d variants%n", mape, n);
        // Calibrated on these very measurements (in-sample, stated in the profile): 2.7% when made; a change to the model that loses it fails here.
        assertTrue(mape < 4.0, "runtime MAPE " + mape + "% against NVIDIA's H100 measurements");
        // Same order: sorting by the roofline's runtime sorts the measurements too.
        pairs.sort(Comparator.comparingDouble(x -> x[1]));
        for (int i = 1; i < pairs.size(); i++) {
            assertTrue(pairs.get(i)[0] >= pairs.get(i - 1)[0], "order differs: roofline " + pairs.get(i - 1)[1] + " < " + pairs.get(i)[1]
                    + " but measured " + pairs.get(i - 1)[0] + " > " + pairs.get(i)[0]);
        }
    }
}
