package dev.puzzle.examples.bench;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.DType;
import dev.puzzle.core.io.Llama2cBin;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * Writes a random-weight Llama of a given shape as a llama2.c legacy {@code .bin}, so this toolkit and
 * any llama2.c-compatible runner load the same file. Usage: RandomLlama2c OUT DIM LAYERS HEADS KV_HEADS HIDDEN VOCAB SEQ
 */
public final class RandomLlama2c {
    public static void main(String[] a) throws Exception {
        Path out = Path.of(a[0]);
        int dim = Integer.parseInt(a[1]), layers = Integer.parseInt(a[2]), heads = Integer.parseInt(a[3]), kv = Integer.parseInt(a[4]),
                hidden = Integer.parseInt(a[5]), vocab = Integer.parseInt(a[6]), seq = Integer.parseInt(a[7]);
        ModelConfig c = ModelConfig.uniform("LlamaForCausalLM", dim, layers, heads, kv, hidden, vocab, seq, 1e-5f, 10000f, RopeStyle.INTERLEAVED, true, false);
        Random r = new Random(1);
        Map<String, Tensor> t = new LinkedHashMap<>();
        int E = dim / heads;
        t.put(EMBED, rand(r, 0.02, vocab, dim));
        for (int i = 0; i < layers; i++) {
            t.put(layer(i, ATTN_NORM), ones(dim));
            t.put(layer(i, Q), rand(r, 1 / Math.sqrt(dim), dim, dim));
            t.put(layer(i, K), rand(r, 1 / Math.sqrt(dim), kv * E, dim));
            t.put(layer(i, V), rand(r, 1 / Math.sqrt(dim), kv * E, dim));
            t.put(layer(i, O), rand(r, 1 / Math.sqrt(dim), dim, dim));
            t.put(layer(i, FFN_NORM), ones(dim));
            t.put(layer(i, GATE), rand(r, 1 / Math.sqrt(dim), hidden, dim));
            t.put(layer(i, DOWN), rand(r, 1 / Math.sqrt(hidden), dim, hidden));
            t.put(layer(i, UP), rand(r, 1 / Math.sqrt(dim), hidden, dim));
        }
        t.put(FINAL_NORM, ones(dim));
        Map<String, DType> types = new LinkedHashMap<>();
        t.keySet().forEach(n -> types.put(n, DType.F32));
        Llama2cBin.writeLegacy(out, new Checkpoint(c, t, types, null, "random"));
    }

    private static Tensor rand(Random r, double std, int... shape) {
        Tensor x = Tensor.zeros(shape);
        float[] d = x.data();
        for (int i = 0; i < d.length; i++) d[i] = (float) (r.nextGaussian() * std);
        return x;
    }

    private static Tensor ones(int n) {
        Tensor x = Tensor.zeros(n);
        java.util.Arrays.fill(x.data(), 1f);
        return x;
    }
}
