package dev.puzzle.examples.bench;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.backend.Backend;

import java.util.Collections;
import java.util.Locale;
import java.util.Random;

/**
 * MoE prefill and decode against a dense model of the same active parameters: a random Mixtral-style model
 * (E experts of width I, top-k) and the same model with one dense SwiGLU of width k·I per layer — equal
 * FLOPs per token, E/k times the FFN weights for the MoE. Prints tokens/s of each and the ratio
 * (MoE / dense; 1.0 = the MoE's routing, grouping and smaller GEMMs cost nothing).
 * Usage: MoeBench [DIM LAYERS EXPERTS WIDTH TOPK PREFILL DECODE THREADS]   (default 512 8 8 1024 2 256 128 2)
 */
public final class MoeBench {
    public static void main(String[] a) {
        int[] v = {512, 8, 8, 1024, 2, 256, 128, 2};
        for (int i = 0; i < Math.min(a.length, v.length); i++) v[i] = Integer.parseInt(a[i]);
        int D = v[0], L = v[1], E = v[2], I = v[3], K = v[4], P = v[5], G = v[6];
        Backend cpu = Backend.cpu("vector", v[7]);
        int heads = D / 64, V = 4096, ctx = P + G;
        AttentionConfig attn = new AttentionConfig.Gqa(heads);
        ModelConfig moe = new ModelConfig("MixtralForCausalLM", D, heads, 64, heads, I, V, ctx, 1e-5f, 1e6f, RopeStyle.HALF_SPLIT, false, false,
                Collections.nCopies(L, new BlockConfig(attn, new FfnConfig.Moe(E, K, I, true, 0))));
        ModelConfig dense = ModelConfig.builder("LlamaForCausalLM").dim(D).layers(L).heads(heads).kvHeads(heads).intermediateSize(K * I).vocabSize(V).maxSeqLen(ctx).normEps(1e-5f).ropeTheta(1e6f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(false).qkvBias(false).build();
        Decoder dm = new Decoder(RandomWeights.of(moe, 1), cpu), dd = new Decoder(RandomWeights.of(dense, 1), cpu);
        int[] tokens = new Random(3).ints(ctx, 3, V).toArray();
        for (int w = 0; w < 2; w++) { // warm-up: JIT
            time(dm, tokens, P, G);
            time(dd, tokens, P, G);
        }
        double[] m = best(dm, tokens, P, G), d = best(dd, tokens, P, G);
        System.out.printf(Locale.ROOT, "MoE %d experts x %d, top-%d vs dense %d (dim %d, %d layers, %d threads): equal active parameters%n", E, I, K, K * I, D, L, v[7]);
        System.out.printf(Locale.ROOT, "%-8s %14s %14s %7s%n", "", "MoE tok/s", "dense tok/s", "ratio");
        System.out.printf(Locale.ROOT, "%-8s %14.1f %14.1f %6.2fx%n", "prefill", m[0], d[0], m[0] / d[0]);
        System.out.printf(Locale.ROOT, "%-8s %14.1f %14.1f %6.2fx%n", "decode", m[1], d[1], m[1] / d[1]);
    }

    static double[] best(Decoder d, int[] tokens, int P, int G) {
        double[] b = {0, 0};
        for (int r = 0; r < 3; r++) {
            double[] t = time(d, tokens, P, G);
            b[0] = Math.max(b[0], t[0]);
            b[1] = Math.max(b[1], t[1]);
        }
        return b;
    }

    /** Tokens/s of a P-token prefill and of G single-token decode steps after it. */
    static double[] time(Decoder d, int[] tokens, int P, int G) {
        Decoder.State st = d.newState(P + G);
        long t0 = System.nanoTime();
        d.forward(st, tokens, 0, P, false);
        long t1 = System.nanoTime();
        for (int i = 0; i < G; i++) d.forward(st, tokens, P + i, 1, false);
        long t2 = System.nanoTime();
        return new double[]{P / ((t1 - t0) / 1e9), G / ((t2 - t1) / 1e9)};
    }
}
