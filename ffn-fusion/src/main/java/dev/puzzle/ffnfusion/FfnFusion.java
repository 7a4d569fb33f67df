package dev.puzzle.ffnfusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * FFN Fusion (Bercovich et al., 2025). A run of layers i..j is fused by removing the attention of layers
 * i+1..j and letting the FFNs of i..j all read the same input — the residual stream after layer i's
 * attention — their outputs summed. For SwiGLU FFNs that sum is exactly one wide SwiGLU: the gate and up
 * rows stacked, the down columns concatenated, and each FFN's RMSNorm gain g_k folded into its own gate and
 * up columns (W·diag(g_k)), so that one shared normalization with unit gain serves them all.
 * The fused run is an ordinary heterogeneous model: layer i keeps its attention and gets the wide FFN,
 * layers i+1..j become both-no-op (kept, not removed, so layer numbers, caches and the DeciLM block list
 * stay aligned with the parent's).
 */
public final class FfnFusion {
    private FfnFusion() {}

    /** The blocks of layers i..j after fusing them: the wide FFN at i, both-no-op after. */
    public static List<BlockConfig> blocks(ModelConfig parent, int i, int j) {
        check(parent, i, j);
        int width = 0;
        for (int l = i; l <= j; l++) width += parent.parentBlock(l).ffn().denseWidth();
        List<BlockConfig> out = new ArrayList<>();
        out.add(new BlockConfig(parent.parentBlock(i).attention(), new FfnConfig.Dense(width)));
        for (int l = i + 1; l <= j; l++) out.add(BlockConfig.EMPTY);
        return out;
    }

    /** One candidate run i..j: its library name ({@code layers_i-j}), its blocks (layer i first) and its largest pairwise dependency. */
    public record Span(int first, int last, String name, List<BlockConfig> blocks, double dependency) {
        public int span() {
            return last - first + 1;
        }
    }

    /**
     * The candidate runs: every run of 2..maxRun consecutive layers with dense SwiGLU FFNs whose largest
     * pairwise dependency is at most {@code threshold}.
     */
    public static List<Span> spans(ModelConfig parent, double[][] dep, int maxRun, double threshold) {
        List<Span> spans = new ArrayList<>();
        for (int i = 0; i < parent.numLayers(); i++) {
            for (int j = i + 1; j < Math.min(parent.numLayers(), i + maxRun); j++) {
                if (parent.parentBlock(j).ffn().denseWidth() == 0 || parent.parentBlock(i).ffn().denseWidth() == 0) break;
                double d = runDependency(dep, i, j);
                if (d > threshold) continue;
                List<BlockConfig> blocks = blocks(parent, i, j);
                spans.add(new Span(i, j, BlockNames.fused(parent, i, j, blocks.get(0).attention(), blocks.get(0).ffn().denseWidth()), blocks, d));
            }
        }
        return spans;
    }

    /** Writes the dependency matrix as {@code {measure, dependency: [[...]]}} (row a, column b). Atomic. */
    public static void writeDependency(Path file, double[][] dep) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("measure", "mean over calibration tokens of 1 - cos(FFN_b(x_a), FFN_b(x_b)), x_l the input of layer l's FFN; row a, column b");
        ArrayNode rows = o.putArray("dependency");
        for (double[] r : dep) {
            ArrayNode row = rows.addArray();
            for (double v : r) row.add(v);
        }
        AtomicFiles.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
    }

    /** The dependency matrix of {@code layers} layers written by {@link #writeDependency}; null when the file is absent or of another size. */
    public static double[][] readDependency(Path file, int layers) throws IOException {
        if (!Files.exists(file)) return null;
        JsonNode m = JSON.readTree(file.toFile()).path("dependency");
        if (!m.isArray() || m.size() != layers) return null;
        double[][] dep = new double[layers][layers];
        for (int a = 0; a < layers; a++) {
            if (!m.get(a).isArray() || m.get(a).size() != layers) return null;
            for (int b = 0; b < layers; b++) dep[a][b] = m.get(a).get(b).asDouble();
        }
        return dep;
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Refuses a run that is not 2+ consecutive layers inside the model, each with a dense SwiGLU FFN. */
    public static void check(ModelConfig parent, int i, int j) {
        if (i < 0 || j >= parent.numLayers() || j <= i) {
            throw new PuzzleException("FFN fusion run " + i + "-" + j + ": must be two or more consecutive layers within 0.." + (parent.numLayers() - 1));
        }
        for (int l = i; l <= j; l++) {
            if (parent.parentBlock(l).ffn().denseWidth() == 0) {
                throw new PuzzleException("FFN fusion run " + i + "-" + j + ": layer " + l + " has no dense SwiGLU FFN (" + parent.parentBlock(l).toString() + ")");
            }
        }
    }

    /** The wide FFN's tensors, under layer i's names: unit norm gain, gains folded, gate/up stacked, down concatenated. */
    public static Map<String, Tensor> fuse(ModelConfig parent, Map<String, Tensor> pw, int i, int j) {
        check(parent, i, j);
        int D = parent.dim(), W = 0;
        for (int l = i; l <= j; l++) W += pw.get(layer(l, GATE)).dim(0);
        float[] gate = new float[W * D], up = new float[W * D], down = new float[D * W];
        int off = 0;
        for (int l = i; l <= j; l++) {
            float[] g = pw.get(layer(l, FFN_NORM)).data(), w1 = pw.get(layer(l, GATE)).data(), w3 = pw.get(layer(l, UP)).data(), w2 = pw.get(layer(l, DOWN)).data();
            int F = pw.get(layer(l, GATE)).dim(0);
            for (int r = 0; r < F; r++) {
                for (int c = 0; c < D; c++) {
                    gate[(off + r) * D + c] = w1[r * D + c] * g[c];
                    up[(off + r) * D + c] = w3[r * D + c] * g[c];
                }
            }
            for (int r = 0; r < D; r++) System.arraycopy(w2, r * F, down, r * W + off, F);
            off += F;
        }
        float[] ones = new float[D];
        java.util.Arrays.fill(ones, 1f);
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(layer(i, FFN_NORM), new Tensor(ones, D));
        out.put(layer(i, GATE), new Tensor(gate, W, D));
        out.put(layer(i, UP), new Tensor(up, W, D));
        out.put(layer(i, DOWN), new Tensor(down, D, W));
        return out;
    }

    /**
     * The paper's pairwise FFN dependency on calibration rows: entry [a][b] (a < b) is the mean over the
     * tokens of the cosine distance 1 − cos(FFN_b(x_a), FFN_b(x_b)), x_l the input of layer l's FFN (the
     * residual after its attention) — how much FFN b's output changes when it reads layer a's input instead
     * of its own. Zero on and below the diagonal, and where either layer has no dense FFN.
     *
     * @param ffnInputs per layer, the N rows of its FFN input (null for a layer to skip)
     */
    public static double[][] dependency(Backend backend, ModelConfig parent, Map<String, Tensor> pw, float[][] ffnInputs, int N) {
        int L = parent.numLayers(), D = parent.dim();
        BlockOps ops = new BlockOps(parent, pw, "the parent", backend);
        double[][] dep = new double[L][L];
        for (int b = 1; b < L; b++) {
            if (parent.parentBlock(b).ffn().denseWidth() == 0 || ffnInputs[b] == null) continue;
            BlockOp ffn = ops.ffn(b, parent.parentBlock(b).ffn());
            float[] own = ffn.forward(ffnInputs[b], 1, N).out();
            for (int a = 0; a < b; a++) {
                if (parent.parentBlock(a).ffn().denseWidth() == 0 || ffnInputs[a] == null) continue;
                float[] other = ffn.forward(ffnInputs[a], 1, N).out();
                double sum = 0;
                for (int n = 0; n < N; n++) {
                    double dot = 0, p = 0, q = 0;
                    for (int d = 0; d < D; d++) {
                        double u = own[n * D + d], v = other[n * D + d];
                        dot += u * v;
                        p += u * u;
                        q += v * v;
                    }
                    sum += p > 0 && q > 0 ? 1 - dot / Math.sqrt(p * q) : 0;
                }
                dep[a][b] = sum / N;
            }
        }
        return dep;
    }

    /** The largest pairwise dependency inside run i..j. */
    public static double runDependency(double[][] dep, int i, int j) {
        double m = 0;
        for (int a = i; a <= j; a++) for (int b = a + 1; b <= j; b++) m = Math.max(m, dep[a][b]);
        return m;
    }
}
