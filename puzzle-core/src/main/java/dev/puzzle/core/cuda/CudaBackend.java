package dev.puzzle.core.cuda;

import dev.puzzle.core.tensor.Backend;
import dev.puzzle.core.tensor.Kernels;

/**
 * The CUDA backend: blockwise distillation trains the variants {@link DeviceBlock} covers entirely on the
 * device (in the {@link #precision()} of its GEMMs), and every path that runs block ops on host arrays
 * sends its large GEMMs to the device through {@link CudaKernels}.
 *
 * @param precision GEMM operands of device training: {@code puzzle.cuda.precision} = bf16 (default) or fp32
 */
public record CudaBackend(Device device, DeviceOps.Precision precision, Kernels kernels) implements Backend {

    /** Opens the GPU; the exception's message is the one line saying why it cannot be. */
    public static CudaBackend open() throws CudaDevice.Unavailable {
        String p = System.getProperty("puzzle.cuda.precision", "bf16");
        DeviceOps.Precision precision = switch (p) {
            case "bf16" -> DeviceOps.Precision.BF16;
            case "fp32" -> DeviceOps.Precision.FP32;
            default -> throw new IllegalArgumentException("puzzle.cuda.precision must be 'bf16' or 'fp32', got '" + p + "'");
        };
        CudaDevice d = CudaDevice.open();
        return new CudaBackend(d, precision, new CudaKernels(d));
    }

    @Override
    public String name() {
        return "cuda-" + device.name().replace(' ', '-') + "-" + precision.name().toLowerCase();
    }
}
