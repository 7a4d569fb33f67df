package dev.puzzle.hardware;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.DType;

/**
 * An analytic roofline (Williams, Waterman and Patterson, 2009) per op: each kernel takes
 * max(FLOPs / achievable FLOP/s, bytes / achievable bandwidth) plus a fixed launch overhead.
 * Prefill runs the batch's prompts as GEMMs plus causal attention (quadratic in the prompt, or
 * window-bounded); decode runs one GEMV-shaped step per generated token whose attention reads the
 * KV cache up to the current position. An attention block is four kernels (q/k/v projection, RoPE
 * and KV-cache append, attention, output projection); a dense FFN three (gate/up, SiLU·mul, down). Weights are stored in the workload's weight dtype and the
 * matrix products computed in it — or, for a part whose weights are quantized, stored in that format (its bytes read,
 * 2 FLOPs per value to decode it) and computed in the workload's dtype; activations in bf16.
 */
public final class RooflineCostModel implements CostModel {
    private static final int ACT_BYTES = 2;
    private final HardwareProfile hw;

    public RooflineCostModel(HardwareProfile hw) {
        this.hw = hw;
    }

    public HardwareProfile profile() {
        return hw;
    }

    /** Seconds of one kernel. */
    private double kernel(double flops, double bytes, String computeDtype) {
        return Math.max(flops / hw.flopsPerSecond(computeDtype), bytes / hw.bytesPerSecond()) + hw.kernelOverheadUs() * 1e-6;
    }

    /** Seconds of one attention kernel, whose reads of the KV cache reach the profile's attention bandwidth. */
    private double attentionKernel(double flops, double bytes) {
        return Math.max(flops / hw.flopsPerSecond("bf16"), bytes / hw.attentionBytesPerSecond()) + hw.kernelOverheadUs() * 1e-6;
    }

    /** A GEMM of {@code tokens} rows through a (out × in) weight in the workload's weight dtype: seconds. */
    private double gemm(long tokens, long in, long out, Workload w) {
        return gemm(tokens, in, out, w, null);
    }

    /**
     * A GEMM through a weight stored in {@code format} (null: the workload's weight dtype): its stored bytes are read,
     * and a quantized weight costs its decode too (a scale multiply and a conversion per value, 2 FLOPs) before the
     * product runs in the workload's compute dtype.
     */
    private double gemm(long tokens, long in, long out, Workload w, DType format) {
        boolean q = quantized(format, in);
        double flops = 2.0 * tokens * in * out + (q ? 2.0 * in * out : 0);
        double bytes = matrixBytes(in, out, w, format) + (double) tokens * (in + out) * ACT_BYTES;
        return kernel(flops, bytes, w.weightDtype());
    }

    /** Whether a weight of rows of {@code in} values is stored in {@code format}: quantized, and its rows whole blocks of it. */
    private static boolean quantized(DType format, long in) {
        return format != null && in <= Integer.MAX_VALUE && format.fits((int) in);
    }

    /** Stored bytes of an (out × in) weight in {@code format} where its rows fit it, else in the workload's weight dtype. */
    static double matrixBytes(long in, long out, Workload w, DType format) {
        return quantized(format, in) ? (double) out * format.rowBytes(in) : (double) in * out * w.weightBytes();
    }

    @Override
    public BlockCost block(ModelConfig m, BlockConfig b, Workload w) {
        return block(m, b, w, null);
    }

    @Override
    public BlockCost block(ModelConfig m, BlockConfig b, Workload w, double[] routing) {
        return attention(m, b.attention(), w, null).plus(ffn(m, b.ffn(), w, routing, null));
    }

