package dev.puzzle.core.cuda;

import java.util.List;

/**
 * The loss and optimizer of blockwise distillation on the device: the normalized MSE ‖ŷ − y‖² / ‖y‖² with
 * its gradient (as {@code Losses.normalizedMse}), and AdamW after clipping the gradients to a global norm
 * (as {@code AdamW.clip} then {@code AdamW.step}: betas, eps 1e-8, decoupled decay on matrices only).
 */
public final class DeviceTraining {
    private final Device dev;
    private final List<DeviceParam> params;
    private final double beta1, beta2, weightDecay;
    private final DeviceArray lossSums, gradSumSq; // doubles
    private int t;

    public DeviceTraining(Device dev, List<DeviceParam> params, double beta1, double beta2, double weightDecay) {
        this.dev = dev;
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.weightDecay = weightDecay;
        this.lossSums = dev.doubles(2);
        this.gradSumSq = dev.doubles(1);
    }

    /** Starts a sum of squared errors over one or more batches ({@link #accumulate}). */
    public void resetLoss() {
        dev.zero(lossSums);
    }

    /** Adds Σ(ŷ − y)² and Σy² of n elements to the running sums. */
    public void accumulate(DeviceArray pred, DeviceArray y, long n) {
        dev.launch("nmse_sums", Math.min(Device.gridFor(n, 256), 1024), 256, lossSums, pred, y, n);
    }

    /** The normalized MSE of the running sums (synchronizes). */
    public double loss() {
        double[] s = dev.downloadDoubles(lossSums);
        return s[0] / Math.max(s[1], 1e-30);
    }

    /** The loss of one batch and dPred = 2(ŷ − y)/Σy² into {@code dPred}. */
    public double lossAndGradient(DeviceArray pred, DeviceArray y, DeviceArray dPred, long n) {
        resetLoss();
        accumulate(pred, y, n);
        dev.launch("nmse_grad", Device.gridFor(n, 256), 256, dPred, pred, y, lossSums, n);
        return loss();
    }

    public void zeroGrad() {
        for (DeviceParam p : params) p.zeroGrad();
    }

    /** Clips the gradients to a global L2 norm of {@code maxNorm}, then one AdamW step at {@code lr}. */
    public void step(double maxNorm, double lr) {
        t++;
        dev.zero(gradSumSq);
        for (DeviceParam p : params) {
            dev.launch("sum_squares", Math.min(Device.gridFor(p.length(), 256), 1024), 256, gradSumSq, p.grad(), p.length());
        }
        float bc1 = (float) (1 - Math.pow(beta1, t)), bc2 = (float) (1 - Math.pow(beta2, t));
        for (DeviceParam p : params) {
            dev.launch("adamw", Device.gridFor(p.length(), 256), 256, p.value(), p.grad(), p.firstMoment(), p.secondMoment(), p.bf16(),
                    p.length(), gradSumSq, (float) maxNorm, (float) lr, (float) beta1, (float) beta2, bc1, bc2, 1e-8f, (float) weightDecay,
                    p.decays() ? 1 : 0);
        }
    }

    public void close() {
        dev.free(lossSums);
        dev.free(gradSumSq);
    }
}
