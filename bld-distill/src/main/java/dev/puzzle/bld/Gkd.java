package dev.puzzle.bld;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.ops.Param;
import dev.puzzle.core.train.TrainableModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.IntConsumer;

/**
 * Global knowledge distillation (Puzzle, section 3.4): the realized child trained end to end against the
 * parent on calibration tokens, minimizing KL(parent ‖ child) of the next-token distributions plus
 * {@code cosineWeight} · (1 − cos) between the final hidden states, with AdamW, warmup + cosine learning
 * rate and clipping, for a token budget. Every {@code checkpointEvery} steps the child's weights, the
 * optimizer's moments and the step are saved atomically; a rerun resumes from the last checkpoint.
 */
public final class Gkd {
    private Gkd() {}

    public record Settings(long tokens, int batchSequences, double lr, double cosineWeight, int checkpointEvery, long seed) {
        public Settings {
            if (tokens < 1) throw new PuzzleException("gkd.tokens must be >= 1, got " + tokens);
            if (batchSequences < 1) throw new PuzzleException("gkd.batch_sequences must be >= 1, got " + batchSequences);
            if (!(lr > 0)) throw new PuzzleException("gkd.lr must be positive, got " + lr);
            if (!(cosineWeight >= 0)) throw new PuzzleException("gkd.cosine_weight must be >= 0, got " + cosineWeight);
            if (checkpointEvery < 1) throw new PuzzleException("gkd.checkpoint_every must be >= 1, got " + checkpointEvery);
        }

        /** Training steps over these sequences: the token budget in batches of min(batch_sequences, their count). */
        public int steps(int[][] seqs) {
            return (int) Math.max(1, tokens / ((long) Math.min(batchSequences, seqs.length) * seqs[0].length));
        }
    }

    /** Trains {@code child} in place (its tensors are copied first); returns the trained child and the loss of every step. */
    public static Result train(Backend backend, Checkpoint parent, Checkpoint child, int[][] seqs, Settings st, Path checkpoint, IntConsumer progress) throws IOException {
        return train(backend, parent, child, seqs, st, checkpoint, progress, Qad.quantizedMatrices(child)); // quantized matrices train quantization-aware
    }

    /**
     * As above, the weights named in {@code fakeQuant} trained quantization-aware (QAD): each step computes with
     * their values rounded to their quantized dtype (round to nearest, as stored), and the gradient with respect
     * to those rounded values updates FP32 master weights (the straight-through estimator). The returned child
     * holds the master weights in FP32 under the child's own config; re-quantize them to store it ({@link Qad}; a file
     * written with the child's stored types quantizes them).
     */
    public static Result train(Backend backend, Checkpoint parent, Checkpoint child, int[][] seqs, Settings st, Path checkpoint, IntConsumer progress,
                               Map<String, DType> fakeQuant) throws IOException {
        Map<String, Tensor> w = new LinkedHashMap<>();
        child.tensors().forEach((k, v) -> w.put(k, v.copy()));
        // Ops over FP32 copies: a quantized part trains as its base (its masters), rounded to its format by the STE below.
        Checkpoint trainable = new Checkpoint(child.config().unquantized(), w, child.storedTypes(), child.tokenizer(), child.source());
        TrainableModel student = new TrainableModel(trainable, backend), teacher = new TrainableModel(parent, backend);
        Losses lossFn = new Losses(backend.kernels());
        List<Param> params = student.params();
        AdamW opt = new AdamW(params, 0.9, 0.95, 0.1);
        int T = seqs[0].length, B = Math.min(st.batchSequences(), seqs.length), V = child.config().vocabSize(), D = child.config().dim();
        int steps = st.steps(seqs);
        BldSettings sched = new BldSettings(false, st.tokens(), B, st.lr(), 0.1, 0.1, 1.0, st.seed());
        int start = Safetensors.intact(checkpoint) ? load(checkpoint, params, opt) : 0; // a damaged checkpoint is said, removed, and training starts over
        FakeQuant fq = new FakeQuant(params, fakeQuant);
        double[] losses = new double[steps];
        Random rnd = new Random(st.seed());
        int[] in = new int[B * T];
        for (int step = 0; step < steps; step++) {
            for (int b = 0; b < B; b++) System.arraycopy(seqs[rnd.nextInt(seqs.length)], 0, in, b * T, T);
            if (step < start) continue; // replay the data order up to the checkpoint
            fq.round(); // compute with the stored values
            TrainableModel.Saved ps = teacher.forward(in, B, T), cs = student.forward(in, B, T);
            int N = B * T;
            float[] dLogits = new float[N * V], dHidden = new float[N * D];
            double loss = 0;
            for (int n = 0; n < N; n++) {
                loss += lossFn.kl(ps.logits(), n * V, cs.logits(), n * V, V) / N;
                lossFn.klBackward(ps.logits(), n * V, cs.logits(), n * V, V, dLogits, n * V, 1f / N);
                loss += st.cosineWeight() * cosineBackward(cs.x(), ps.x(), n * D, D, dHidden, (float) (st.cosineWeight() / N)) / N;
            }
            for (Param p : params) p.zeroGrad();
            student.backward(cs, dLogits, dHidden);
            fq.restore(); // straight through
            opt.clip(1.0);
            opt.step(sched.lrAt(step, steps));
            fq.keep();
            losses[step] = loss;
            if (!Double.isFinite(loss)) throw new Diverged("GKD diverged: loss " + loss + " at step " + (step + 1) + " of " + steps + " (lr " + st.lr() + ")");
            if ((step + 1) % st.checkpointEvery() == 0 || step + 1 == steps) save(checkpoint, params, opt, step + 1);
            if (progress != null) progress.accept(step + 1);
        }
        return new Result(new Checkpoint(child.config(), w, child.storedTypes(), child.tokenizer(), child.source()), losses, steps, start);
    }

