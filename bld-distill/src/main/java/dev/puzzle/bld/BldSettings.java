package dev.puzzle.bld;

import dev.puzzle.core.PuzzleException;

/**
 * How blockwise local distillation trains each candidate: the normalized MSE ‖y−ŷ‖²/‖y‖² of its
 * contribution against the parent's, AdamW (β 0.9/0.95, weight decay on matrices), linear warmup then
 * cosine decay to a tenth of the peak rate, global gradient-norm clipping, and a token budget per job.
 *
 * @param coupled  train whole blocks (attention and FFN together) instead of each sub-block alone
 * @param tokens   tokens seen per job (steps = tokens / (batch sequences × sequence length))
 */
public record BldSettings(boolean coupled, long tokens, int batchSequences, double lr, double warmup, double weightDecay,
                          double clip, long seed) {
    public BldSettings {
        if (tokens < 1) throw new PuzzleException("distill.tokens must be >= 1, got " + tokens);
        if (batchSequences < 1) throw new PuzzleException("distill.batch_sequences must be >= 1, got " + batchSequences);
        if (!(lr > 0)) throw new PuzzleException("distill.lr must be positive, got " + lr);
        if (!(warmup >= 0 && warmup < 1)) throw new PuzzleException("distill.warmup must be in [0, 1), got " + warmup);
        if (!(weightDecay >= 0)) throw new PuzzleException("distill.weight_decay must be >= 0, got " + weightDecay);
        if (!(clip > 0)) throw new PuzzleException("distill.clip must be positive, got " + clip);
    }

    /** Learning rate at step s of n: linear warmup, then cosine to 10% of the peak. */
    public double lrAt(int s, int n) {
        int w = (int) Math.round(warmup * n);
        if (s < w) return lr * (s + 1) / w;
        double p = n - w <= 1 ? 1 : (double) (s - w) / (n - w - 1);
        return lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, p))));
    }
}
