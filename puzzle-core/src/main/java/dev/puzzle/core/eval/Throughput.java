package dev.puzzle.core.eval;

import dev.puzzle.core.infer.Decoder;

import java.util.Random;

/**
 * One harness for measured speed on this machine: a prompt of {@code prompt} tokens as one batched
 * prefill, then {@code generate} tokens one at a time through the KV cache; best of {@code reps} after
 * at least 0.3 s of warm-up (a new model's code paths run unoptimized until the JIT compiles them).
 * The same for the parent, every child and every baseline.
 */
public final class Throughput {
    private Throughput() {}

    /**
     * @param prefillTokensPerSecond prompt tokens / prefill time (best rep)
     * @param decodeTokensPerSecond  generated tokens / decode time (best rep)
     * @param sequenceTokensPerSecond generated tokens / (prefill + decode time) of the best whole rep: the
     *                               throughput of a serving workload, prefill included, as Puzzle's budgets define it
     */
    public record Result(double prefillTokensPerSecond, double decodeTokensPerSecond, double sequenceTokensPerSecond) {}

    public static Result measure(Decoder d, int prompt, int generate, int reps) {
        if (prompt < 1 || generate < 1 || prompt + generate > d.config().maxSeqLen()) {
            throw new IllegalArgumentException("measure needs 1 <= prompt, 1 <= generate and prompt + generate <= context " + d.config().maxSeqLen()
                    + ", got " + prompt + " + " + generate);
        }
        int V = d.config().vocabSize();
        int[] toks = new int[prompt + generate];
        Random r = new Random(42);
        for (int i = 0; i < toks.length; i++) toks[i] = r.nextInt(V);
        double pre = 0, dec = 0, seq = 0;
        long warmUntil = System.nanoTime() + 300_000_000L;
        boolean warming = true;
        for (int rep = 0; rep < reps; ) {
            Decoder.State st = d.newState(toks.length);
            long t0 = System.nanoTime();
            d.forward(st, toks, 0, prompt, false);
            long t1 = System.nanoTime();
            for (int i = 0; i < generate; i++) d.forward(st, toks, prompt + i, 1, false);
            long t2 = System.nanoTime();
            if (warming) {
                warming = System.nanoTime() < warmUntil;
                continue;
            }
            rep++;
            pre = Math.max(pre, prompt / ((t1 - t0) / 1e9));
            dec = Math.max(dec, generate / ((t2 - t1) / 1e9));
            seq = Math.max(seq, generate / ((t2 - t0) / 1e9));
        }
        return new Result(pre, dec, seq);
    }
}
