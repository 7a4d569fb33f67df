package dev.puzzle.bld;

import dev.puzzle.core.Notices;
import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.backend.CudaBackend;
import dev.puzzle.core.cuda.EmulatedDevice;
import dev.puzzle.core.cuda.CudaKernels;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BLD under the CUDA backend, on the emulated device (kernels.cu on the host, no BLAS), equals BLD on the CPU:
 * the same loss at every step and the same trained weights, for every variant the device trains (GQA, a window,
 * q/k/v biases with interleaved RoPE, the dense and linear FFN, the linear attention, attention and FFN coupled)
 * and for one it does not (Qwen3's q/k norms: the host path, its GEMMs on the device). In BF16 GEMMs the losses
 * stay within BF16's rounding of the FP32 ones.
 */
class DeviceBldTrainerTest {
    static EmulatedDevice dev;
    static final BldSettings ST = new BldSettings(false, 4L * 3 * 8, 3, 3e-3, 0.25, 0.1, 0.5, 1);

    @BeforeAll
    static void open() throws Exception {
        dev = new EmulatedDevice();
    }

    static ModelConfig config(RopeStyle rope, boolean bias, boolean qkNorm) {
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(64)));
        return new ModelConfig("LlamaForCausalLM", 32, 4, 8, 2, 64, 61, 64, 1e-5f, 10000f, rope, true, bias, blocks, qkNorm);
    }

    static Stream<Arguments> jobs() {
        ModelConfig llama = config(RopeStyle.HALF_SPLIT, false, false), biased = config(RopeStyle.INTERLEAVED, true, false),
                qwen3 = config(RopeStyle.HALF_SPLIT, false, true);
        return Stream.of(
                Arguments.of("gqa1", llama, new BldJob(0, new AttentionConfig.Gqa(1), null), true),
                Arguments.of("window3", llama, new BldJob(0, new AttentionConfig.Window(2, 3, false), null), true),
                Arguments.of("linear attention", llama, new BldJob(0, new AttentionConfig.Linear(), null), true),
                Arguments.of("dense24", llama, new BldJob(0, null, new FfnConfig.Dense(24)), true),
                Arguments.of("linear ffn", llama, new BldJob(0, null, new FfnConfig.Linear()), true),
                Arguments.of("coupled gqa1 + dense24", llama, new BldJob(0, new AttentionConfig.Gqa(1), new FfnConfig.Dense(24)), true),
                Arguments.of("biases, interleaved RoPE", biased, new BldJob(0, new AttentionConfig.Gqa(1), null), true),
                Arguments.of("q/k norms (host path)", qwen3, new BldJob(0, new AttentionConfig.Gqa(1), null), false));
    }

    static ActivationCache.Layer activations(ModelConfig c, Path tmp) throws Exception {
        Checkpoint parent = RandomWeights.of(c, 11);
        ActivationCache cache = new ActivationCache(tmp);
        cache.build(Backend.cpu(), parent, BldFixtures.sequences(6, 8, c.vocabSize(), 5), DType.F32, null);
        return cache.read(0);
    }

    static Map<String, Tensor> init(ModelConfig c, BldJob job) {
        BlockConfig b = new BlockConfig(job.attention() != null ? job.attention() : c.blocks().get(0).attention(),
                job.ffn() != null ? job.ffn() : c.blocks().get(0).ffn());
        return RandomWeights.of(c.withBlocks(List.of(b)), 3).tensors();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("jobs")
    void gpuPathEqualsCpuPath(String name, ModelConfig c, BldJob job, boolean onDevice, @TempDir Path tmp) throws Exception {
        ActivationCache.Layer a = activations(c, tmp);
        Map<String, Tensor> init = init(c, job);
        BldTrainer.Result cpu = BldTrainer.train(Backend.cpu(), c, job, init, a, ST);
        dev.launches.clear();
        List<String> said = new java.util.ArrayList<>();
        Notices.to(said::add);
        BldTrainer.Result gpu;
        try {
            gpu = BldTrainer.train(new CudaBackend(dev, DeviceOps.Precision.FP32, new CudaKernels(dev, new Parallel(2), 0)), c, job, init, a, ST);
        } finally {
            Notices.to(null);
        }
        assertEquals(onDevice, dev.launches.containsKey("adamw"), "trained on the device: " + dev.launches.keySet());
        assertEquals(onDevice ? List.of() : List.of("puzzle: distill " + job.key() + ": trained on the host (per-head q/k norms have no device kernels)"), said,
                "a job that cannot run on the device says so in one line");
        assertTrue(dev.launches.containsKey("gemm_f32"), "GEMMs on the device: " + dev.launches.keySet());
        assertTrue(cpu.curve().after() < cpu.curve().before(), "training lowers the loss: " + cpu.curve());
        assertEquals(cpu.curve().keptInit(), gpu.curve().keptInit());
        close(name + " loss before", cpu.curve().before(), gpu.curve().before(), 1e-4);
        close(name + " loss after", cpu.curve().after(), gpu.curve().after(), 1e-4);
        for (int i = 0; i < cpu.curve().steps().length; i++) close(name + " step " + i, cpu.curve().steps()[i], gpu.curve().steps()[i], 1e-4);
        for (String k : cpu.weights().keySet()) {
            float[] x = cpu.weights().get(k).data(), y = gpu.weights().get(k).data();
            double n = 1e-30, d = 0;
            for (int i = 0; i < x.length; i++) {
                n += (double) x[i] * x[i];
                d += (double) (x[i] - y[i]) * (x[i] - y[i]);
            }
            assertTrue(Math.sqrt(d / n) <= 1e-4, name + ": " + k + " differs by " + Math.sqrt(d / n) + " relative");
        }
    }

    @Test
    void calibrationTooBigForTheDeviceIsStreamedBatchByBatch(@TempDir Path tmp) throws Exception {
        ModelConfig c = config(RopeStyle.HALF_SPLIT, false, false);
        ActivationCache.Layer a = activations(c, tmp);
        BldJob job = new BldJob(0, null, new FfnConfig.Dense(24));
        Map<String, Tensor> init = init(c, job);
        EmulatedDevice small = new EmulatedDevice(16 * 1024); // the 6 × 8 × 32 inputs and targets take 12 KiB: more than a quarter
        BldTrainer.Result cpu = BldTrainer.train(Backend.cpu(), c, job, init, a, ST);
        BldTrainer.Result gpu = BldTrainer.train(new CudaBackend(small, DeviceOps.Precision.FP32, new CudaKernels(small, new Parallel(2), 0)), c, job, init, a, ST);
        int steps = cpu.curve().steps().length, params = 4;
        assertTrue(small.uploads.get() >= params + 2 * (steps * 3 + 2 * 2), "a batch's sequences uploaded as drawn: " + small.uploads.get());
        for (int i = 0; i < steps; i++) close("streamed step " + i, cpu.curve().steps()[i], gpu.curve().steps()[i], 1e-4);
        close("streamed loss after", cpu.curve().after(), gpu.curve().after(), 1e-4);
        EmulatedDevice big = new EmulatedDevice(1L << 30);
        BldTrainer.train(new CudaBackend(big, DeviceOps.Precision.FP32, new CudaKernels(big, new Parallel(2), 0)), c, job, init, a, ST);
        assertTrue(big.uploads.get() < params + 2 + 2 + 8, "resident: uploaded once: " + big.uploads.get());
    }

    @Test
    void bf16GemmsStayWithinBf16Rounding(@TempDir Path tmp) throws Exception {
        ModelConfig c = config(RopeStyle.HALF_SPLIT, false, false);
        ActivationCache.Layer a = activations(c, Files.createDirectories(tmp.resolve("a")));
        for (BldJob job : List.of(new BldJob(0, null, new FfnConfig.Dense(24)), new BldJob(0, new AttentionConfig.Gqa(1), null))) {
            Map<String, Tensor> init = init(c, job);
            BldTrainer.Result f32 = BldTrainer.train(new CudaBackend(dev, DeviceOps.Precision.FP32, new CudaKernels(dev, new Parallel(2), 0)), c, job, init, a, ST);
            dev.launches.clear();
            BldTrainer.Result b16 = BldTrainer.train(new CudaBackend(dev, DeviceOps.Precision.BF16, new CudaKernels(dev, new Parallel(2), 0)), c, job, init, a, ST);
            assertTrue(dev.launches.containsKey("gemm_bf16") && !dev.launches.containsKey("gemm_f32"), "BF16 GEMMs: " + dev.launches.keySet());
            for (int i = 0; i < f32.curve().steps().length; i++) close("bf16 step " + i, f32.curve().steps()[i], b16.curve().steps()[i], 3e-2);
            assertTrue(f32.curve().steps()[0] != b16.curve().steps()[0], "BF16 rounding shows in the loss");
        }
    }

    static void close(String what, double expected, double actual, double rel) {
        assertTrue(Math.abs(expected - actual) <= rel * Math.abs(expected), what + ": CPU " + expected + ", device " + actual);
    }
}
