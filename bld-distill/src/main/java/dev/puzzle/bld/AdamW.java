package dev.puzzle.bld;

import dev.puzzle.core.ops.Param;

import java.util.List;

/**
 * AdamW (Loshchilov and Hutter, 2019): Adam moments with bias correction and decoupled weight decay,
 * decayed only on matrices (norm weights and biases are not). PyTorch: torch.optim.AdamW(betas=(b1, b2), eps=1e-8)
 */
public final class AdamW {
    private final List<Param> params;
    private final float[][] m, v;
    private final double beta1, beta2, eps, weightDecay;
    private int t;

    public AdamW(List<Param> params, double beta1, double beta2, double weightDecay) {
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = 1e-8;
        this.weightDecay = weightDecay;
        m = new float[params.size()][];
        v = new float[params.size()][];
        for (int i = 0; i < params.size(); i++) {
            m[i] = new float[params.get(i).w.length];
            v[i] = new float[params.get(i).w.length];
        }
    }

    /** Steps taken so far. */
    public int steps() {
        return t;
    }

    /** The first and second moments of parameter k, for checkpoints (live arrays). */
    public float[] firstMoment(int k) {
        return m[k];
    }

    public float[] secondMoment(int k) {
        return v[k];
    }

    /** Restores the step count after loading moments from a checkpoint. */
    public void setSteps(int steps) {
        t = steps;
    }

    /** Scales all gradients so their global L2 norm is at most {@code max}; returns the norm before. */
    public double clip(double max) {
        double ss = 0;
        for (Param p : params) for (float g : p.grad()) ss += (double) g * g;
        double norm = Math.sqrt(ss);
        if (norm > max) {
            float s = (float) (max / norm);
            for (Param p : params) for (int i = 0; i < p.grad().length; i++) p.grad()[i] *= s;
        }
        return norm;
    }

    public void step(double lr) {
        t++;
        double bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
        for (int k = 0; k < params.size(); k++) {
            Param p = params.get(k);
            boolean decay = p.shape.length >= 2;
            float[] w = p.w, g = p.grad(), mk = m[k], vk = v[k];
            for (int i = 0; i < w.length; i++) {
                mk[i] = (float) (beta1 * mk[i] + (1 - beta1) * g[i]);
                vk[i] = (float) (beta2 * vk[i] + (1 - beta2) * g[i] * g[i]);
                double update = (mk[i] / bc1) / (Math.sqrt(vk[i] / bc2) + eps);
                if (decay) w[i] -= (float) (lr * weightDecay * w[i]);
                w[i] -= (float) (lr * update);
            }
        }
    }
}
