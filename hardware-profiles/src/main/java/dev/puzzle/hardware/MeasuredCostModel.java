package dev.puzzle.hardware;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.backend.Backend;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Costs timed on this machine: each candidate block runs as a one-layer decoder of the model's
 * dimensions (random weights, the real kernels), a prompt of the workload's prefill length as one
 * batched prefill, then its generation length token by token through the KV cache; best of
 * {@code reps} after a warm-up. The CPU decoder runs one sequence at a time, so batch costs are the
 * one-sequence times × batch. Memory and parameters are counted as the roofline model counts them.
 * Embeddings and head are timed the same way and subtracted from every block's time.
 */
public final class MeasuredCostModel implements CostModel {
    private final Backend backend;
    private final Timing timing;
    private final RooflineCostModel counts;
    private final Map<String, double[]> cache = new HashMap<>();
    private boolean warm;

    /**
     * How blocks are timed: the best of {@code reps} runs after one, the whole first measurement preceded by runs of
     * the whole model until its time settles, at most {@code warmupNanos} (the JIT compiling every kernel), on
     * {@code clock} (nanoseconds).
     */
    public record Timing(int reps, long warmupNanos, java.util.function.LongSupplier clock) {
        public Timing {
            if (reps < 1) throw new IllegalArgumentException("reps must be >= 1, got " + reps);
            if (warmupNanos < 0) throw new IllegalArgumentException("warm-up must be >= 0 ns, got " + warmupNanos);
        }

        /** {@code reps} runs after the whole model's time settles ({@link dev.puzzle.core.eval.Throughput#settle}, at most 15 s), on the wall clock. */
        public static Timing of(int reps) {
            return new Timing(reps, 15_000_000_000L, System::nanoTime);
        }
    }

    public MeasuredCostModel(Backend backend, int reps) {
        this(backend, Timing.of(reps));
    }

    public MeasuredCostModel(Backend backend, Timing timing) {
        this.backend = backend;
        this.timing = timing;
        this.counts = new RooflineCostModel(new HardwareProfile("count-only", Map.of("fp32", 1.0), 1, 1, 0, 1, 1, 1));
    }

    @Override
    public BlockCost block(ModelConfig m, BlockConfig b, Workload w) {
        BlockCost c = counts.block(m, b, w);
        double[] t = time(m, List.of(b), w);
        double[] base = time(m, List.of(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp())), w);
        return new BlockCost(c.params(), c.weightBytes(), c.kvCacheBytes(), Math.max(0, t[0] - base[0]) * w.batch(),
                Math.max(0, t[1] - base[1]) * w.batch(), c.kvHeads());
    }

    @Override
    public BlockCost embeddingsAndHead(ModelConfig m, Workload w) {
        BlockCost c = counts.embeddingsAndHead(m, w);
        double[] t = time(m, List.of(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp())), w);
        return new BlockCost(c.params(), c.weightBytes(), 0, t[0] * w.batch(), t[1] * w.batch(), 0);
    }

    /** {prefill ms, decode ms} of one sequence through a model of these blocks. */
    private double[] time(ModelConfig m, List<BlockConfig> blocks, Workload w) {
        String key = blocks + "|" + w;
        double[] hit = cache.get(key);
        if (hit != null) return hit;
        if (!warm) { // the first timings would otherwise include the JIT compiling every kernel: the whole model until its time settles
            warm = true;
            dev.puzzle.core.eval.Throughput.settle(() -> measure(m, m.blocks(), w, 0), timing.warmupNanos(), timing.clock());
        }
        double[] out = measure(m, blocks, w, timing.reps());
        cache.put(key, out);
        return out;
    }

    private double[] measure(ModelConfig m, List<BlockConfig> blocks, Workload w, int reps) {
        ModelConfig c = m.withBlocks(blocks);
        Decoder d = new Decoder(RandomWeights.of(c, 7), backend);
        int P = w.prefillLength(), G = w.generationLength(), V = c.vocabSize();
        int[] toks = new int[Math.max(1, P + G)];
        Random r = new Random(1);
        for (int i = 0; i < toks.length; i++) toks[i] = r.nextInt(V);
        double bestP = Double.MAX_VALUE, bestD = Double.MAX_VALUE;
        for (int rep = 0; rep <= reps; rep++) {
            Decoder.State st = d.newState(toks.length);
            long t0 = timing.clock().getAsLong();
            if (P > 0) d.forward(st, toks, 0, P, false);
            long t1 = timing.clock().getAsLong();
            for (int g = 0; g < G; g++) d.forward(st, toks, P + g, 1, false);
            long t2 = timing.clock().getAsLong();
            if (rep == 0) continue; // warm-up
            bestP = Math.min(bestP, (t1 - t0) / 1e6);
            bestD = Math.min(bestD, (t2 - t1) / 1e6);
        }
        return new double[]{bestP, bestD};
    }
}
