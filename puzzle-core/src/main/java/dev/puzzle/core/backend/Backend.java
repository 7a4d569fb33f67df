package dev.puzzle.core.backend;

import dev.puzzle.core.cuda.Device;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.tensor.ScalarKernels;
import dev.puzzle.core.tensor.VectorKernels;

import java.util.Optional;

/**
 * Where the numbers are computed: the context every model, block op, loss and sampler is built
 * with, instead of a process-wide singleton. Two kinds: the CPU with its {@link Kernels} provider
 * (Vector API or scalar twin), and CUDA ({@link CudaBackend}: its {@link #gpu()} trains and times the
 * block ops that have device twins, and the host paths send their large GEMMs to the GPU);
 * {@link BackendChoice} picks one by name. Stages ask {@link #gpu()}, never the backend's type.
 */
public interface Backend {

    /** A GPU to train and time blocks on: the device, and the operand precision of its GEMMs. */
    record Gpu(Device device, DeviceOps.Precision precision) {}

    /** The GPU of this backend; empty for the CPU. */
    default Optional<Gpu> gpu() {
        return Optional.empty();
    }

    /** A short name for logs and reports, e.g. {@code cpu-vector}. */
    String name();

    /** The kernels block ops run on. */
    Kernels kernels();

    /** Worker threads of the kernels' parallel sections. */
    default int threads() {
        return kernels().parallel().threads();
    }

    /**
     * Whether independent tasks (scoring candidates, multiple-choice items) run one per thread, each single-threaded
     * (the same arithmetic as one after another), rather than one at a time on every thread: on the CPU with several
     * threads, where one task's arrays take at most 16M floats (64 MiB) — a small model, whose kernels are too small to
     * keep the threads busy, and whose extra task per thread costs little heap.
     */
    default boolean oneTaskPerThread(long floatsPerTask) {
        return gpu().isEmpty() && threads() > 1 && floatsPerTask <= (16L << 20);
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
