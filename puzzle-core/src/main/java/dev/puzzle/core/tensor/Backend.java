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

    /** The CPU backend with the named kernel provider ({@code vector} or {@code scalar}). */
    static Backend cpu(String kernels) {
        Kernels k = switch (kernels) {
            case "vector" -> new VectorKernels();
            case "scalar" -> new ScalarKernels();
            default -> throw new IllegalArgumentException("puzzle.kernels must be 'vector' or 'scalar', got '" + kernels + "'");
        };
        return new Cpu("cpu-" + kernels, k);
    }

    /** The CPU backend chosen by the system property {@code puzzle.kernels} (default {@code vector}). */
    static Backend cpu() {
        return cpu(System.getProperty("puzzle.kernels", "vector"));
    }

    /** The CPU backend: kernels on Java arrays, parallel sections on {@link Parallel}'s pool. */
    record Cpu(String name, Kernels kernels) implements Backend {}
}
