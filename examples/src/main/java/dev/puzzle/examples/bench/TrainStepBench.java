package dev.puzzle.examples.bench;

import dev.puzzle.bld.AdamW;
import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.Param;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.backend.Backend;

import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * One BLD training step (forward, normalized-MSE loss, backward, AdamW) of a SwiGLU FFN block
 * (8 × 256 tokens, d 512, h 1536) and of an attention block (d 512, 8 heads, 2 KV heads, 8 × 256 tokens),
 * median of 12 timed steps after a warm-up of at least 3 steps and 2 s, in ms. bench/train_step.sh runs PyTorch on the same shapes.
 * Usage: TrainStepBench THREADS
 */
public final class TrainStepBench {
    public static void main(String[] args) {
        Backend cpu = Backend.cpu("vector", Integer.parseInt(args[0]));
        int S = 8, T = 256, D = 512;
        ModelConfig c = new ModelConfig("LlamaForCausalLM", D, 8, 64, 2, 1536, 64, 4096, 1e-5f, 1e4f, RopeStyle.HALF_SPLIT, true, false,
                List.of(new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(1536))));
        var w = RandomWeights.of(c, 1).tensors();
        BlockOps ops = new BlockOps(c, w, "random weights", cpu);
        report("ffn", ops.ffn(0, new FfnConfig.Dense(1536)), S, T, D);
        report("attention", ops.attention(0, new AttentionConfig.Gqa(2)), S, T, D);
    }

    static void report(String name, BlockOp b, int S, int T, int D) {
        Random r = new Random(1);
        float[] x = new float[S * T * D], y = new float[S * T * D], dOut = new float[S * T * D];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
            y[i] = (float) r.nextGaussian() * 0.1f;
        }
        List<Param> params = b.params();
        AdamW opt = new AdamW(params, 0.9, 0.95, 0.1);
        Runnable step = () -> {
            b.zeroGrad();
            BlockOp.Saved s = b.forward(x, S, T);
            Losses.normalizedMse(s.out(), y, dOut);
            b.backward(s, dOut);
            opt.clip(1.0);
            opt.step(1e-4);
        };
        // Warm-up of at least 3 steps and 2 s (train_step_torch.py does the same): the first steps of a JVM run in
        // code still compiling and in heap the OS has not yet handed over (page faults while the young generation
        // first fills: steps 2-3x slower for a second or two), which three steps did not always cover.
        long start = System.nanoTime();
        for (int warm = 0; warm < 3 || System.nanoTime() - start < 2_000_000_000L; warm++) step.run();
        int reps = 12;
        double[] times = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            step.run();
            times[i] = (System.nanoTime() - t0) / 1e6;
        }
        java.util.Arrays.sort(times);
        System.out.printf(Locale.ROOT, "%s %.2f%n", name, times[reps / 2]);
    }
}
