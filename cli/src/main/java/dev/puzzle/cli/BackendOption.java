package dev.puzzle.cli;

import dev.puzzle.core.backend.BackendChoice;
import dev.puzzle.core.backend.Backend;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code --backend cpu|cuda|auto}, for the commands that compute with models. */
public final class BackendOption {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--backend", paramLabel = "B", defaultValue = "cpu",
            description = "Where to compute: cpu (default); cuda, the GPU (exit 3 saying why when no GPU or CUDA library is present); auto, the GPU when present, else the CPU after one line saying why. -Dpuzzle.cuda.precision=fp32 (in PUZZLE_JAVA_OPTS) makes device training's GEMMs FP32 instead of BF16.")
    String backend;

    private Backend chosen;

    /** The chosen backend on every core (or {@code -Dpuzzle.threads}), opened once. */
    Backend backend() {
        return backend(null);
    }

    /**
     * The chosen backend, opened once, its kernels on {@code threads} worker threads (null: {@code -Dpuzzle.threads},
     * else every core); an auto fallback says why on standard error. The JVM properties {@code puzzle.kernels}
     * (vector|scalar) and {@code puzzle.cuda.precision} (bf16|fp32) are read here, at the edge, and nowhere else.
     */
    Backend backend(Integer threads) {
        if (chosen == null) {
            BackendChoice.Settings d = BackendChoice.Settings.defaults();
            int n = threads != null ? threads : Integer.parseInt(System.getProperty("puzzle.threads", String.valueOf(d.threads())).trim());
            BackendChoice.Settings s = new BackendChoice.Settings(System.getProperty("puzzle.kernels", d.kernels()), n,
                    BackendChoice.Settings.precision(System.getProperty("puzzle.cuda.precision", "bf16")));
            chosen = BackendChoice.select(backend, s, line -> spec.commandLine().getErr().println(line));
        }
        return chosen;
    }
}
