package dev.puzzle.hardware;

import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.backend.CudaBackend;
import dev.puzzle.core.cuda.CudaKernels;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.cuda.EmulatedDevice;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The measured cost model of the CUDA backend, run on the emulated device (its times are host times there,
 * so only their presence is checked, not their size): every variant with a device block is timed through the
 * kernels it runs on a GPU (prefill attention, decode attention over the cache, the BF16 GEMMs), the no-op
 * costs nothing, parameters and memory are the roofline's counts, and a MoE block is refused with one line.
 */
class DeviceCostModelTest {
    static EmulatedDevice dev;
    static DeviceCostModel model;
    static final ModelConfig M = new ModelConfig("LlamaForCausalLM", 32, 4, 8, 2, 64, 61, 64, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, true, false,
            List.of(new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(64))));
    static final Workload W = new Workload(2, 8, 4, "bf16", "bf16");

    @BeforeAll
    static void open() throws Exception {
        dev = new EmulatedDevice();
        model = new DeviceCostModel(new CudaBackend(dev, DeviceOps.Precision.BF16, new CudaKernels(dev, new Parallel(2))).gpu().orElseThrow(), 1);
    }

    @Test
    void timesEveryDeviceVariantThroughItsKernels() {
        RooflineCostModel counts = new RooflineCostModel(HardwareProfile.load("h200"));
        Map<BlockConfig, List<String>> kernels = Map.of(
                new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(64)), List.of("attn_fwd", "attn_decode", "swiglu_fwd", "gemm_bf16"),
                new BlockConfig(new AttentionConfig.Window(1, 4, false), new FfnConfig.Dense(16)), List.of("attn_fwd", "attn_decode"),
                new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.Linear()), List.of("rmsnorm_fwd", "gemm_bf16"),
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(32)), List.of("swiglu_fwd"));
        for (var e : kernels.entrySet()) {
            dev.launches.clear();
            BlockCost c = model.block(M, e.getKey(), W), r = counts.block(M, e.getKey(), W);
            assertTrue(c.prefillMs() > 0 && c.decodeMs() > 0 && Double.isFinite(c.runtimeMs()), e.getKey() + ": " + c);
            for (String k : e.getValue()) assertTrue(dev.launches.containsKey(k), e.getKey() + " ran " + dev.launches.keySet() + ", not " + k);
            assertEquals(r.params(), c.params());
            assertEquals(r.weightBytes(), c.weightBytes());
            assertEquals(r.kvCacheBytes(), c.kvCacheBytes());
        }
        BlockCost none = model.block(M, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp()), W);
        assertEquals(0, none.runtimeMs());
        dev.launches.clear();
        BlockCost head = model.embeddingsAndHead(M, W);
        assertTrue(head.prefillMs() > 0 && head.decodeMs() > 0 && dev.launches.containsKey("gemm_bf16"), head + " " + dev.launches.keySet());
    }

    @Test
    void moeIsRefusedWithOneLine() {
        BlockConfig moe = new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Moe(4, 2, 16, true, 0));
        PuzzleException e = assertThrows(PuzzleException.class, () -> model.block(M, moe, W));
        assertEquals("cost_model measured on the GPU times the blocks whose ops have device twins; "
                + "mixture-of-experts FFNs have no device kernels: use cost_model: roofline", e.getMessage());
    }
}
