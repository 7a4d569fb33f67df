package dev.puzzle.examples;

import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.backend.CudaBackend;
import dev.puzzle.core.cuda.CudaKernels;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.cuda.EmulatedDevice;
import dev.puzzle.examples.bench.GpuBench;
import dev.puzzle.hardware.Workload;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bench/gpu.sh's Java side (GpuBench) at a tiny shape on the emulated device, so that the device's few minutes are
 * not spent finding a bug in the bench itself: every part runs, every equality check passes, and it prints every
 * line bench/gpu.sh reads.
 */
class GpuBenchTest {
    @Test
    void everyPartRunsAndEveryCheckPasses() throws Exception {
        EmulatedDevice dev = new EmulatedDevice();
        CudaBackend fp32 = new CudaBackend(dev, DeviceOps.Precision.FP32, new CudaKernels(dev, new Parallel(2), 0)),
                bf16 = new CudaBackend(dev, DeviceOps.Precision.BF16, new CudaKernels(dev, new Parallel(2), 0));
        GpuBench.Shape tiny = new GpuBench.Shape(32, 4, 8, 48, 61, 2, 8, 32, 6, 8, 3, 2, 2, new Workload(2, 16, 4, "bf16", "bf16"), 2);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        boolean ok = new GpuBench(tiny, new PrintStream(buf, true, StandardCharsets.UTF_8)).run(fp32, bf16, "all");
        String out = buf.toString(StandardCharsets.UTF_8);
        assertTrue(ok, out);
        assertFalse(out.contains("FAIL"), out);
        assertEquals(4, out.lines().filter(l -> l.startsWith("bld ") && l.contains(" ok |")).count(), out);
        assertEquals(1, out.lines().filter(l -> l.startsWith("score ") && l.endsWith(" ok")).count(), out);
        for (String key : List.of("step ffn fp32 ", "step ffn bf16 ", "step attention fp32 ", "step attention bf16 ", "gemm32 bf16 ", "gemm32 fp32 ",
                "phases ffn bf16 ", "phases attention fp32 ")) {
            assertTrue(out.lines().anyMatch(l -> l.startsWith(key)), key + " missing:\n" + out);
        }
        assertEquals(7, out.lines().filter(l -> l.startsWith("cost ")).count(), out);
    }
}
