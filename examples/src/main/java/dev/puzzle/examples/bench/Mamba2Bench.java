package dev.puzzle.examples.bench;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;

import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * A Mamba-2 mixer block (d 512, 8 heads of 64, state 64, 2 groups, 4 conv taps): one decode step (a token against its
 * state, after a prompt of 64) and one training step's forward and backward over 4 × 256 tokens, median ms after warm-up.
 * bench/mamba2.sh runs PyTorch's naive recurrence (the published definition) on the same shapes.
 * Usage: Mamba2Bench THREADS
 */
public final class Mamba2Bench {
    public static void main(String[] args) {
        Backend cpu = Backend.cpu("vector", Integer.parseInt(args[0]));
        int D = 512, S = 4, T = 256;
        AttentionConfig.Mamba2 m = new AttentionConfig.Mamba2(8, 64, 64, 2, 4);
        ModelConfig c = new ModelConfig("LlamaForCausalLM", D, 8, 64, 2, 1536, 64, 4096, 1e-5f, 1e4f, RopeStyle.HALF_SPLIT, true, false,
                List.of(new BlockConfig(m, new FfnConfig.NoOp())));
        BlockOp op = new BlockOps(c, RandomWeights.of(c, 1).tensors(), "random weights", cpu).attention(0, m);
        Random r = new Random(1);
        float[] x = new float[S * T * D], y = new float[S * T * D], dOut = new float[S * T * D];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
            y[i] = (float) r.nextGaussian() * 0.1f;
        }
        // decode: a prompt of 64, then timed single-token steps
        BlockOp.State st = op.newState(4096);
        op.step(st, java.util.Arrays.copyOf(x, 64 * D), 64, 0);
        int steps = 200;
        double[] dec = new double[steps];
        float[] tok = new float[D];
        for (int i = 0; i < steps + 50; i++) {
            System.arraycopy(x, ((64 + i) % T) * D, tok, 0, D);
            long t0 = System.nanoTime();
            op.step(st, tok, 1, 64 + i);
            if (i >= 50) dec[i - 50] = (System.nanoTime() - t0) / 1e6;
        }
        java.util.Arrays.sort(dec);
        int reps = 8;
        double[] train = new double[reps];
        for (int i = 0; i < reps + 2; i++) {
            long t0 = System.nanoTime();
            op.zeroGrad();
            BlockOp.Saved s = op.forward(x, S, T);
            Losses.normalizedMse(s.out(), y, dOut);
            op.backward(s, dOut);
            if (i >= 2) train[i - 2] = (System.nanoTime() - t0) / 1e6;
        }
        java.util.Arrays.sort(train);
        System.out.printf(Locale.ROOT, "decode %.4f%ntrain %.2f%n", dec[steps / 2], train[reps / 2]);
    }
}
