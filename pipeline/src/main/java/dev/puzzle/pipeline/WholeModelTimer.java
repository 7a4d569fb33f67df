package dev.puzzle.pipeline;

import dev.puzzle.core.eval.Throughput;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.hardware.LlamaCpp;
import dev.puzzle.hardware.LlamaCppCostModel;
import dev.puzzle.hardware.Workload;

import java.util.List;

/**
 * Whole models (random weights of a child's shape: speed does not depend on the values) measured where the profile's
 * costs were measured — this toolkit's decoder on the run's backend, or llama.cpp for {@code llamacpp-cpu} — as the
 * generated tokens/s of one sequence of the budgets' workload (prefill included), over repeats.
 */
interface WholeModelTimer {
    /** Runs until the measured time settles (the JIT has compiled the kernels), before the first model is measured. */
    void settle();

    /** Generated tokens / (prefill + decode) seconds of one sequence, each repeat: median and quartiles. */
    Throughput.Stat tokensPerS(List<BlockConfig> blocks, long seed, int reps);

    /** Whether the workload is measured shorter than it is ({@link EvaluateStage#measuredLengths}: fitted to the parent's context). */
    boolean shortened();

    /** This toolkit's decoder on the run's backend. */
    static WholeModelTimer toolkit(Run run) {
        ModelConfig parent = run.parent.config();
        int[] pg = EvaluateStage.measuredLengths(run.config.workload(), parent.maxSeqLen());
        return new WholeModelTimer() {
            @Override
            public void settle() {
                Decoder warm = new Decoder(run.parent, run.backend);
                Throughput.settle(() -> Throughput.once(warm, pg[0], pg[1]), 15_000_000_000L, System::nanoTime);
            }

            @Override
            public Throughput.Stat tokensPerS(List<BlockConfig> blocks, long seed, int reps) {
                return Throughput.measure(new Decoder(RandomWeights.of(parent.withBlocks(blocks), seed), run.backend), pg[0], pg[1], reps).sequence();
            }

            @Override
            public boolean shortened() {
                Workload w = run.config.workload();
                return pg[0] != Math.max(1, w.prefillLength()) || pg[1] != Math.max(1, w.generationLength());
            }
        };
    }

    /** llama.cpp, through the llamacpp-cpu cost model's process (whose own warm-up settles it). */
    static WholeModelTimer llamaCpp(Run run, LlamaCppCostModel cm) {
        ModelConfig parent = run.parent.config();
        Workload w = run.config.workload();
        return new WholeModelTimer() {
            @Override
            public void settle() {
                // the cost model settles llama.cpp before its first timing
            }

            @Override
            public Throughput.Stat tokensPerS(List<BlockConfig> blocks, long seed, int reps) {
                LlamaCpp.Times t = cm.whole(parent, blocks, w, reps);
                double[] seq = t.sequenceMs(), rate = new double[seq.length];
                for (int i = 0; i < seq.length; i++) rate[i] = w.generationLength() / (seq[i] / 1000);
                return Throughput.Stat.of(rate);
            }

            @Override
            public boolean shortened() {
                return false;
            }
        };
    }
}
