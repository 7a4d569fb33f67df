package dev.puzzle.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.bld.ActivationCache;
import dev.puzzle.bld.Bld;
import dev.puzzle.blocklibrary.VariantNames;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.ffnfusion.FfnFusion;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The FFN fusion candidates of a run: the pairwise FFN dependency of the parent measured on the calibration
 * text ({@code RUN_DIR/library/ffn_dependency.json}, measured once, on the library stage's activation
 * cache) and the runs of 2..max_run consecutive dense layers whose largest pairwise dependency is at most
 * the search space's threshold. Every stage asks here, so all see the same runs.
 */
public final class Fusion {
    private Fusion() {}

    /** One candidate run i..j: its name ({@code layers_i-j} in the library) and its blocks, layer i first. */
    public record Span(int first, int last, String name, List<BlockConfig> blocks, double dependency) {
        public int span() {
            return last - first + 1;
        }
    }

    /** The dependency matrix and the candidate runs; empty without {@code ffn_fusion} in the search space. */
    public record Plan(double[][] dependency, List<Span> spans) {
        static final Plan NONE = new Plan(new double[0][0], List.of());
    }

    public static Plan of(Run run, IntConsumer cacheProgress) throws IOException {
        int maxRun = run.space.fusionMaxRun();
        if (maxRun == 0) return Plan.NONE;
        ModelConfig c = run.parent.config();
        double[][] dep = dependency(run, cacheProgress);
        List<Span> spans = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            for (int j = i + 1; j < Math.min(c.numLayers(), i + maxRun); j++) {
                boolean dense = true;
                for (int l = i; l <= j; l++) dense &= c.parentBlock(l).ffn() instanceof FfnConfig.Dense;
                if (!dense) break;
                double d = FfnFusion.runDependency(dep, i, j);
                if (d > run.space.fusionThreshold()) continue;
                List<BlockConfig> blocks = FfnFusion.blocks(c, i, j);
                int width = ((FfnConfig.Dense) blocks.get(0).ffn()).intermediateSize();
                spans.add(new Span(i, j, VariantNames.fusedName(c, i, j, blocks.get(0).attention(), width), blocks, d));
            }
        }
        return new Plan(dep, spans);
    }

    private static double[][] dependency(Run run, IntConsumer cacheProgress) throws IOException {
        ModelConfig c = run.parent.config();
        int L = c.numLayers();
        ObjectMapper json = new ObjectMapper();
        if (Files.exists(run.dir.ffnDependency())) {
            JsonNode m = json.readTree(run.dir.ffnDependency().toFile()).path("dependency");
            if (m.isArray() && m.size() == L) {
                double[][] dep = new double[L][L];
                for (int a = 0; a < L; a++) for (int b = 0; b < L; b++) dep[a][b] = m.get(a).get(b).asDouble();
                return dep;
            }
        }
        ActivationCache cache = Bld.cache(run.dir.root());
        cache.build(run.backend, run.parent, run.calibration(), run.config.cacheDtype(), cacheProgress);
        float[][] in = new float[L][];
        int N = 0;
        for (int l = 0; l < L; l++) {
            ActivationCache.Layer a = cache.read(l);
            in[l] = a.mid();
            N = a.rows();
        }
        double[][] dep = FfnFusion.dependency(run.backend, c, run.parent.tensors(), in, N);
        ObjectNode o = json.createObjectNode();
        o.put("measure", "mean over calibration tokens of 1 - cos(FFN_b(x_a), FFN_b(x_b)), x_l the input of layer l's FFN; row a, column b");
        ArrayNode rows = o.putArray("dependency");
        for (double[] r : dep) {
            ArrayNode row = rows.addArray();
            for (double v : r) row.add(v);
        }
        AtomicFiles.writeString(run.dir.ffnDependency(), json.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
        return dep;
    }
}
