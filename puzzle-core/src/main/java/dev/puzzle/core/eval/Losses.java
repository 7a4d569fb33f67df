package dev.puzzle.core.eval;

import dev.puzzle.core.tensor.Kernels;

/** Log-softmax, cross-entropy and KL divergence over rows of logits, with their gradients. */
public final class Losses {
    private final Kernels K;

    public Losses(Kernels kernels) {
        this.K = kernels;
    }

    /** log Σ exp(x), stable. */
    public float logSumExp(float[] x, int off, int n) {
        float m = K.max(x, off, n);
        return m + (float) Math.log(K.sumExp(x, off, n, m));
    }

    /** −log softmax(x)[target]. */
    public float crossEntropy(float[] logits, int off, int n, int target) {
        return logSumExp(logits, off, n) - logits[off + target];
    }

    /** KL(p ‖ q) with p = softmax(pLogits), q = softmax(qLogits): Σ p (log p − log q). */
    public float kl(float[] pLogits, int pOff, float[] qLogits, int qOff, int n) {
        float lp = logSumExp(pLogits, pOff, n), lq = logSumExp(qLogits, qOff, n);
        return (float) Math.max(0, K.klSum(pLogits, pOff, lp, qLogits, qOff, lq, n));
    }

    /** d crossEntropy / d logits = softmax(x) − onehot(target), written to dx. */
    public void crossEntropyBackward(float[] logits, int off, int n, int target, float[] dx, int dxOff, float scale) {
        float lse = logSumExp(logits, off, n);
        for (int i = 0; i < n; i++) dx[dxOff + i] = scale * ((float) Math.exp(logits[off + i] - lse) - (i == target ? 1f : 0f));
    }

    /** d KL(p ‖ q) / d qLogits = softmax(q) − softmax(p), scaled, written to dq. */
    public void klBackward(float[] pLogits, int pOff, float[] qLogits, int qOff, int n, float[] dq, int dqOff, float scale) {
        float lp = logSumExp(pLogits, pOff, n), lq = logSumExp(qLogits, qOff, n);
        for (int i = 0; i < n; i++) {
            dq[dqOff + i] = scale * (float) (Math.exp(qLogits[qOff + i] - lq) - Math.exp(pLogits[pOff + i] - lp));
        }
    }

    /**
     * Normalized MSE of blockwise local distillation: ‖y − ŷ‖² / ‖y‖² over the whole batch; writes
     * d loss / d ŷ = 2(ŷ − y) / ‖y‖² into dPred when it is not null.
     */
    public static double normalizedMse(float[] pred, float[] target, float[] dPred) {
        double num = 0, den = 0;
        for (int i = 0; i < pred.length; i++) {
            double d = pred[i] - target[i];
            num += d * d;
            den += (double) target[i] * target[i];
        }
        den = Math.max(den, 1e-30);
        if (dPred != null) for (int i = 0; i < pred.length; i++) dPred[i] = (float) (2 * (pred[i] - target[i]) / den);
        return num / den;
    }

    /** Index of the largest logit (first on ties). */
    public static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }
}
