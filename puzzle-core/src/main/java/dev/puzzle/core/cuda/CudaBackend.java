package dev.puzzle.core.cuda;

import dev.puzzle.core.tensor.Backend;
import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;

/**
 * The CUDA backend: blockwise distillation trains the variants {@link DeviceBlock} covers entirely on the
 * device (in the {@link #precision()} of its GEMMs), and every path that runs block ops on host arrays
 * sends its large GEMMs to the device through {@link CudaKernels}.
 *
 * @param precision GEMM operands of device training: bf16 (the CLI's default) or fp32
 */
public record CudaBackend(Device device, DeviceOps.Precision precision, Kernels kernels) implements Backend {

    /**
     * Opens the GPU, with device training's GEMM operands in {@code precision} and the host paths' kernels on
     * {@code threads} threads; the exception's message is the one line saying why it cannot be.
     */
    public static CudaBackend open(DeviceOps.Precision precision, int threads) throws CudaDevice.Unavailable {
        CudaDevice d = CudaDevice.open();
        return new CudaBackend(d, precision, new CudaKernels(d, new Parallel(threads)));
    }

    @Override
    public String name() {
        return "cuda-" + device.name().replace(' ', '-') + "-" + precision.name().toLowerCase();
    }
}
