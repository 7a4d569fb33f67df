package dev.puzzle.bld;

import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.backend.CudaBackend;
import dev.puzzle.core.cuda.CudaKernels;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.cuda.EmulatedDevice;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replace-1-block scoring under the CUDA backend — the decoder's block ops on host arrays, every GEMM on the
 * (emulated) device — gives the CPU's scores.
 */
class CudaScoreTest {
    @Test
    void scoresEqualTheCpuPath() throws Exception {
        ModelConfig c = BldFixtures.parent(2, null);
        Checkpoint parent = RandomWeights.of(c, 11);
        BlockConfig b = new BlockConfig(new AttentionConfig.Gqa(1), new FfnConfig.Dense(24));
        Map<String, Tensor> cand = new LinkedHashMap<>();
        RandomWeights.of(c.withBlocks(List.of(b)), 3).tensors().forEach((k, v) -> {
            if (k.startsWith("model.layers.0.")) cand.put(k, v);
        });
        Checkpoint child = Scorer.replaced(parent, 0, List.of(b), cand);
        int[][] seqs = BldFixtures.sequences(3, 8, c.vocabSize(), 9);
        EmulatedDevice dev = new EmulatedDevice();
        Backend cuda = new CudaBackend(dev, DeviceOps.Precision.BF16, new CudaKernels(dev, new Parallel(2), 0)), cpu = Backend.cpu();
        Map<String, Double> onCpu = Scorer.metrics(cpu, Scorer.run(cpu, parent, seqs), Scorer.run(cpu, child, seqs), seqs, c.vocabSize(), c.dim());
        Map<String, Double> onGpu = Scorer.metrics(cuda, Scorer.run(cuda, parent, seqs), Scorer.run(cuda, child, seqs), seqs, c.vocabSize(), c.dim());
        assertTrue(dev.launches.getOrDefault("gemm_f32", 0) > 10, "the GEMMs ran on the device: " + dev.launches);
        assertEquals(onCpu.keySet(), onGpu.keySet());
        for (String k : onCpu.keySet()) {
            assertEquals(onCpu.get(k), onGpu.get(k), 1e-5 * Math.abs(onCpu.get(k)), k);
        }
        assertTrue(onCpu.get("metrics.kl_div") > 0, onCpu.toString());
    }
}
