package dev.puzzle.hardware;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.config.ConfigNode;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Profiles, workloads, and the cost models' bookkeeping. */
class HardwareTest {
    static final ModelConfig SMALL = ModelConfig.builder("LlamaForCausalLM").dim(64).layers(5).heads(8).kvHeads(4).intermediateSize(172).vocabSize(512).maxSeqLen(512).normEps(1e-5f).ropeTheta(1e4f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(true).qkvBias(false).build();

    static ConfigNode yaml(String s) {
        return ConfigNode.parse("test.yaml", new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void everyBuiltInProfileLoads() {
        for (String n : HardwareProfile.BUILT_IN) {
            HardwareProfile p = HardwareProfile.load(n);
            assertTrue(p.memoryBandwidthGbs() > 500 && p.memoryGib() >= 24 && p.flopsPerSecond("bf16") > 1e14, n);
        }
        assertEquals(4800, HardwareProfile.load("h200").memoryBandwidthGbs());
        // The A100 has no FP8 tensor cores: fp8 computes at the bf16 peak.
        HardwareProfile a100 = HardwareProfile.load("a100-80gb");
        assertEquals(a100.flopsPerSecond("bf16"), a100.flopsPerSecond("fp8"));
    }

    @Test
    void badProfilesAreNamed(@TempDir Path tmp) throws IOException {
        String m = assertThrows(PuzzleException.class, () -> HardwareProfile.parse(yaml(
                "name: x\npeak_tflops: {bf16: 10}\nmemory_bandwidth_gbs: 100\nmemory_gib: 8\nbandwith: 3\n"))).getMessage();
        assertTrue(m.contains("bandwith") && m.contains("unknown key"), m);
        m = assertThrows(PuzzleException.class, () -> HardwareProfile.parse(yaml(
                "name: x\npeak_tflops: {bf16: -1}\nmemory_bandwidth_gbs: 100\nmemory_gib: 8\n"))).getMessage();
        assertTrue(m.contains("peak_tflops.bf16") && m.contains("-1"), m);
        m = assertThrows(PuzzleException.class, () -> HardwareProfile.load("tpu-v9")).getMessage();
        assertTrue(m.contains("tpu-v9") && m.contains("h100-80gb-sxm"), m);
        Path f = tmp.resolve("p.yaml");
        Files.writeString(f, "name: mine\npeak_tflops: {fp32: 1}\nmemory_bandwidth_gbs: 50\nmemory_gib: 16\n");
        assertEquals("mine", HardwareProfile.load(f.toString()).name());
        m = assertThrows(PuzzleException.class, () -> Workload.parse(yaml("batch: 0\ngeneration_length: 5\n"))).getMessage();
        assertTrue(m.contains("batch") && m.contains("0"), m);
        m = assertThrows(PuzzleException.class, () -> Workload.parse(yaml("batch: 1\ngeneration_length: 5\nkv_dtype: int4\n"))).getMessage();
        assertTrue(m.contains("kv_dtype") && m.contains("int4"), m);
    }

    @Test
    void kvCacheAndParameterCounting() {
        RooflineCostModel r = new RooflineCostModel(HardwareProfile.load("h100-80gb-sxm"));
        Workload w = new Workload(8, 100, 28, "bf16", "fp8");
        BlockCost parent = r.block(SMALL, BlockConfig.parent(4, 172), w);
        // Attention: q,o 64×64 each, k,v 64×32 each, two norms; FFN 3×64×172.
        assertEquals(2 * 64 * 64 + 2 * 64 * 32 + 64 + 3 * 64 * 172 + 64, parent.params());
        assertEquals(parent.params() * 2, parent.weightBytes());
        // KV cache: batch 8 × 128 positions × (k, v) × 4 heads × 8 dims × 1 byte.
        assertEquals(8L * 128 * 2 * 32, parent.kvCacheBytes());
        BlockCost window = r.block(SMALL, new BlockConfig(new AttentionConfig.Window(4, 16), new FfnConfig.Dense(172)), w);
        assertEquals(8L * 16 * 2 * 32, window.kvCacheBytes(), "window-bounded");
        assertEquals(parent.params(), window.params());
        BlockCost lin = r.block(SMALL, new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.NoOp()), w);
        assertEquals(0, lin.kvCacheBytes());
        assertEquals(64 * 64 + 64, lin.params());
        assertEquals(BlockCost.ZERO, r.block(SMALL, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp()), w));
        // Fewer KV heads: smaller cache, less time.
        BlockCost kv1 = r.block(SMALL, BlockConfig.parent(1, 172), w);
        assertTrue(kv1.kvCacheBytes() * 4 == parent.kvCacheBytes() && kv1.runtimeMs() < parent.runtimeMs());
        // Model total = layers + embeddings/head.
        BlockCost total = r.model(SMALL, w);
        assertEquals(5 * parent.params() + 512 * 64 + 64, total.params());
    }

    @Test
    void measuredModelCountsLikeTheRoofline() {
        MeasuredCostModel m = new MeasuredCostModel(dev.puzzle.core.backend.Backend.cpu(), new MeasuredCostModel.Timing(1, 0, System::nanoTime));
        RooflineCostModel r = new RooflineCostModel(HardwareProfile.load("h100-80gb-sxm"));
        Workload w = new Workload(2, 16, 8, "fp32", "fp32");
        for (BlockConfig b : new BlockConfig[]{BlockConfig.parent(4, 172), new BlockConfig(new AttentionConfig.Window(2, 4), new FfnConfig.Linear())}) {
            BlockCost mc = m.block(SMALL, b, w), rc = r.block(SMALL, b, w);
            assertEquals(rc.params(), mc.params());
            assertEquals(rc.memoryMib(), mc.memoryMib(), 1e-12);
        }
    }

    /** Kernels whose "clock" is the multiply-adds their GEMMs have done: a cost model timed on it measures work, deterministically. */
    static final class CountingKernels extends dev.puzzle.core.tensor.VectorKernels {
        final java.util.concurrent.atomic.AtomicLong macs = new java.util.concurrent.atomic.AtomicLong();

        CountingKernels() {
            super(new dev.puzzle.core.tensor.Parallel(1));
        }

        @Override
        public void gemm(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                         float[] c, int cOff, int ldc, boolean accumulate) {
            macs.addAndGet((long) m * n * k);
            super.gemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
        }
    }

    /**
     * The measured model times the block it is asked about, at the workload's shapes: on a clock that counts the GEMMs'
     * multiply-adds (1 "ns" each), a block's prefill and decode "times" are exactly its projections' work — a dense FFN
     * 3·D·F per token, a linear map D·D — for the prompt and for every generated token, times the batch, the
     * embeddings and head (the classifier at the last prompt position and at every step) subtracted; the head alone is V·D.
     */
    @Test
    void measuredModelTimesExactlyTheBlocksWorkAtTheWorkloadsShapes() {
        CountingKernels k = new CountingKernels();
        dev.puzzle.core.backend.Backend counting = new dev.puzzle.core.backend.Backend() {
            public String name() {
                return "counting";
            }

            public dev.puzzle.core.tensor.Kernels kernels() {
                return k;
            }
        };
        MeasuredCostModel m = new MeasuredCostModel(counting, new MeasuredCostModel.Timing(2, 0, k.macs::get));
        int D = 64, F = 172, V = 512, B = 3, P = 16, G = 8;
        Workload w = new Workload(B, P, G, "fp32", "fp32");
        double msPerMac = 1e-6;
        BlockCost dense = m.block(SMALL, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(F)), w);
        assertEquals(3.0 * D * F * P * msPerMac * B, dense.prefillMs(), 1e-12);
        assertEquals(3.0 * D * F * G * msPerMac * B, dense.decodeMs(), 1e-12);
        BlockCost half = m.block(SMALL, new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(F / 2)), w);
        assertEquals(3.0 * D * (F / 2) * (P + G) * msPerMac * B, half.prefillMs() + half.decodeMs(), 1e-12);
        BlockCost linear = m.block(SMALL, new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.NoOp()), w);
        assertEquals((double) D * D * P * msPerMac * B, linear.prefillMs(), 1e-12);
        assertEquals((double) D * D * G * msPerMac * B, linear.decodeMs(), 1e-12);
        BlockCost head = m.embeddingsAndHead(SMALL, w);
        assertEquals((double) V * D * msPerMac * B, head.prefillMs(), 1e-12);
        assertEquals((double) V * D * G * msPerMac * B, head.decodeMs(), 1e-12);
        assertEquals(0.0, m.block(SMALL, BlockConfig.EMPTY, w).runtimeMs(), 0.0, "the no-op block does nothing");
    }

    @Test
    void localCpuIsMeasured() {
        HardwareProfile p = HardwareProfile.load("local-cpu");
        assertTrue(p.flopsPerSecond("fp32") > 1e9, "at least a GFLOP/s");
        assertTrue(p.memoryBandwidthGbs() > 0.5 && p.memoryGib() > 0.5);
    }

    /** Expected active experts: Σ 1 − (1 − p)^B, by hand; skewed routing touches fewer experts and costs less at small batch. */
    @Test
    void moeCostsCountTheExpertsABatchTouches() {
        assertEquals(8 * (1 - Math.pow(0.75, 1)), RooflineCostModel.activeExperts(8, 2, 1, null), 1e-12);
        assertEquals(2.0, RooflineCostModel.activeExperts(8, 2, 1, new double[]{0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25}), 1e-12);
        double[] skewed = {1, 1, 0, 0, 0, 0, 0, 0};
        assertEquals(2.0, RooflineCostModel.activeExperts(8, 2, 64, skewed), 1e-12, "two experts take every token");
        assertEquals(8 * (1 - Math.pow(0.75, 64)), RooflineCostModel.activeExperts(8, 2, 64, null), 1e-12);
        dev.puzzle.core.model.ModelConfig m = new dev.puzzle.core.model.ModelConfig("MixtralForCausalLM", 512, 8, 64, 8, 1024, 4096, 4096, 1e-5f, 1e6f,
                dev.puzzle.core.model.RopeStyle.HALF_SPLIT, false, false,
                java.util.List.of(new dev.puzzle.core.model.BlockConfig(new dev.puzzle.core.model.AttentionConfig.NoOp(),
                        new dev.puzzle.core.model.FfnConfig.Moe(8, 2, 1024, true, 0))));
        RooflineCostModel rm = new RooflineCostModel(HardwareProfile.load("h100-80gb-sxm"));
        Workload w = new Workload(8, 0, 128, "bf16", "bf16");
        BlockCost uniform = rm.block(m, m.blocks().get(0), w), measured = rm.block(m, m.blocks().get(0), w, skewed);
        assertEquals(uniform.memoryMib(), measured.memoryMib(), 1e-12, "memory counts every kept expert");
        assertTrue(measured.runtimeMs() < 0.6 * uniform.runtimeMs(), measured.runtimeMs() + " vs " + uniform.runtimeMs());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RooflineCostModel.activeExperts(8, 2, 4, new double[3]));
        assertTrue(e.getMessage().contains("3 experts"), e.getMessage());
    }
}