    /** @param resumedAt the step training resumed from (0 when it started fresh) */
    public record Result(Checkpoint child, double[] losses, int steps, int resumedAt) {}

    /** 1 − cos(a, b) over one row, adding scale · d/da into da. */
    static double cosineBackward(float[] a, float[] b, int off, int n, float[] da, float scale) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < n; i++) {
            ab += (double) a[off + i] * b[off + i];
            aa += (double) a[off + i] * a[off + i];
            bb += (double) b[off + i] * b[off + i];
        }
        double na = Math.sqrt(Math.max(aa, 1e-30)), nb = Math.sqrt(Math.max(bb, 1e-30)), cos = ab / (na * nb);
        for (int i = 0; i < n; i++) da[off + i] += (float) (-scale * (b[off + i] / (na * nb) - cos * a[off + i] / (na * na)));
        return 1 - cos;
    }

    private static void save(Path f, List<Param> params, AdamW opt, int step) throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        for (int k = 0; k < params.size(); k++) {
            Param p = params.get(k);
            t.put(p.name, new Tensor(p.w.clone(), p.shape));
            t.put("adam.m." + p.name, new Tensor(opt.firstMoment(k).clone(), p.shape));
            t.put("adam.v." + p.name, new Tensor(opt.secondMoment(k).clone(), p.shape));
        }
        t.keySet().forEach(k -> types.put(k, DType.F32));
        Safetensors.write(f, t, types, Map.of("step", String.valueOf(step), "adam_steps", String.valueOf(opt.steps())));
    }

    private static int load(Path f, List<Param> params, AdamW opt) {
        try (Safetensors st = Safetensors.open(f)) {
            for (int k = 0; k < params.size(); k++) {
                Param p = params.get(k);
                System.arraycopy(st.read(p.name).data(), 0, p.w, 0, p.w.length);
                System.arraycopy(st.read("adam.m." + p.name).data(), 0, opt.firstMoment(k), 0, p.w.length);
                System.arraycopy(st.read("adam.v." + p.name).data(), 0, opt.secondMoment(k), 0, p.w.length);
            }
            opt.setSteps(Integer.parseInt(st.metadata().get("adam_steps")));
            return Integer.parseInt(st.metadata().get("step"));
        }
    }
}
