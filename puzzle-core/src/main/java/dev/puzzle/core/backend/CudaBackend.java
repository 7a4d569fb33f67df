package dev.puzzle.core.backend;

import dev.puzzle.core.cuda.CudaDevice;
import dev.puzzle.core.cuda.CudaKernels;
import dev.puzzle.core.cuda.Device;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;

/**
 * The CUDA backend: blockwise distillation trains the variants whose ops have device twins entirely on the
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
    public java.util.Optional<Gpu> gpu() {
        return java.util.Optional.of(new Gpu(device, precision));
    }

    @Override
    public String name() {
        return "cuda-" + device.name().replace(' ', '-') + "-" + precision.name().toLowerCase();
    }
}
