package dev.puzzle.core.tensor;

/**
 * Where the numbers are computed: the context every model, block op, loss and sampler is built
 * with, instead of a process-wide singleton. Two kinds: the CPU with its {@link Kernels} provider
 * (Vector API or scalar twin), and CUDA ({@code dev.puzzle.core.cuda.CudaBackend}: device-resident
 * block training, large GEMMs of the host paths on the GPU); {@code dev.puzzle.core.cuda.BackendChoice} picks one by name.
 */
public interface Backend {

    /** A short name for logs and reports, e.g. {@code cpu-vector}. */
    String name();

    /** The kernels block ops run on. */
    Kernels kernels();

    /** Worker threads of the kernels' parallel sections. */
    default int threads() {
        return kernels().parallel().threads();
    }

    /** The CPU backend with the named kernel provider ({@code vector} or {@code scalar}) on {@code threads} threads. */
    static Backend cpu(String kernels, int threads) {
        Parallel p = new Parallel(threads);
        Kernels k = switch (kernels) {
            case "vector" -> new VectorKernels(p);
            case "scalar" -> new ScalarKernels(p);
            default -> throw new IllegalArgumentException("kernels must be 'vector' or 'scalar', got '" + kernels + "'");
        };
        return new Cpu("cpu-" + kernels, k);
    }

    /** The CPU backend with the named kernel provider on every core. */
    static Backend cpu(String kernels) {
        return cpu(kernels, Runtime.getRuntime().availableProcessors());
    }

    /** The CPU backend with the Vector API kernels on every core: one shared instance (its pool starts on first use). */
    static Backend cpu() {
        return Cpu.DEFAULT;
    }

    /** The CPU backend: kernels on Java arrays, parallel sections on {@link Parallel}'s pool. */
    record Cpu(String name, Kernels kernels) implements Backend {
        static final Backend DEFAULT = Backend.cpu("vector");
    }
}
