package dev.puzzle.hardware;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.cuda.Device;
import dev.puzzle.core.cuda.DeviceArray;
import dev.puzzle.core.ops.DeviceBlock;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.backend.Backend;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Costs timed on the GPU with CUDA events: each candidate's attention and FFN run as device blocks of the
 * model's dimensions (random weights, the backend's GEMM precision) — prefill as one forward over the
 * workload's batch of prompts (in chunks where the attention probabilities would not fit, the chunk times
 * summed), decode as the generation length × one step of the batch at the middle cache length (norm, q/k/v
 * projections, attention over the cached keys, output projection, FFN). Embeddings and head cost the LM
 * head GEMM at the last prompt position and at every step. Best of {@code reps} after a warm-up.
 * Parameters and memory are counted as the roofline model counts them. MoE blocks and q/k-norm or FP8-KV
 * attention have no device blocks and are refused.
 */
public final class DeviceCostModel implements CostModel {
    private static final long CHUNK_BYTES = 4L << 30; // attention probabilities and their gradient scratch per chunk
    private final Backend.Gpu backend;
    private final int reps;
    private final RooflineCostModel counts;
    private final Map<String, double[]> cache = new HashMap<>();

    public DeviceCostModel(Backend.Gpu backend, int reps) {
        if (reps < 1) throw new IllegalArgumentException("reps must be >= 1, got " + reps);
        this.backend = backend;
        this.reps = reps;
        this.counts = new RooflineCostModel(new HardwareProfile("count-only", Map.of("fp32", 1.0), 1, 1, 0, 1, 1, 1));
    }

    @Override
    public BlockCost block(ModelConfig m, BlockConfig b, Workload w) {
        BlockCost c = counts.block(m, b, w);
        double[] t = time(m, b, w);
        return new BlockCost(c.params(), c.weightBytes(), c.kvCacheBytes(), t[0], t[1], c.kvHeads());
    }

    @Override
    public BlockCost embeddingsAndHead(ModelConfig m, Workload w) {
        BlockCost c = counts.embeddingsAndHead(m, w);
        Device dev = backend.device();
        int B = w.batch(), D = m.dim(), V = m.vocabSize();
        synchronized (dev.lock()) {
            dev.bind();
            DeviceOps ops = new DeviceOps(dev, backend.precision());
            boolean bf16 = backend.precision() == DeviceOps.Precision.BF16;
            DeviceArray x = bf16 ? dev.bf16((long) B * D) : dev.floats((long) B * D), head = bf16 ? dev.bf16((long) V * D) : dev.floats((long) V * D),
                    logits = dev.floats((long) B * V);
            try {
                double step = best(dev, () -> ops.gemm(false, true, B, V, D, x, D, head, D, logits, V, 0f));
                return new BlockCost(c.params(), c.weightBytes(), 0, w.prefillLength() > 0 ? step : 0, step * w.generationLength(), 0);
            } finally {
                dev.free(x);
                dev.free(head);
                dev.free(logits);
                ops.close();
            }
        }
    }

    /** {prefill ms, decode ms} of the batch through one layer of block b. */
    private double[] time(ModelConfig m, BlockConfig b, Workload w) {
        String key = b + "|" + w;
        double[] hit = cache.get(key);
        if (hit != null) return hit;
        ModelConfig c = m.withBlocks(List.of(b));
        BlockOps factory = new BlockOps(c, RandomWeights.of(c, 7).tensors(), "random " + b, Backend.cpu());
        BlockOp attn = factory.attention(0, b.attention()), ffn = factory.ffn(0, b.ffn());
        if (attn.identity() && ffn.identity()) return new double[2]; // the no-op block runs nothing
        int B = w.batch(), P = w.prefillLength(), G = w.generationLength(), D = m.dim();
        Device dev = backend.device();
        double[] out = new double[2];
        synchronized (dev.lock()) {
            dev.bind();
            DeviceOps ops = new DeviceOps(dev, backend.precision());
            try {
                if (P > 0) {
                    int chunk = B;
                    if (!attn.identity()) {
                        long perSeq = 2L * m.numHeads() * P * P * 4;
                        chunk = (int) Math.max(1, Math.min(B, CHUNK_BYTES / perSeq));
                    }
                    double ms = prefill(m, attn, ffn, ops, chunk, P, D);
                    int full = B / chunk, rest = B % chunk;
                    out[0] = ms * full + (rest > 0 ? prefill(m, attn, ffn, ops, rest, P, D) : 0);
                }
                if (G > 0) out[1] = G * decodeStep(m, attn, b.attention().window(), ffn, ops, B, P + Math.max(1, G / 2), D);
            } finally {
                ops.close();
            }
        }
        cache.put(key, out);
        return out;
    }

