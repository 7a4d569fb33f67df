package dev.puzzle.examples.bench;

import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.bld.ActivationCache;
import dev.puzzle.bld.BldJob;
import dev.puzzle.bld.BldSettings;
import dev.puzzle.bld.BldTrainer;
import dev.puzzle.bld.Scorer;
import dev.puzzle.core.backend.CudaBackend;
import dev.puzzle.core.cuda.CudaDevice;
import dev.puzzle.core.cuda.CudaKernels;
import dev.puzzle.core.cuda.Device;
import dev.puzzle.core.cuda.DeviceArray;
import dev.puzzle.core.ops.DeviceBlock;
import dev.puzzle.core.cuda.DeviceOps;
import dev.puzzle.core.cuda.DeviceTraining;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.hardware.BlockCost;
import dev.puzzle.hardware.DeviceCostModel;
import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.hardware.RooflineCostModel;
import dev.puzzle.hardware.Workload;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The CUDA backend on the device (bench/gpu.sh runs it, then PyTorch on the same GPU):
 * <ol>
 * <li>equality: BLD jobs (GQA 12→3 KV heads, a window, a narrower FFN, a linear FFN) trained on the CPU
 *     and on the GPU in FP32 from the same seed — loss curves and trained weights within 1e-3 relative —
 *     and in BF16 (deviation printed); a replace-1-block score on the CPU and through the CUDA kernels;</li>
 * <li>speed: one training step (forward, loss, backward, clip, AdamW) of the stories110M-shape FFN and
 *     attention blocks, 8 × 256 tokens, FP32 and BF16, median CUDA-event time;</li>
 * <li>the 4096×4096×4096 GEMM in BF16 (FP32 accumulation) and FP32;</li>
 * <li>the measured cost model on the GPU beside the shipped H200 roofline profile.</li>
 * </ol>
 * Lines are {@code key value...}; a failed check prints FAIL and the exit code is 1.
 */
public final class GpuBench {
    /**
     * The sizes of a run: model dimensions (D, heads H of E, FFN F, vocabulary V), the timed step's S × T tokens,
     * the GEMM's n, the equality checks' sequences (of eqT tokens), their BLD steps (batches of 4) and scored sequences, and the cost model's layers
     * and workload; every timing is the median (or best) of {@code reps}.
     */
    public record Shape(int D, int H, int E, int F, int V, int S, int T, int gemmN, int eqSeqs, int eqT, int eqSteps, int scoreSeqs,
                        int costLayers, Workload costWorkload, int reps) {}

    /** The stories110M shape of the measurements. */
    public static final Shape STORIES110M = new Shape(768, 12, 64, 2048, 32000, 8, 256, 4096, 12, 128, 10, 4, 12, new Workload(8, 512, 128, "bf16", "bf16"), 30);

    private final Shape sh;
    private final java.io.PrintStream out;
    private boolean failed;

