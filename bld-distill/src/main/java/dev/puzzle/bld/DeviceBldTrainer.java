package dev.puzzle.bld;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.cuda.Device;
import dev.puzzle.core.cuda.DeviceArray;
import dev.puzzle.core.ops.DeviceBlock;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.cuda.DeviceParam;
import dev.puzzle.core.cuda.DeviceTraining;
import dev.puzzle.core.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * {@link BldTrainer}'s loop on the GPU: the job's sub-blocks as {@link DeviceBlock}s, the calibration
 * activations, the batches, the loss, the gradients and AdamW all in device memory; the same batch order
 * (seeded as the CPU path), schedule, clipping and keep-the-initialization rule. The calibration rows stay on
 * the device when they take at most a quarter of its memory, else each batch is copied over as it is drawn. The
 * job holds the device for its whole run. A job whose op has no device twin is refused before any work (the CPU path
 * trains it, saying so).
 */
final class DeviceBldTrainer {
    private final Device dev;
    private final DeviceBlock attn, ffn;
    private final int B, T, D;
    private final DeviceArray xb, yb, mid, sum, dOut, dA;

    private DeviceBldTrainer(Device dev, DeviceBlock attn, DeviceBlock ffn, int B, int T, int D) {
        this.dev = dev;
        this.attn = attn;
        this.ffn = ffn;
        this.B = B;
        this.T = T;
        this.D = D;
        long n = (long) B * T * D;
        xb = dev.floats(n);
        yb = dev.floats(n);
        mid = dev.floats(n);
        sum = dev.floats(n);
        dOut = dev.floats(n);
        dA = dev.floats(n);
    }

    /**
     * The trained curve (the setup's host params hold the result); {@link DeviceBlock.Unsupported} saying why when a
     * sub-block's op has no device twin (before anything is trained).
     */
    static BldTrainer.Curve train(Backend.Gpu backend, ModelConfig cfg, BldJob job, BldTrainer.Setup s, ActivationCache.Layer a, BldSettings st) {
        Device dev = backend.device();
        int D = cfg.dim(), T = a.T(), B = Math.min(st.batchSequences(), a.S());
        synchronized (dev.lock()) {
            dev.bind();
            DeviceOps ops = new DeviceOps(dev, backend.precision());
            DeviceBlock da = null, df = null;
            DeviceBldTrainer tr = null;
            Calibration cal = null;
            DeviceTraining opt = null;
            try {
                da = s.attn() == null ? null : s.attn().device(ops, cfg, B, T);
                df = s.ffn() == null ? null : s.ffn().device(ops, cfg, B, T);
                tr = new DeviceBldTrainer(dev, da, df, B, T, D);
                cal = tr.new Calibration(s.x(), s.y());
                List<DeviceParam> params = new ArrayList<>();
                if (da != null) params.addAll(da.params());
                if (df != null) params.addAll(df.params());
                opt = new DeviceTraining(dev, params, 0.9, 0.95, st.weightDecay());
                double before = tr.evaluate(cal, a.S(), opt);
                int steps = (int) Math.max(1, st.tokens() / ((long) B * T));
                double[] curve = new double[steps];
                if (!params.isEmpty()) {
                    Random rnd = new Random(st.seed() * 1_000_003L + job.key().hashCode());
                    int[] order = BldTrainer.permutation(a.S(), rnd);
                    int cursor = 0;
                    long n = (long) B * T * D;
                    for (int step = 0; step < steps; step++) {
                        for (int b = 0; b < B; b++) {
                            if (cursor == order.length) {
                                order = BldTrainer.permutation(a.S(), rnd);
                                cursor = 0;
                            }
                            int seq = order[cursor++];
                            cal.load(seq, 1, b);
                        }
                        opt.zeroGrad();
                        DeviceArray out = tr.forward(B);
                        curve[step] = opt.lossAndGradient(out, tr.yb, tr.dOut, n);
                        if (!Double.isFinite(curve[step])) {
                            throw new Diverged("layer " + job.layer() + " " + job.id() + ": BLD diverged: loss " + curve[step] + " at step " + (step + 1)
                                    + " of " + steps + " (lr " + st.lr() + ")");
                        }
                        tr.backward(B);
                        opt.step(st.clip(), st.lrAt(step, steps));
                    }
                }
                double after = tr.evaluate(cal, a.S(), opt);
                if (!Double.isFinite(after)) throw new Diverged("layer " + job.layer() + " " + job.id() + ": BLD diverged: loss " + after + " after training (lr " + st.lr() + ")");
                if (after > before) return new BldTrainer.Curve(before, before, curve, true);
                if (da != null) da.download();
                if (df != null) df.download();
                return new BldTrainer.Curve(before, after, curve, false);
            } finally {
                if (tr != null) tr.close();
                if (opt != null) opt.close();
                if (cal != null) cal.free();
                if (da != null) da.close();
                if (df != null) df.close();
                ops.close();
            }
        }
    }

    /** The job's contribution for S sequences in xb: attention, then the FFN on x + attention. */
    private DeviceArray forward(int S) {
        long n = (long) S * T * D;
        if (attn != null) attn.forward(xb, S);
        if (ffn == null) return attn.out();
        DeviceArray in = xb;
        if (attn != null) {
            attn.ops().add(mid, xb, attn.out(), n);
            in = mid;
        }
        ffn.forward(in, S);
        if (attn == null) return ffn.out();
        ffn.ops().add(sum, attn.out(), ffn.out(), n);
        return sum;
    }

    private void backward(int S) {
        DeviceArray d = dOut;
        if (ffn != null) {
            DeviceArray dm = ffn.backward(dOut, S);
            if (attn != null) {
                ffn.ops().add(dA, dOut, dm, (long) S * T * D);
                d = dA;
            }
        }
        if (attn != null) attn.backward(d, S);
    }

    /** The normalized MSE over all S calibration sequences, in batches of B. */
    private double evaluate(Calibration cal, int S, DeviceTraining opt) {
        opt.resetLoss();
        for (int s0 = 0; s0 < S; s0 += B) {
            int nb = Math.min(B, S - s0);
            cal.load(s0, nb, 0);
            opt.accumulate(forward(nb), yb, (long) nb * T * D);
        }
        return opt.loss();
    }

    /** The calibration inputs and targets: resident on the device when they fit in a quarter of its memory, else streamed. */
    final class Calibration {
        private final float[] x, y;
        private final DeviceArray X, Y; // null: streamed from x and y

        Calibration(float[] x, float[] y) {
            this.x = x;
            this.y = y;
            boolean fits = 4L * (x.length + (long) y.length) <= dev.memoryBytes() / 4;
            X = fits ? dev.upload(x) : null;
            Y = fits ? dev.upload(y) : null;
        }

        /** Sequences first..first+n−1 into the batch buffers from slot {@code slot}. */
        void load(int first, int n, int slot) {
            int len = T * D;
            if (X != null) {
                dev.copy(X, (long) first * len, xb, (long) slot * len, (long) n * len);
                dev.copy(Y, (long) first * len, yb, (long) slot * len, (long) n * len);
            } else {
                dev.upload(x, first * len, xb, (long) slot * len, n * len);
                dev.upload(y, first * len, yb, (long) slot * len, n * len);
            }
        }

        void free() {
            dev.free(X);
            dev.free(Y);
        }
    }

    private void close() {
        for (DeviceArray x : new DeviceArray[]{xb, yb, mid, sum, dOut, dA}) dev.free(x);
    }
}