    /**
     * Experts a batch of T tokens is expected to touch: Σᵢ 1 − (1 − pᵢ)^T, pᵢ the probability that a token
     * selects expert i; uniform routing (pᵢ = k/E) when {@code routing} is null.
     */
    public static double activeExperts(int E, int K, long T, double[] routing) {
        if (routing == null) return E * (1 - Math.pow(1 - (double) K / E, T));
        if (routing.length != E) throw new IllegalArgumentException("routing of " + routing.length + " experts for a layer of " + E);
        double a = 0;
        for (double p : routing) a += 1 - Math.pow(1 - Math.min(1, Math.max(0, p)), T);
        return a;
    }

    /** An attention part whose matrices are stored in {@code format} (null: the workload's weight dtype). */
    private BlockCost attention(ModelConfig m, AttentionConfig a, Workload w, DType format) {
        return switch (a) {
            case AttentionConfig.NoOp n -> BlockCost.ZERO;
            case AttentionConfig.Linear l -> linear(m.dim(), w, format);
            case AttentionConfig.Mamba2 mb -> mamba2(m.dim(), mb, w, format);
            case AttentionConfig.Gqa g -> gqa(m, g.numKvHeads(), 0, g.fp8Kv(), w, format);
            case AttentionConfig.Window win -> gqa(m, win.numKvHeads(), win.window(), win.fp8Kv(), w, format);
            case AttentionConfig.Quantized q -> attention(m, q.base(), w, q.weights());
        };
    }

    /** A GQA layer; an FP8 KV cache stores and reads 1 byte per K/V element instead of the workload's KV dtype. */
    private BlockCost gqa(ModelConfig m, int kv, int window, boolean fp8Kv, Workload w, DType format) {
        int D = m.dim(), E = m.headDim(), H = m.numHeads(), HE = H * E, GE = kv * E;
        int B = w.batch(), P = w.prefillLength(), G = w.generationLength();
        long vectors = (m.qkvBias() ? HE + 2L * GE : 0) + D; // biases and its RMSNorm
        long params = (long) D * HE * 2 + 2L * D * GE + vectors;
        double weightBytes = matrixBytes(D, HE, w, format) + 2 * matrixBytes(D, GE, w, format) + matrixBytes(HE, D, w, format) + vectors * w.weightBytes();
        long kvPerToken = 2L * GE * (fp8Kv ? 1 : w.kvBytes());
        int cached = window > 0 ? Math.min(window, P + G) : P + G;
        long kvBytes = (long) B * cached * kvPerToken;
        double prefill = 0;
        if (P > 0) {
            long T = (long) B * P;
            prefill += gemm(T, D, HE + 2L * GE, w, format) + ropeAppend(T, HE, GE, kvPerToken) + gemm(T, HE, D, w, format);
            double keys = 0; // Σ over prompt positions of keys attended
            for (int t = 0; t < P; t++) keys += window > 0 ? Math.min(t + 1, window) : t + 1;
            double flops = 4.0 * B * H * E * keys;
            double bytes = (double) T * (2L * HE) * ACT_BYTES + (double) B * keys / Math.max(1, P) * kvPerToken;
            prefill += attentionKernel(flops, bytes);
        }
        double decode = 0;
        for (int g = 0; g < G; g++) {
            int ctx = P + g + 1;
            int n = window > 0 ? Math.min(ctx, window) : ctx;
            decode += gemm(B, D, HE + 2L * GE, w, format) + ropeAppend(B, HE, GE, kvPerToken) + gemm(B, HE, D, w, format);
            decode += attentionKernel(4.0 * B * H * E * n, (double) B * n * kvPerToken + (double) B * 2 * HE * ACT_BYTES);
        }
        return new BlockCost(params, Math.round(weightBytes), kvBytes, prefill * 1e3, decode * 1e3, kv);
    }

    /** RoPE on q and k and the KV-cache append, for T tokens: an elementwise kernel. */
    private double ropeAppend(long T, int HE, int GE, long kvPerToken) {
        return kernel(6.0 * T * (HE + GE), (double) T * (HE + 2L * GE) * 2 * ACT_BYTES + (double) T * kvPerToken, "bf16");
    }

