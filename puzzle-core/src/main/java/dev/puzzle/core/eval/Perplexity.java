package dev.puzzle.core.eval;

import dev.puzzle.core.model.Decoder;

import java.util.function.IntConsumer;

/** Teacher-forced next-token NLL over a token sequence: the mean over its len−1 predictions, and perplexity. */
public final class Perplexity {
    private Perplexity() {}

    /** @param meanNll mean negative log-likelihood in nats; @param predicted how many predictions it averages */
    public record Result(double meanNll, double perplexity, int predicted) {}

    /** Runs tokens through the model in prefill chunks of {@code chunk}; {@code progress} gets positions done. */
    public static Result evaluate(Decoder model, int[] tokens, int chunk, IntConsumer progress) {
        if (tokens.length < 2) throw new IllegalArgumentException("need at least 2 tokens to predict one, got " + tokens.length);
        int V = model.config().vocabSize();
        Decoder.State st = model.newState(tokens.length);
        double sum = 0;
        int predicted = 0;
        for (int start = 0; start < tokens.length; start += chunk) {
            int len = Math.min(chunk, tokens.length - start);
            float[] logits = model.forward(st, tokens, start, len, true);
            for (int t = 0; t < len; t++) {
                int pos = start + t;
                if (pos + 1 >= tokens.length) break;
                sum += Losses.crossEntropy(logits, t * V, V, tokens[pos + 1]);
                predicted++;
            }
            if (progress != null) progress.accept(start + len);
        }
        double mean = sum / predicted;
        return new Result(mean, Math.exp(mean), predicted);
    }
}
