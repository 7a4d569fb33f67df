package dev.puzzle.cli;

import dev.puzzle.bld.Bld;
import dev.puzzle.bld.BldSettings;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;

/** {@code puzzle distill CONFIG [--shard i/N]}: blockwise local distillation of every candidate. */
@Command(name = "distill", mixinStandardHelpOptions = true,
        header = "Train every candidate to imitate its parent block (blockwise local distillation).",
        description = "Each job trains one candidate on the cached parent activations: normalized MSE of its contribution, AdamW, warmup + cosine learning rate, gradient clipping, the config's token budget. Jobs run in parallel; finished jobs are skipped on a rerun (resume after a crash); --shard i/N lets N processes split the jobs. Writes RUN_DIR/distill/layer_L/VARIANT.safetensors and VARIANT.loss.json (loss before, after, per step).",
        footer = {"", "Examples:", "  puzzle distill examples/stories260K/puzzle.yaml",
                "  puzzle distill examples/stories260K/puzzle.yaml --shard 0/2 &  puzzle distill examples/stories260K/puzzle.yaml --shard 1/2"})
final class DistillCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Option(names = "--shard", paramLabel = "i/N", description = "Run only jobs i, i+N, i+2N, ... (default 0/1).")
    String shard = "0/1";

    @Option(names = "--threads", paramLabel = "N", description = "Jobs trained at once (default: all cores).")
    Integer threads;

    @Override
    public Integer call() throws Exception {
        int[] sh = Bld.parseShard(shard);
        RunContext ctx = new RunContext(config);
        BldSettings st = ctx.rc.distill();
        Path runDir = ctx.rc.runDir();
        if (!Files.exists(Bld.cache(runDir).file(ctx.parent.config().numLayers() - 1))) {
            throw new PuzzleException(runDir + ": no activation cache yet; run 'puzzle library " + config + "' first");
        }
        int n = threads != null ? threads : Parallel.threads();
        if (n < 1) throw new PuzzleException("--threads must be >= 1, got " + n);
        Progress[] bar = new Progress[1];
        int trained = Bld.distill(ctx.parent, ctx.space, st, runDir, sh, n, (done, total) -> {
            synchronized (bar) {
                if (bar[0] == null) bar[0] = new Progress(spec.commandLine().getErr(), "distill " + shard, total);
                bar[0].update(done);
            }
        });
        spec.commandLine().getOut().printf("distill %s: trained %d jobs (%s mode) in %s%n", shard, trained, st.coupled() ? "coupled" : "decoupled", runDir);
        return ExitCodes.OK;
    }
}
