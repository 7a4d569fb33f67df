package dev.puzzle.cli;

import dev.puzzle.pipeline.LibraryStage;
import dev.puzzle.pipeline.Run;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** {@code puzzle library CONFIG}: cache the parent's activations and initialize every candidate block. */
@Command(name = "library", mixinStandardHelpOptions = true,
        header = "Cache the parent's activations on calibration text and initialize every candidate from the parent.",
        description = "Writes RUN_DIR/cache/layer_L.safetensors (each layer's input, post-attention state and output) and RUN_DIR/library/layer_L/VARIANT.safetensors: KV heads mean-pooled, FFN channels kept by contribution, linear replacements fitted by least squares. Finished files are kept on a rerun.",
        footer = {"", "Example:", "  puzzle library examples/stories260K/puzzle.yaml"})
final class LibraryCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Override
    public Integer call() throws Exception {
        Run run = Run.open(config);
        LibraryStage.Result r = LibraryStage.run(run, new TerminalListener(spec.commandLine().getOut(), spec.commandLine().getErr()));
        spec.commandLine().getOut().printf("library: %d layers, %d candidate parts, %d calibration sequences of %d tokens in %s%n",
                r.layers(), r.parts(), r.sequences(), r.sequenceLength(), run.dir.root());
        return ExitCodes.OK;
    }
}
