package dev.puzzle.pipeline;

import dev.puzzle.ffnfusion.FfnFusion;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.bld.ActivationCache;
import dev.puzzle.bld.Bld;
import dev.puzzle.bld.BldJob;
import dev.puzzle.bld.BldTrainer;
import dev.puzzle.blocklibrary.CandidateStore;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
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
        if (threads < 1) throw PuzzleException.setting("threads", threads, "must be >= 1");
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
        if (shard.index() == 0 && !run.config.distill().coupled()) trained += fusedRuns(run, listener);
        return new Result(trained, run.config.distill().coupled());
    }

    /**
     * FFN fusion (decoupled mode; the first shard): each fused run's wide FFN is trained from layer i's FFN
     * input to the parent's output of layers i..j — what the run contributed, attention included — starting
     * from the exact fusion; the result is the run's distilled FFN part at layer i.
     */
    static int fusedRuns(Run run, Listener listener) throws Exception {
        List<FfnFusion.Span> spans = Fusion.of(run, null).spans();
        if (spans.isEmpty()) return 0;
        CandidateStore lib = Bld.library(run.dir.root()), dist = Bld.distilled(run.dir.root());
        ActivationCache cache = Bld.cache(run.dir.root());
        ModelConfig pc = run.parent.config();
        LongConsumer bar = listener.progress("distill fused runs", spans.size());
        int trained = 0, done = 0;
        for (FfnFusion.Span f : spans) {
            String id = BlockNames.id(f.blocks().get(0).ffn());
            BldJob job = new BldJob(f.first(), null, f.blocks().get(0).ffn());
            if (!dist.has(f.first(), id) && !Files.exists(Bld.failedFile(run.dir.root(), job))) {
                ActivationCache.Layer a = cache.read(f.first()), b = cache.read(f.last());
                ActivationCache.Layer span = new ActivationCache.Layer(a.input(), a.mid(), b.output(), a.S(), a.T());
                List<BlockConfig> blocks = new ArrayList<>(pc.blocks());
                for (int k = 0; k < f.span(); k++) blocks.set(f.first() + k, f.blocks().get(k));
                try {
                    BldTrainer.Result r = BldTrainer.train(run.backend, pc.withBlocks(blocks), job, lib.read(f.first(), id), span, run.config.distill());
                    dist.write(f.first(), id, r.weights());
                    trained++;
                } catch (dev.puzzle.bld.Diverged d) { // this run stops; the others go on
                    Bld.recordDivergence(run.dir.root(), job, d);
                }
            }
            bar.accept(++done);
        }
        return trained;
    }
}