    /**
     * A Mamba-2 mixer: in_proj and out_proj GEMMs, the causal conv and the scan as elementwise kernels (per token and head
     * about 6·P·N FLOPs: decay, outer product, read-out), no KV cache — its state per sequence is the conv window (K−1
     * inputs of C channels, the workload's KV dtype) and the SSM state (H·P·N, FP32), whatever the context.
     */
    private BlockCost mamba2(int D, AttentionConfig.Mamba2 mb, Workload w, DType format) {
        int B = w.batch(), P = w.prefillLength(), G = w.generationLength(), H = mb.heads(), I = mb.inner(), C = mb.convChannels(), K = mb.conv();
        long proj = (long) I + C + H, vectors = (long) C * K + C + 3L * H + I + D;
        long params = D * proj + (long) I * D + vectors;
        double weightBytes = matrixBytes(D, (int) proj, w, format) + matrixBytes(I, D, w, format) + vectors * w.weightBytes();
        long ssm = (long) H * mb.headDim() * mb.state();
        long stateBytes = (long) B * ((long) (K - 1) * C * w.kvBytes() + ssm * 4);
        double prefill = 0;
        if (P > 0) {
            long T = (long) B * P;
            prefill += gemm(T, D, proj, w, format) + gemm(T, I, D, w, format);
            prefill += kernel(2.0 * T * C * K + 6.0 * T * ssm, (double) T * (proj + I) * 2 * ACT_BYTES, "bf16");
        }
        double decode = 0;
        for (int g = 0; g < G; g++) {
            decode += gemm(B, D, proj, w, format) + gemm(B, I, D, w, format);
            decode += kernel(2.0 * B * C * K + 6.0 * B * ssm, (double) B * (proj + I) * 2 * ACT_BYTES + 2.0 * stateBytes, "bf16");
        }
        return new BlockCost(params, Math.round(weightBytes), stateBytes, prefill * 1e3, decode * 1e3, 0);
    }

    private BlockCost linear(int D, Workload w, DType format) {
        int B = w.batch(), P = w.prefillLength(), G = w.generationLength();
        long params = (long) D * D + D; // + its RMSNorm
        double prefill = P > 0 ? gemm((long) B * P, D, D, w, format) : 0;
        double decode = G * gemm(B, D, D, w, format);
        return new BlockCost(params, Math.round(matrixBytes(D, D, w, format) + (double) D * w.weightBytes()), 0, prefill * 1e3, decode * 1e3, 0);
    }

