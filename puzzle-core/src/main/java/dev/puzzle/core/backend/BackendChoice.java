package dev.puzzle.core.backend;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.cuda.CudaDevice;
import dev.puzzle.core.cuda.DeviceOps;

import java.util.function.Consumer;

/** The backend a user names: the CPU, CUDA, or the GPU when one opens and else the CPU. */
public final class BackendChoice {
    private BackendChoice() {}

    /**
     * How to build it: the CPU kernel provider ({@code vector}, or its {@code scalar} twin), worker threads, and
     * the GEMM precision of device training.
     */
    public record Settings(String kernels, int threads, DeviceOps.Precision precision) {
        public Settings {
            if (!kernels.equals("vector") && !kernels.equals("scalar")) throw PuzzleException.setting("kernels", "'" + kernels + "'", "must be vector or scalar");
            if (threads < 1) throw PuzzleException.setting("threads", threads, "must be >= 1");
        }

        /** Vector kernels on every core, BF16 device GEMMs. */
        public static Settings defaults() {
            return new Settings("vector", Runtime.getRuntime().availableProcessors(), DeviceOps.Precision.BF16);
        }

        /** The device precision by name: {@code bf16} or {@code fp32}. */
        public static DeviceOps.Precision precision(String name) {
            return switch (name) {
                case "bf16" -> DeviceOps.Precision.BF16;
                case "fp32" -> DeviceOps.Precision.FP32;
                default -> throw PuzzleException.setting("cuda-precision", "'" + name + "'", "must be bf16 or fp32");
            };
        }

        Backend cpu() {
            return Backend.cpu(kernels, threads);
        }
    }

    /**
     * The backend a {@code --backend} choice names: {@code cpu}; {@code cuda}, which fails with a
     * {@link PuzzleException} naming why when no GPU or native library is present; or {@code auto}, the GPU
     * when it opens, else the CPU after one line to {@code notice} saying why.
     */
    public static Backend select(String choice, Settings s, Consumer<String> notice) {
        switch (choice) {
            case "cpu":
                return s.cpu();
            case "cuda", "auto":
                try {
                    return CudaBackend.open(s.precision(), s.threads());
                } catch (CudaDevice.Unavailable e) {
                    if (choice.equals("cuda")) throw PuzzleException.setting("backend", "cuda", e.getMessage());
                    notice.accept("backend auto: " + e.getMessage() + "; computing on the CPU");
                    return s.cpu();
                }
            default:
                throw PuzzleException.setting("backend", "'" + choice + "'", "must be cpu, cuda or auto");
        }
    }
}