    public GpuBench(Shape sh, java.io.PrintStream out) {
        this.sh = sh;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        CudaBackend bf16;
        try {
            bf16 = CudaBackend.open(DeviceOps.Precision.BF16, Runtime.getRuntime().availableProcessors());
        } catch (CudaDevice.Unavailable e) {
            System.err.println("GpuBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        Device dev = bf16.device();
        CudaBackend fp32 = new CudaBackend(dev, DeviceOps.Precision.FP32, new CudaKernels(dev, Parallel.allCores()));
        boolean ok = new GpuBench(STORIES110M, System.out).run(fp32, bf16, args.length > 0 ? args[0] : "all");
        System.exit(ok ? 0 : 1);
    }

    /** Runs the parts {@code only} names (all, equal or speed); false when an equality check failed. */
    public boolean run(CudaBackend fp32, CudaBackend bf16, String only) {
        Device dev = fp32.device();
        out.printf(Locale.ROOT, "device %s, %.1f GiB, GEMMs by %s%n", dev.name(), dev.memoryBytes() / (double) (1L << 30),
                dev.blasAbsent() == null ? "cuBLAS" : "the PTX kernel (" + dev.blasAbsent() + ")");
        if (only.equals("all") || only.equals("equal")) equality(fp32, bf16);
        if (only.equals("all") || only.equals("speed")) {
            steps(fp32);
            steps(bf16);
            gemm(dev);
            costs(bf16);
        }
        return !failed;
    }

    ModelConfig model(int layers) {
        List<BlockConfig> blocks = new ArrayList<>();
        for (int l = 0; l < layers; l++) blocks.add(new BlockConfig(new AttentionConfig.Gqa(sh.H()), new FfnConfig.Dense(sh.F())));
        return new ModelConfig("LlamaForCausalLM", sh.D(), sh.H(), sh.E(), sh.H(), sh.F(), sh.V(), 1024, 1e-5f, 1e4f, RopeStyle.HALF_SPLIT, false, false, blocks);
    }

    // ---- 1. equality

    void equality(CudaBackend fp32, CudaBackend bf16) {
        ModelConfig parent = model(2);
        Checkpoint pw = RandomWeights.of(parent, 1);
        int S = sh.eqSeqs(), T = sh.eqT(), D = sh.D(), H = sh.H(), F = sh.F(), V = sh.V();
        Random r = new Random(3);
        float[] x = new float[S * T * D];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        BlockOps ops = new BlockOps(parent, pw.tensors(), "parent", Backend.cpu());
        float[] mid = add(x, ops.attention(0, parent.blocks().get(0).attention()).forward(x, S, T).out());
        float[] output = add(mid, ops.ffn(0, parent.blocks().get(0).ffn()).forward(mid, S, T).out());
        ActivationCache.Layer a = new ActivationCache.Layer(x, mid, output, S, T);
        BldSettings st = new BldSettings(false, (long) sh.eqSteps() * 4 * T, 4, 1e-3, 0.1, 0.1, 1.0, 1);
        Map<String, BldJob> jobs = new LinkedHashMap<>();
        jobs.put("attention gqa" + H / 4, new BldJob(0, new AttentionConfig.Gqa(H / 4), null));
        jobs.put("attention window" + T / 4 + " gqa" + H / 4, new BldJob(0, new AttentionConfig.Window(H / 4, T / 4, false), null));
        jobs.put("ffn dense" + F / 2, new BldJob(0, null, new FfnConfig.Dense(F / 2)));
        jobs.put("ffn linear", new BldJob(0, null, new FfnConfig.Linear()));
        Map<String, Tensor> trained = null;
        BlockConfig trainedBlock = null;
        for (var e : jobs.entrySet()) {
            BldJob job = e.getValue();
            BlockConfig b = new BlockConfig(job.attention() != null ? job.attention() : new AttentionConfig.Gqa(H),
                    job.ffn() != null ? job.ffn() : new FfnConfig.Dense(F));
            ModelConfig cc = parent.withBlocks(List.of(b));
            Map<String, Tensor> init = RandomWeights.of(cc, 2).tensors();
            long t0 = System.nanoTime();
            BldTrainer.Result cpu = BldTrainer.train(Backend.cpu(), parent, job, init, a, st);
            long t1 = System.nanoTime();
            BldTrainer.Result g32 = BldTrainer.train(fp32, parent, job, init, a, st);
            long t2 = System.nanoTime();
            BldTrainer.Result g16 = BldTrainer.train(bf16, parent, job, init, a, st);
            double dCurve = curveDiff(cpu.curve(), g32.curve()), dW = weightDiff(cpu.weights(), g32.weights());
            double d16 = curveDiff(cpu.curve(), g16.curve());
            boolean ok = dCurve <= 1e-3 && dW <= 1e-3;
            failed |= !ok;
            out.printf(Locale.ROOT, "bld %-24s loss %.5f -> %.5f (cpu) %.5f -> %.5f (gpu fp32) | fp32 curve %.2e weights %.2e %s | bf16 curve %.2e | %.0f ms cpu, %.0f ms gpu%n",
                    e.getKey(), cpu.curve().before(), cpu.curve().after(), g32.curve().before(), g32.curve().after(), dCurve, dW, ok ? "ok" : "FAIL",
                    d16, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
            if (job.ffn() != null && job.ffn().denseWidth() > 0) {
                trained = cpu.weights();
                trainedBlock = new BlockConfig(parent.blocks().get(0).attention(), job.ffn());
            }
        }
        // replace-1-block score: the parent with layer 0's FFN replaced, through the CPU and the CUDA backend
        Map<String, Tensor> cand = new LinkedHashMap<>(); // the parent's layer 0 with the trained FFN
        pw.tensors().forEach((k, v) -> {
            if (k.startsWith("model.layers.0.")) cand.put(k, v);
        });
        trained.forEach((k, v) -> {
            if (k.startsWith("model.layers.0.mlp.") || k.startsWith("model.layers.0.post_attention_layernorm")) cand.put(k, v);
        });
        Checkpoint child = Scorer.replaced(pw, 0, List.of(trainedBlock), cand);
        int[][] seqs = new int[sh.scoreSeqs()][T];
        for (int[] s : seqs) for (int i = 0; i < s.length; i++) s[i] = r.nextInt(V);
        for (Backend b : List.of(fp32)) {
            Map<String, Double> mc = Scorer.metrics(Backend.cpu(), Scorer.run(Backend.cpu(), pw, seqs), Scorer.run(Backend.cpu(), child, seqs), seqs, V, D);
            Map<String, Double> mg = Scorer.metrics(b, Scorer.run(b, pw, seqs), Scorer.run(b, child, seqs), seqs, V, D);
            double worst = 0;
            for (String k : mc.keySet()) worst = Math.max(worst, Math.abs(mc.get(k) - mg.get(k)) / Math.max(1e-12, Math.abs(mc.get(k))));
            boolean ok = worst <= 1e-3;
            failed |= !ok;
            out.printf(Locale.ROOT, "score replace layer 0 ffn: cpu %s | gpu %s | worst relative %.2e %s%n", mc, mg, worst, ok ? "ok" : "FAIL");
        }
    }

    static float[] add(float[] a, float[] b) {
        float[] o = a.clone();
        for (int i = 0; i < o.length; i++) o[i] += b[i];
        return o;
    }

    static double curveDiff(BldTrainer.Curve a, BldTrainer.Curve b) {
        double w = rel(a.before(), b.before());
        w = Math.max(w, rel(a.after(), b.after()));
        for (int i = 0; i < a.steps().length; i++) w = Math.max(w, rel(a.steps()[i], b.steps()[i]));
        return w;
    }

    static double rel(double a, double b) {
        return Math.abs(a - b) / Math.max(1e-12, Math.abs(a));
    }

    /**
     * ‖Δw‖ / ‖w‖ per tensor, the largest. (Not elementwise: AdamW's update is nearly sign(g)·lr, so a weight whose
     * gradient is at rounding level may move the other way on the other path, by lr a step.)
     */
    static double weightDiff(Map<String, Tensor> a, Map<String, Tensor> b) {
        double worst = 0;
        for (String k : a.keySet()) {
            float[] x = a.get(k).data(), y = b.get(k).data();
            double n = 1e-30, d = 0;
            for (int i = 0; i < x.length; i++) {
                n += (double) x[i] * x[i];
                d += (double) (x[i] - y[i]) * (x[i] - y[i]);
            }
            worst = Math.max(worst, Math.sqrt(d / n));
        }
        return worst;
    }

    // ---- 2. training-step speed

    void steps(CudaBackend backend) {
        ModelConfig c = model(1);
        BlockOps ops = new BlockOps(c, RandomWeights.of(c, 1).tensors(), "random weights", Backend.cpu());
        step(backend, "ffn", ops.ffn(0, new FfnConfig.Dense(sh.F())), c);
        step(backend, "attention", ops.attention(0, new AttentionConfig.Gqa(sh.H())), c);
    }

    void step(CudaBackend backend, String name, BlockOp op, ModelConfig c) {
        int S = sh.S(), T = sh.T(), D = sh.D();
        Device dev = backend.device();
        DeviceOps ops = new DeviceOps(dev, backend.precision());
        DeviceBlock b = op.device(ops, c, S, T);
        Random r = new Random(1);
        float[] x = new float[S * T * D], y = new float[S * T * D];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
            y[i] = (float) r.nextGaussian() * 0.1f;
        }
        DeviceArray dx = dev.upload(x), dy = dev.upload(y), dOut = dev.floats(x.length);
        DeviceTraining opt = new DeviceTraining(dev, b.params(), 0.9, 0.95, 0.1);
        Runnable one = () -> {
            opt.zeroGrad();
            b.forward(dx, S);
            opt.lossAndGradient(b.out(), dy, dOut, x.length); // synchronizes, as the trainer's divergence check does
            b.backward(dOut, S);
            opt.step(1.0, 1e-4);
        };
        int reps = sh.reps();
        for (int i = 0; i < Math.min(5, reps); i++) one.run();
        double[] ms = new double[reps];
        for (int i = 0; i < reps; i++) ms[i] = dev.time(one);
        Arrays.sort(ms);
        String p = backend.precision().name().toLowerCase();
        out.printf(Locale.ROOT, "step %s %s %.3f%n", name, p, ms[reps / 2]);
        // Where a step's time goes (medians of each phase timed alone), for the next round of kernel work.
        double[] fwd = new double[reps], bwd = new double[reps], upd = new double[reps];
        for (int i = 0; i < reps; i++) {
            opt.zeroGrad();
            fwd[i] = dev.time(() -> b.forward(dx, S));
            opt.lossAndGradient(b.out(), dy, dOut, x.length);
            bwd[i] = dev.time(() -> b.backward(dOut, S));
            upd[i] = dev.time(() -> opt.step(1.0, 1e-4));
        }
        Arrays.sort(fwd);
        Arrays.sort(bwd);
        Arrays.sort(upd);
        out.printf(Locale.ROOT, "phases %s %s forward %.3f backward %.3f clip+adamw %.3f ms%n", name, p, fwd[reps / 2], bwd[reps / 2], upd[reps / 2]);
        opt.close();
        b.close();
        for (DeviceArray d : new DeviceArray[]{dx, dy, dOut}) dev.free(d);
        ops.close();
    }

    // ---- 3. GEMM

    void gemm(Device dev) {
        int n = sh.gemmN();
        DeviceOps ops = new DeviceOps(dev, DeviceOps.Precision.BF16);
        DeviceArray a = dev.floats((long) n * n), b = dev.floats((long) n * n), c = dev.floats((long) n * n);
        DeviceArray a16 = dev.bf16((long) n * n), b16 = dev.bf16((long) n * n);
        float[] row = new float[n];
        Random r = new Random(1);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) row[j] = (float) r.nextGaussian();
            dev.upload(row, 0, a, (long) i * n, n);
            dev.upload(row, 0, b, (long) ((i * 7) % n) * n, n);
        }
        ops.toBf16(a16, a, (long) n * n);
        ops.toBf16(b16, b, (long) n * n);
        for (String p : List.of("bf16", "fp32")) {
            DeviceArray x = p.equals("bf16") ? a16 : a, y = p.equals("bf16") ? b16 : b;
            Runnable g = () -> ops.gemm(false, false, n, n, n, x, n, y, n, c, n, 0f);
            g.run();
            double[] ms = new double[Math.min(10, sh.reps())];
            for (int i = 0; i < ms.length; i++) ms[i] = dev.time(g);
            Arrays.sort(ms);
            double t = ms[ms.length / 2];
            out.printf(Locale.ROOT, "gemm%d %s %.3f ms %.1f TFLOP/s%n", n, p, t, 2.0 * n * n * n / (t * 1e-3) / 1e12);
        }
        for (DeviceArray d : new DeviceArray[]{a, b, c, a16, b16}) dev.free(d);
        ops.close();
    }