    /** An FFN part whose matrices are stored in {@code format} (null: the workload's weight dtype; a MoE router keeps it). */
    private BlockCost ffn(ModelConfig m, FfnConfig f, Workload w, double[] routing, DType format) {
        int D = m.dim(), B = w.batch(), P = w.prefillLength(), G = w.generationLength();
        return switch (f) {
            case FfnConfig.NoOp n -> BlockCost.ZERO;
            case FfnConfig.Linear l -> linear(D, w, format);
            case FfnConfig.Quantized q -> ffn(m, q.base(), w, routing, q.weights());
            case FfnConfig.Moe e -> {
                int E = e.numExperts(), K = e.topK(), I = e.expertIntermediate(), SI = e.sharedIntermediate();
                int in = m.extensions().sigmoidExperts() != null ? 1 : 2; // Nemotron 3's squared-ReLU experts: up only; SwiGLU: gate and up
                long params = (long) E * ((in + 1L) * D * I + D) + D + (SI > 0 ? (in + 1L) * D * SI + D : 0);
                double bytes = E * (in * matrixBytes(D, I, w, format) + matrixBytes(I, D, w, format)) + (double) E * D * w.weightBytes() + (double) D * w.weightBytes()
                        + (SI > 0 ? in * matrixBytes(D, SI, w, format) + matrixBytes(SI, D, w, format) + (double) D * w.weightBytes() : 0);
                // Every kept expert counts in memory; time counts the experts a batch of B tokens is expected to
                // touch (activeExperts: measured routing, else uniform), each running its share B·k/active of the tokens.
                double prefill = P > 0 ? moeStep((long) B * P, D, E, K, I, SI, in, w, routing, format) : 0;
                yield new BlockCost(params, Math.round(bytes), 0, prefill * 1e3, G * moeStep(B, D, E, K, I, SI, in, w, routing, format) * 1e3, 0);
            }
            case FfnConfig.Dense d -> {
                int F = d.intermediateSize();
                long params = 3L * D * F + D; // + its RMSNorm
                double bytes = 2 * matrixBytes(D, F, w, format) + matrixBytes(F, D, w, format) + (double) D * w.weightBytes();
                // gate and up as one (2F × D) GEMM, SiLU·mul elementwise, down (D × F).
                double prefill = 0;
                if (P > 0) {
                    long T = (long) B * P;
                    prefill = gemm(T, D, 2L * F, w, format) + kernel(4.0 * T * F, 3.0 * T * F * ACT_BYTES, "bf16") + gemm(T, F, D, w, format);
                }
                double step = gemm(B, D, 2L * F, w, format) + kernel(4.0 * B * F, 3.0 * B * F * ACT_BYTES, "bf16") + gemm(B, F, D, w, format);
                yield new BlockCost(params, Math.round(bytes), 0, prefill * 1e3, G * step * 1e3, 0);
            }
            case FfnConfig.Relu2 r -> {
                int F = r.intermediateSize();
                long params = 2L * D * F + D; // up, down, its RMSNorm
                double bytes = matrixBytes(D, F, w, format) + matrixBytes(F, D, w, format) + (double) D * w.weightBytes();
                // up (F × D), relu² elementwise, down (D × F).
                double prefill = 0;
                if (P > 0) {
                    long T = (long) B * P;
                    prefill = gemm(T, D, F, w, format) + kernel(2.0 * T * F, 2.0 * T * F * ACT_BYTES, "bf16") + gemm(T, F, D, w, format);
                }
                double step = gemm(B, D, F, w, format) + kernel(2.0 * B * F, 2.0 * B * F * ACT_BYTES, "bf16") + gemm(B, F, D, w, format);
                yield new BlockCost(params, Math.round(bytes), 0, prefill * 1e3, G * step * 1e3, 0);
            }
        };
    }

    /**
     * One MoE layer over T tokens: the router, the active experts' input GEMM ({@code in} = 2: gate and up; 1: Nemotron 3's
     * up only), activation and down GEMM (in {@code format}), the shared expert.
     */
    private double moeStep(long T, int D, int E, int K, int I, int SI, int in, Workload w, double[] routing, DType format) {
        double active = Math.max(1e-9, activeExperts(E, K, T, routing));
        long perExpert = Math.max(1, Math.round(T * (double) K / active));
        double t = gemm(T, D, E, w) + active * (gemm(perExpert, D, (long) in * I, w, format) + kernel(2.0 * in * perExpert * I, (in + 1.0) * perExpert * I * ACT_BYTES, "bf16")
                + gemm(perExpert, I, D, w, format));
        if (SI > 0) t += gemm(T, D, (long) in * SI, w, format) + kernel(2.0 * in * T * SI, (in + 1.0) * T * SI * ACT_BYTES, "bf16") + gemm(T, SI, D, w, format);
        return t;
    }

    @Override
    public BlockCost embeddingsAndHead(ModelConfig m, Workload w) {
        int D = m.dim(), V = m.vocabSize(), B = w.batch(), P = w.prefillLength(), G = w.generationLength();
        long params = (long) V * D * (m.tiedEmbeddings() ? 1 : 2) + D;
        // Prefill needs logits only at the last prompt position; decode at every step.
        double prefill = P > 0 ? gemm(B, D, V, w) : 0;
        double decode = G * gemm(B, D, V, w);
        return new BlockCost(params, params * w.weightBytes(), 0, prefill * 1e3, decode * 1e3, 0);
    }
}
