package dev.puzzle.core.tensor;

/**
 * Where the numbers are computed: the context every model, block op, loss and sampler is built
 * with, instead of a process-wide singleton. Two kinds: the CPU with its {@link Kernels} provider
 * (Vector API or scalar twin), and CUDA ({@code dev.puzzle.core.cuda.CudaBackend}: device-resident
 * block training, large GEMMs of the host paths on the GPU). {@link #select} picks one by name.
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

    /**
     * The backend a {@code --backend} choice names: {@code cpu}; {@code cuda}, which fails with a
     * {@link dev.puzzle.core.PuzzleException} naming why when no GPU or native library is present; or
     * {@code auto}, the GPU when it opens, else the CPU after one line to {@code notice} saying why.
     */
    static Backend select(String choice, java.util.function.Consumer<String> notice) {
        switch (choice) {
            case "cpu":
                return cpu();
            case "cuda", "auto":
                try {
                    return dev.puzzle.core.cuda.CudaBackend.open();
                } catch (dev.puzzle.core.cuda.CudaDevice.Unavailable e) {
                    if (choice.equals("cuda")) throw dev.puzzle.core.PuzzleException.setting("backend", "cuda", e.getMessage());
                    notice.accept("backend auto: " + e.getMessage() + "; computing on the CPU");
                    return cpu();
                }
            default:
                throw dev.puzzle.core.PuzzleException.setting("backend", "'" + choice + "'", "must be cpu, cuda or auto");
        }
    }

    /** The CPU backend: kernels on Java arrays, parallel sections on {@link Parallel}'s pool. */
    record Cpu(String name, Kernels kernels) implements Backend {}
}
