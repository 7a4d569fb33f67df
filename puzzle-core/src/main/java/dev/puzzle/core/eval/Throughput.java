package dev.puzzle.core.eval;

import dev.puzzle.core.infer.Decoder;

import java.util.Random;

/**
 * One harness for measured speed on this machine: a prompt of {@code prompt} tokens as one batched
 * prefill, then {@code generate} tokens one at a time through the KV cache; {@code reps} timed repeats after
 * at least 0.3 s of warm-up (a new model's code paths run unoptimized until the JIT compiles them), each rate
 * given as the median of the repeats with its interquartile range. The same for the parent, every child and
 * every baseline.
 */
public final class Throughput {
    private Throughput() {}

    /** A measured rate over repeats: the median and the quartiles (linear interpolation between repeats). */
    public record Stat(double median, double q1, double q3) {
        public static Stat of(double[] values) {
            double[] v = values.clone();
            java.util.Arrays.sort(v);
            return new Stat(quantile(v, 0.5), quantile(v, 0.25), quantile(v, 0.75));
        }

        static double quantile(double[] sorted, double q) {
            double at = q * (sorted.length - 1);
            int lo = (int) Math.floor(at), hi = (int) Math.ceil(at);
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
        }
    }

    /**
     * @param prefill  prompt tokens / prefill time
     * @param decode   generated tokens / decode time
     * @param sequence generated tokens / (prefill + decode time) of a whole repeat: the throughput of a serving
     *                 workload, prefill included, as Puzzle's budgets define it
     */
    public record Result(Stat prefill, Stat decode, Stat sequence) {}

    /**
     * Runs {@code work} until its time settles — the JIT has compiled what it runs: windows of 5 runs, until two windows
     * in a row have a median within {@code 3%} of the window before — or {@code maxNanos} pass on {@code clock}.
     * Returns the windows run. The warm-up is detected, not guessed: a fixed time is too short while C2 still compiles
     * the Vector API kernels (measured here: the same model 30% faster 20 s later) and too long once it is done.
     */
    public static int settle(Runnable work, long maxNanos, java.util.function.LongSupplier clock) {
        long end = clock.getAsLong() + maxNanos;
        double prev = Double.NaN;
        int stable = 0, windows = 0;
        double[] t = new double[5];
        while (clock.getAsLong() < end) {
            for (int i = 0; i < t.length; i++) {
                long t0 = clock.getAsLong();
                work.run();
                t[i] = clock.getAsLong() - t0;
            }
            double med = Stat.of(t).median();
            windows++;
            stable = !Double.isNaN(prev) && Math.abs(med - prev) <= 0.03 * prev ? stable + 1 : 0;
            if (stable >= 2) break;
            prev = med;
        }
        return windows;
    }

    /** One sequence through {@code d}: a prompt of {@code prompt} tokens, then {@code generate} one at a time (for {@link #settle}). */
    public static void once(Decoder d, int prompt, int generate) {
        time(d, tokens(prompt + generate, d.config().vocabSize()), prompt, generate);
    }

    /** The tokens every timed sequence runs on: {@code n} random ids of a vocabulary of {@code vocab} (as a text would route a MoE layer). */
    public static int[] tokens(int n, int vocab) {
        int[] toks = new int[n];
        Random r = new Random(42);
        for (int i = 0; i < n; i++) toks[i] = r.nextInt(vocab);
        return toks;
    }

    /** One timed sequence on a fresh state: {@code toks[0, prompt)} as one batched prefill, then {@code generate} tokens one at a time; {prefill, decode} nanoseconds. */
    public static long[] time(Decoder d, int[] toks, int prompt, int generate) {
        Decoder.State st = d.newState(prompt + generate);
        long t0 = System.nanoTime();
        d.forward(st, toks, 0, prompt, false);
        long t1 = System.nanoTime();
        for (int i = 0; i < generate; i++) d.forward(st, toks, prompt + i, 1, false);
        return new long[]{t1 - t0, System.nanoTime() - t1};
    }

    public static Result measure(Decoder d, int prompt, int generate, int reps) {
        if (prompt < 1 || generate < 1 || prompt + generate > d.config().maxSeqLen()) {
            throw new IllegalArgumentException("measure needs 1 <= prompt, 1 <= generate and prompt + generate <= context " + d.config().maxSeqLen()
                    + ", got " + prompt + " + " + generate);
        }
        if (reps < 1) throw new IllegalArgumentException("measure needs reps >= 1, got " + reps);
        int[] toks = tokens(prompt + generate, d.config().vocabSize());
        double[] pre = new double[reps], dec = new double[reps], seq = new double[reps];
        long warmUntil = System.nanoTime() + 300_000_000L;
        boolean warming = true;
        for (int rep = 0; rep < reps; ) {
            long[] t = time(d, toks, prompt, generate);
            if (warming) {
                warming = System.nanoTime() < warmUntil;
                continue;
            }
            pre[rep] = prompt / (t[0] / 1e9);
            dec[rep] = generate / (t[1] / 1e9);
            seq[rep] = generate / ((t[0] + t[1]) / 1e9);
            rep++;
        }
        return new Result(Stat.of(pre), Stat.of(dec), Stat.of(seq));
    }
}
