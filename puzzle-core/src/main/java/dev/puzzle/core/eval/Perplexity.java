package dev.puzzle.core.eval;

import dev.puzzle.core.infer.Decoder;

import java.util.function.IntConsumer;

/** Teacher-forced next-token NLL over a token sequence: the mean over its len−1 predictions, and perplexity. */
public final class Perplexity {
    private Perplexity() {}

    /**
     * @param meanNll   mean negative log-likelihood in nats
     * @param predicted how many predictions it averages
     * @param windows   how many context windows the stream was scored in
     */
    public record Result(double meanNll, double perplexity, int predicted, int windows) {
        public Result(double meanNll, double perplexity, int predicted) {
            this(meanNll, perplexity, predicted, 1);
        }
    }

    /**
     * A token stream longer than the context, scored as consecutive windows of {@code context} tokens:
     * each window from its own first token (which is not predicted), the mean over all predictions of all
     * windows. A last window of one token predicts nothing and is not counted. {@code progress} gets
     * positions done over the whole stream.
     */
    public static Result windowed(Decoder model, int[] tokens, int context, int chunk, IntConsumer progress) {
        if (context < 2) throw new IllegalArgumentException("a window needs at least 2 tokens, got " + context);
        if (context > model.config().maxSeqLen()) {
            throw new IllegalArgumentException("window " + context + " exceeds the model's context " + model.config().maxSeqLen());
        }
        double sum = 0;
        int predicted = 0, windows = 0;
        for (int start = 0; start + 1 < tokens.length; start += context) {
            int end = Math.min(tokens.length, start + context);
            final int base = start;
            Result r = evaluate(model, java.util.Arrays.copyOfRange(tokens, start, end), chunk, progress == null ? null : done -> progress.accept(base + done));
            sum += r.meanNll() * r.predicted();
            predicted += r.predicted();
            windows++;
        }
        if (predicted == 0) throw new IllegalArgumentException("need at least 2 tokens to predict one, got " + tokens.length);
        double mean = sum / predicted;
        return new Result(mean, Math.exp(mean), predicted, windows);
    }

    /** Runs tokens through the model in prefill chunks of {@code chunk}; {@code progress} gets positions done. */
    public static Result evaluate(Decoder model, int[] tokens, int chunk, IntConsumer progress) {
        if (tokens.length < 2) throw new IllegalArgumentException("need at least 2 tokens to predict one, got " + tokens.length);
        int V = model.config().vocabSize();
        Decoder.State st = model.newState(tokens.length);
        Losses losses = new Losses(model.backend().kernels());
        double sum = 0;
        int predicted = 0;
        for (int start = 0; start < tokens.length; start += chunk) {
            int len = Math.min(chunk, tokens.length - start);
            float[] logits = model.forward(st, tokens, start, len, true);
            for (int t = 0; t < len; t++) {
                int pos = start + t;
                if (pos + 1 >= tokens.length) break;
                sum += losses.crossEntropy(logits, t * V, V, tokens[pos + 1]);
                predicted++;
            }
            if (progress != null) progress.accept(start + len);
        }
        double mean = sum / predicted;
        return new Result(mean, Math.exp(mean), predicted);
    }

    /** Mean NLL over every prediction of several sequences, each run from its own first token in prefill chunks of {@code chunk}. */
    public static double meanNll(Decoder model, int[][] sequences, int chunk) {
        double sum = 0;
        long n = 0;
        for (int[] seq : sequences) {
            Result r = evaluate(model, seq, chunk, null);
            sum += r.meanNll() * r.predicted();
            n += r.predicted();
        }
        return sum / n;
    }
}
