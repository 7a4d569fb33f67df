package dev.puzzle.examples.bench;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.model.Decoder;
import dev.puzzle.core.tensor.Parallel;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;

/**
 * Prefill and decode tokens/s of a model on this machine. Prefill: PROMPT tokens in one batched
 * forward; decode: GEN further tokens one at a time through the KV cache (greedy, so the work is
 * the same as generation). Best of REPS after one warm-up. Prints {@code prefill TOKS/S} and
 * {@code decode TOKS/S}. Usage: DecodeBench MODEL THREADS PROMPT GEN [REPS]
 */
public final class DecodeBench {
    public static void main(String[] args) {
        Checkpoint ck = Checkpoints.load(Path.of(args[0]));
        Parallel.setThreads(Integer.parseInt(args[1]));
        int prompt = Integer.parseInt(args[2]), gen = Integer.parseInt(args[3]);
        int reps = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        Decoder d = new Decoder(ck);
        int V = ck.config().vocabSize();
        int[] toks = new int[prompt + gen];
        Random r = new Random(42);
        for (int i = 0; i < toks.length; i++) toks[i] = r.nextInt(V);
        double bestPre = 0, bestDec = 0;
        for (int rep = 0; rep <= reps; rep++) {
            Decoder.State st = d.newState(prompt + gen);
            long t0 = System.nanoTime();
            d.forward(st, toks, 0, prompt, false);
            long t1 = System.nanoTime();
            for (int i = 0; i < gen; i++) d.forward(st, toks, prompt + i, 1, false);
            long t2 = System.nanoTime();
            if (rep == 0) continue; // warm-up
            bestPre = Math.max(bestPre, prompt / ((t1 - t0) / 1e9));
            bestDec = Math.max(bestDec, gen / ((t2 - t1) / 1e9));
        }
        System.out.printf(Locale.ROOT, "prefill %.1f%ndecode %.1f%n", bestPre, bestDec);
    }
}