    private DeviceBlock device(BlockOp op, ModelConfig m, DeviceOps ops, int S, int T) {
        if (op.identity()) return null;
        try {
            return op.device(ops, m, S, T);
        } catch (DeviceBlock.Unsupported e) {
            throw new PuzzleException("cost_model measured on the GPU times the blocks whose ops have device twins; " + e.getMessage()
                    + ": use cost_model: roofline");
        }
    }

    private double prefill(ModelConfig m, BlockOp attn, BlockOp ffn, DeviceOps ops, int S, int T, int D) {
        Device dev = ops.device();
        DeviceBlock a = device(attn, m, ops, S, T), f = device(ffn, m, ops, S, T);
        DeviceArray x = dev.floats((long) S * T * D), mid = dev.floats((long) S * T * D);
        try {
            return best(dev, () -> {
                DeviceArray in = x;
                if (a != null) {
                    a.forward(x, S);
                    ops.add(mid, x, a.out(), (long) S * T * D);
                    in = mid;
                }
                if (f != null) f.forward(in, S);
            });
        } finally {
            dev.free(x);
            dev.free(mid);
            if (a != null) a.close();
            if (f != null) f.close();
        }
    }

    private double decodeStep(ModelConfig m, BlockOp attn, int window, BlockOp ffn, DeviceOps ops, int B, int L, int D) {
        Device dev = ops.device();
        DeviceBlock a = device(attn, m, ops, B, 1), f = device(ffn, m, ops, B, 1);
        DeviceArray x = dev.floats((long) B * D), mid = dev.floats((long) B * D), kc = null, vc = null, sc = null;
        try {
            if (a instanceof DeviceBlock.Attention at) { // a cache to read: a window layer's holds its window (0: every position)
                int keys = window > 0 ? Math.min(L, window) : L;
                kc = dev.floats((long) B * keys * at.kvWidth());
                vc = dev.floats((long) B * keys * at.kvWidth());
                sc = dev.floats((long) B * at.heads() * keys);
                final DeviceArray k = kc, v = vc, s = sc;
                final int len = keys;
                return best(dev, () -> {
                    at.decode(x, k, v, s, B, len);
                    ops.add(mid, x, at.out(), (long) B * D);
                    if (f != null) f.forward(mid, B);
                });
            }
            return best(dev, () -> {
                DeviceArray in = x;
                if (a != null) { // the linear replacement
                    a.forward(x, B);
                    ops.add(mid, x, a.out(), (long) B * D);
                    in = mid;
                }
                if (f != null) f.forward(in, B);
            });
        } finally {
            for (DeviceArray d : new DeviceArray[]{x, mid, kc, vc, sc}) dev.free(d);
            if (a != null) a.close();
            if (f != null) f.close();
        }
    }

    /** Best of reps CUDA-event timings in ms, after one warm-up run. */
    private double best(Device dev, Runnable work) {
        work.run();
        double best = Double.MAX_VALUE;
        for (int r = 0; r < reps; r++) best = Math.min(best, dev.time(work));
        return best;
    }
}