    // ---- 4. measured costs on the GPU beside the H200 roofline

    void costs(CudaBackend backend) {
        ModelConfig m = model(sh.costLayers());
        int F = sh.F(), H = sh.H();
        Workload w = sh.costWorkload();
        DeviceCostModel measured = new DeviceCostModel(backend.gpu().orElseThrow(), Math.min(5, sh.reps()));
        RooflineCostModel roof = new RooflineCostModel(HardwareProfile.load("h200"));
        out.printf(Locale.ROOT, "costs d %d, batch %d, prefill %d, generate %d (ms): block, measured prefill, roofline h200 prefill, measured decode, roofline h200 decode%n",
                sh.D(), w.batch(), w.prefillLength(), w.generationLength());
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Gqa(H), new FfnConfig.Dense(F)),
                new BlockConfig(new AttentionConfig.Gqa(H / 4), new FfnConfig.Dense(F)),
                new BlockConfig(new AttentionConfig.Gqa(H), new FfnConfig.Dense(F / 2)),
                new BlockConfig(new AttentionConfig.Window(H, Math.max(1, w.prefillLength() / 4), false), new FfnConfig.Dense(F)),
                new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.Linear()),
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(F)));
        for (BlockConfig b : blocks) {
            BlockCost c = measured.block(m, b, w), rc = roof.block(m, b, w);
            out.printf(Locale.ROOT, "cost %-40s %9.4f %9.4f %9.4f %9.4f%n", dev.puzzle.core.model.BlockNames.library(m, b), c.prefillMs(), rc.prefillMs(), c.decodeMs(), rc.decodeMs());
        }
        BlockCost c = measured.embeddingsAndHead(m, w), rc = roof.embeddingsAndHead(m, w);
        out.printf(Locale.ROOT, "cost %-40s %9.4f %9.4f %9.4f %9.4f%n", "embeddings+head", c.prefillMs(), rc.prefillMs(), c.decodeMs(), rc.decodeMs());
    }
}
