package dev.puzzle.pipeline;

import dev.puzzle.bld.ActivationCache;
import dev.puzzle.bld.Bld;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.ffnfusion.FfnFusion;

import java.io.IOException;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The FFN fusion candidates of a run ({@link FfnFusion} owns the method): the pairwise FFN dependency of the
 * parent, measured once on the library stage's activation cache and kept in {@code RUN_DIR/library/ffn_dependency.json},
 * and the runs it allows under the search space's {@code ffn_fusion}. Every stage asks here, so all see the same runs.
 */
public final class Fusion {
    private Fusion() {}

    /** The dependency matrix and the candidate runs; empty without {@code ffn_fusion} in the search space. */
    public record Candidates(double[][] dependency, List<FfnFusion.Span> spans) {
        static final Candidates NONE = new Candidates(new double[0][0], List.of());
    }

    public static Candidates of(Run run, IntConsumer cacheProgress) throws IOException {
        int maxRun = run.space.fusionMaxRun();
        if (maxRun == 0) return Candidates.NONE;
        ModelConfig c = run.parent.config();
        double[][] dep = FfnFusion.readDependency(run.dir.ffnDependency(), c.numLayers());
        if (dep == null) {
            ActivationCache cache = Bld.cache(run.dir.root());
            cache.build(run.backend, run.parent, run.calibration(), run.config.cacheDtype(), cacheProgress);
            float[][] in = new float[c.numLayers()][];
            int N = 0;
            for (int l = 0; l < c.numLayers(); l++) {
                ActivationCache.Layer a = cache.read(l);
                in[l] = a.mid();
                N = a.rows();
            }
            dep = FfnFusion.dependency(run.backend, c, run.parent.tensors(), in, N);
            FfnFusion.writeDependency(run.dir.ffnDependency(), dep);
        }
        return new Candidates(dep, FfnFusion.spans(c, dep, maxRun, run.space.fusionThreshold()));
    }
}
