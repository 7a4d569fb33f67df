package dev.puzzle.bld;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.backend.Backend;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The parent's activations on calibration tokens, one safetensors file per layer under the run
 * directory: the layer's input, its state after attention ({@code mid}) and its output, each
 * (S·T, D), in F32 or BF16. Built layer by layer, so memory holds one layer's activations at a time;
 * a layer whose file exists (with the same token hash) is not rebuilt.
 */
public final class ActivationCache {
    private final Path dir;

    public ActivationCache(Path dir) {
        this.dir = dir;
    }

    /** One layer's cached activations, FP32. */
    public record Layer(float[] input, float[] mid, float[] output, int S, int T) {
        public int rows() {
            return S * T;
        }
    }

    public Path file(int layer) {
        return dir.resolve("layer_" + layer + ".safetensors");
    }

    /** Builds every missing layer file; {@code progress} gets layers done. */
    public void build(Backend backend, Checkpoint parent, int[][] seqs, DType dtype, IntConsumer progress) throws IOException {
        ModelConfig c = parent.config();
        int S = seqs.length, T = seqs[0].length, D = c.dim();
        String hash = Integer.toHexString(java.util.Arrays.deepHashCode(seqs)) + "-" + S + "x" + T + "-" + dtype;
        Files.createDirectories(dir);
        float[] x = new float[S * T * D];
        var emb = parent.tensors().get(dev.puzzle.core.io.TensorNames.EMBED); // one row per token, never the whole table
        for (int s = 0; s < S; s++) for (int t = 0; t < T; t++) emb.rows(seqs[s][t], 1, x, (s * T + t) * D);
        BlockOps factory = new BlockOps(c, parent.tensors(), parent.source(), backend);
        // Resume: the layers already cached for these tokens, intact, are neither recomputed nor rewritten;
        // the first missing or damaged one continues from its predecessor's cached output.
        int done = 0;
        while (done < c.numLayers() && hash.equals(readHash(file(done))) && Safetensors.intact(file(done))) done++;
        if (done == c.numLayers()) {
            if (progress != null) progress.accept(done);
            return;
        }
        if (done > 0) {
            x = read(done - 1).output();
            if (progress != null) progress.accept(done);
        }
        for (int l = done; l < c.numLayers(); l++) {
            BlockOps.Layer ops = factory.layer(l, c.blocks().get(l));
            float[] mid = add(x, ops.attention(), S, T);
            float[] out = add(mid, ops.ffn(), S, T);
            Path f = file(l);
            if (!(hash.equals(readHash(f)) && Safetensors.intact(f))) {
                Map<String, Tensor> t = new LinkedHashMap<>();
                t.put("input", new Tensor(x, S * T, D));
                t.put("mid", new Tensor(mid, S * T, D));
                t.put("output", new Tensor(out, S * T, D));
                Map<String, DType> types = new LinkedHashMap<>();
                t.keySet().forEach(k -> types.put(k, dtype));
                Safetensors.write(f, t, types, Map.of("tokens", hash, "S", String.valueOf(S), "T", String.valueOf(T)));
            }
            x = out;
            if (progress != null) progress.accept(l + 1);
        }
    }

    private static String readHash(Path f) {
        try (Safetensors st = Safetensors.open(f)) {
            return st.metadata().get("tokens");
        } catch (RuntimeException e) {
            return null; // unreadable: rebuild
        }
    }

    /** x + op(x), over the S·T rows of x. */
    private static float[] add(float[] x, BlockOp op, int S, int T) {
        float[] y = x.clone();
        if (!op.identity()) {
            float[] f = op.forward(x, S, T).out();
            for (int i = 0; i < y.length; i++) y[i] += f[i];
        }
        return y;
    }

    public Layer read(int layer) {
        try (Safetensors st = Safetensors.open(file(layer))) {
            int S = Integer.parseInt(st.metadata().get("S")), T = Integer.parseInt(st.metadata().get("T"));
            return new Layer(st.read("input").data(), st.read("mid").data(), st.read("output").data(), S, T);
        }
    }
}
