package dev.puzzle.cli;

import dev.puzzle.pipeline.DistillStage;
import dev.puzzle.pipeline.Run;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** {@code puzzle distill CONFIG [--shard i/N]}: blockwise local distillation of every candidate. */
@Command(name = "distill", mixinStandardHelpOptions = true,
        header = "Train every candidate to imitate its parent block (blockwise local distillation).",
        description = "Each job trains one candidate on the cached parent activations: normalized MSE of its contribution, AdamW, warmup + cosine learning rate, gradient clipping, the config's token budget. Jobs run in parallel; finished jobs are skipped on a rerun (resume after a crash); --shard i/N lets N processes split the jobs. Writes RUN_DIR/distill/layer_L/VARIANT.safetensors and VARIANT.loss.json (loss before, after, per step).",
        footer = {"", "Examples:", "  puzzle distill examples/stories260K/puzzle.yaml",
                "  puzzle distill examples/stories260K/puzzle.yaml --shard 0/2 &",
                "  puzzle distill examples/stories260K/puzzle.yaml --shard 1/2"})
final class DistillCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @picocli.CommandLine.Mixin
    BackendOption backendOpt;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Option(names = "--shard", paramLabel = "i/N", description = "Run only jobs i, i+N, i+2N, ... (default 0/1).")
    String shard = "0/1";

    @Option(names = "--threads", paramLabel = "N", description = "Jobs trained at once, and the kernels' worker threads (default: all cores).")
    Integer threads;

    @Override
    public Integer call() throws Exception {
        DistillStage.Shard sh = DistillStage.Shard.parse(shard);
        Run run = Run.open(config, backendOpt.backend(threads));
        int n = run.backend.threads();
        DistillStage.Result r = DistillStage.run(run, sh, n, new TerminalListener(spec.commandLine().getOut(), spec.commandLine().getErr()));
        spec.commandLine().getOut().printf("distill %s: trained %d jobs (%s mode) in %s%n", sh, r.trained(), r.coupled() ? "coupled" : "decoupled", run.dir.root());
        return ExitCodes.OK;
    }
}
