package dev.puzzle.cli;

import dev.puzzle.core.tensor.Backend;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code --backend cpu|cuda|auto}, for the commands that compute with models. */
public final class BackendOption {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--backend", paramLabel = "B", defaultValue = "cpu",
            description = "Where to compute: cpu (default); cuda, the GPU (BLD trains the dense FFN, GQA attention and linear variants on it, in BF16 GEMMs with FP32 accumulation unless -Dpuzzle.cuda.precision=fp32; other paths send their large GEMMs to it), an error (exit 3) when no GPU or CUDA library is present; auto, the GPU when present, else the CPU with one line saying why.")
    String backend;

    private Backend chosen;

    /** The chosen backend, opened once; an auto fallback says why on standard error. */
    Backend backend() {
        if (chosen == null) chosen = dev.puzzle.core.cuda.BackendChoice.select(backend, line -> spec.commandLine().getErr().println(line));
        return chosen;
    }
}
