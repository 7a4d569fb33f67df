package dev.puzzle.pipeline;

import dev.puzzle.bld.Bld;
import dev.puzzle.core.PuzzleException;

import java.nio.file.Files;
import java.util.function.LongConsumer;

/**
 * The distill stage: blockwise local distillation of every candidate of one shard, in parallel; jobs
 * finished earlier are skipped, so a rerun resumes.
 */
public final class DistillStage {
    private DistillStage() {}

    /** Which jobs: shard {@code index} of {@code count} (every count-th job from index). */
    public record Shard(int index, int count) {
        public static final Shard ALL = new Shard(0, 1);

        /** {@code "i/N"}, with a clear error otherwise. */
        public static Shard parse(String s) {
            int[] p = Bld.parseShard(s);
            return new Shard(p[0], p[1]);
        }

        @Override
        public String toString() {
            return index + "/" + count;
        }
    }

    /** Jobs trained now, and whether decoupled or coupled. */
    public record Result(int trained, boolean coupled) {}

    public static Result run(Run run, Shard shard, int threads, Listener listener) throws Exception {
        if (threads < 1) throw new PuzzleException("--threads must be >= 1, got " + threads);
        HeapNeed.check(run, HeapNeed.Stage.DISTILL, threads);
        if (!Files.exists(Bld.cache(run.dir.root()).file(run.parent.config().numLayers() - 1))) {
            throw new PuzzleException(run.dir.root() + ": no activation cache yet; run 'puzzle library " + run.config.file + "' first");
        }
        LongConsumer[] bar = new LongConsumer[1];
        String label = shard.count() == 1 ? "distill" : "distill " + shard;
        int trained = Bld.distill(run.backend, run.parent, run.space, run.config.distill(), run.dir.root(), new int[]{shard.index(), shard.count()}, threads, (d, t) -> {
            synchronized (bar) {
                if (bar[0] == null) bar[0] = listener.progress(label, t);
                bar[0].accept(d);
            }
        });
        return new Result(trained, run.config.distill().coupled());
    }
}
