package dev.puzzle.blocklibrary;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.MoeOp;
import dev.puzzle.core.ops.Ops;
import dev.puzzle.core.backend.Backend;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * Initializes a candidate sub-block of layer {@code l} from the parent (Puzzle, section 3): KV heads by
 * mean-pooling each group of the parent's K and V projections; a narrower FFN by keeping the channels
 * that contribute most on calibration activations (mean |silu(gate)·up| × ‖down column‖); a linear
 * replacement by least squares of the parent sub-block's contribution on its normed input; no-op has
 * no weights. Calibration activations come in as (N, D) rows: the sub-block's input and the parent
 * sub-block's contribution f(x).
 */
public final class CandidateInit {
    private CandidateInit() {}

    /** The tensors (HF names of layer l) of an attention candidate. */
    public static Map<String, Tensor> attention(Backend backend, ModelConfig parent, Map<String, Tensor> pw, int l, AttentionConfig a,
                                                float[] x, float[] contribution, int N) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        switch (a) {
            case AttentionConfig.NoOp n -> { }
            case AttentionConfig.Linear lin -> {
                out.put(layer(l, ATTN_NORM), pw.get(layer(l, ATTN_NORM)).copy());
                out.put(layer(l, ATTN_LINEAR), leastSquares(new Ops(backend.kernels()), parent, pw.get(layer(l, ATTN_NORM)).data(), x, contribution, N));
            }
            case AttentionConfig.Mamba2 m -> {
                if (parent.parentBlock(l).attention().unquantized() instanceof AttentionConfig.Mamba2 pm) prunedMamba2(backend, parent, pw, l, pm, m, x, N, out);
                else mamba2(parent, pw, l, m, out);
            }
            case AttentionConfig.Gqa g -> pooled(parent, pw, l, g.numKvHeads(), out);
            case AttentionConfig.Window w -> pooled(parent, pw, l, w.numKvHeads(), out);
            case AttentionConfig.Quantized q -> { // its base's FP32 weights: the masters BLD trains and the ops quantize
                return attention(backend, parent, pw, l, q.base(), x, contribution, N);
            }
        }
        if (a.fp8Kv()) kvScales(backend, parent, out, l, a.kvHeads(), x, N);
        return out;
    }

    /**
     * Calibrates an FP8 KV cache: per KV head, scale = max|·| / 448 over the calibration rows x, for V its
     * entries and for K the norms of its RoPE pairs (which bound every rotated coordinate at any
     * position), so that no cached value saturates. Adds {@code k_scale} and {@code v_scale} to {@code t}.
     */
    static void kvScales(Backend backend, ModelConfig c, Map<String, Tensor> t, int l, int G, float[] x, int N) {
        int D = c.dim(), E = c.headDim(), GE = G * E;
        Ops ops = new Ops(backend.kernels());
        float[] h = new float[N * D], k = new float[N * GE], v = new float[N * GE];
        ops.rmsnormForward(h, new float[N], x, t.get(layer(l, ATTN_NORM)).data(), N, D, c.normEps());
        Tensor kb = t.get(layer(l, K_BIAS)), vb = t.get(layer(l, V_BIAS));
        ops.linearForward(k, h, t.get(layer(l, K)), kb == null ? null : kb.data(), N, D, GE);
        ops.linearForward(v, h, t.get(layer(l, V)), vb == null ? null : vb.data(), N, D, GE);
        if (c.qkNorm()) {
            float[] kn = k.clone();
            ops.rmsnormForward(k, new float[N * G], kn, t.get(layer(l, K_NORM)).data(), N * G, E, c.normEps());
        }
        float[] ks = new float[G], vs = new float[G];
        for (int n = 0; n < N; n++) {
            for (int g = 0; g < G; g++) {
                int o = n * GE + g * E;
                for (int i = 0; i < E / 2; i++) {
                    int a = c.ropeStyle() == dev.puzzle.core.model.RopeStyle.INTERLEAVED ? o + 2 * i : o + i;
                    int b = c.ropeStyle() == dev.puzzle.core.model.RopeStyle.INTERLEAVED ? o + 2 * i + 1 : o + i + E / 2;
                    ks[g] = Math.max(ks[g], (float) Math.hypot(k[a], k[b]));
                }
                for (int i = 0; i < E; i++) vs[g] = Math.max(vs[g], Math.abs(v[o + i]));
            }
        }
        double rotated = c.ropeFrequencies().scale(); // YaRN scales every rotated coordinate
        for (int g = 0; g < G; g++) {
            ks[g] *= (float) rotated;
            if (!(ks[g] > 0) || !(vs[g] > 0) || Float.isInfinite(ks[g]) || Float.isInfinite(vs[g])) {
                throw new PuzzleException("layer " + l + ": FP8 KV calibration of KV head " + g + " found max |K| " + ks[g] + ", max |V| " + vs[g]
                        + " on the calibration text: a scale must be positive and finite");
            }
            ks[g] /= dev.puzzle.core.tensor.Fp8E4M3.MAX;
            vs[g] /= dev.puzzle.core.tensor.Fp8E4M3.MAX;
        }
        t.put(layer(l, K_SCALE), new Tensor(ks, G));
        t.put(layer(l, V_SCALE), new Tensor(vs, G));
    }

    /** The tensors (HF names of layer l) of an FFN candidate. */
    public static Map<String, Tensor> ffn(Backend backend, ModelConfig parent, Map<String, Tensor> pw, int l, FfnConfig f,
                                          float[] x, float[] contribution, int N) {
        return ffn(backend, parent, pw, l, f, x, contribution, N, null);
    }

    /**
     * The tensors of an FFN candidate; a MoE candidate with fewer experts than the parent's layer keeps the
     * experts {@code experts} scores highest on the calibration rows x (the layer's FFN input).
     */
    public static Map<String, Tensor> ffn(Backend backend, ModelConfig parent, Map<String, Tensor> pw, int l, FfnConfig f,
                                          float[] x, float[] contribution, int N, ExpertScoring.Scorer experts) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        switch (f) {
            case FfnConfig.Quantized q -> { // its base's FP32 weights: the masters BLD trains and the ops quantize
                return ffn(backend, parent, pw, l, q.base(), x, contribution, N, experts);
            }
            case FfnConfig.NoOp n -> { }
            case FfnConfig.Linear lin -> {
                out.put(layer(l, FFN_NORM), pw.get(layer(l, FFN_NORM)).copy());
                out.put(layer(l, FFN_LINEAR), leastSquares(new Ops(backend.kernels()), parent, pw.get(layer(l, FFN_NORM)).data(), x, contribution, N));
            }
            case FfnConfig.Moe m -> {
                if (!(parent.parentBlock(l).ffn() instanceof FfnConfig.Moe pm) || m.numExperts() > pm.numExperts()
                        || pm.expertIntermediate() != m.expertIntermediate() || pm.sharedIntermediate() != m.sharedIntermediate()) {
                    throw new PuzzleException("layer " + l + ": MoE candidate " + m + " is not a subset of the parent's layer " + parent.parentBlock(l).ffn());
                }
                int[] keep = identity(m.numExperts());
                if (m.numExperts() < pm.numExperts()) {
                    if (experts == null) throw new IllegalArgumentException("layer " + l + ": a MoE candidate with fewer experts needs an expert scorer");
                    MoeOp op = new BlockOps(parent, pw, "the parent", backend).moe(l, pm);
                    keep = topExperts(experts.score(op, x, N), m.numExperts());
                }
                out.putAll(experts(pw, l, pm, keep));
            }
            case FfnConfig.Dense d -> out.putAll(narrower(backend, parent, pw, l, d.intermediateSize(), true, x, N));
            case FfnConfig.Relu2 r -> {
                if (!pw.containsKey(layer(l, UP)) || pw.containsKey(layer(l, GATE))) {
                    throw new PuzzleException("layer " + l + ": a squared-ReLU MLP candidate starts from the parent's squared-ReLU MLP, which this layer does not have");
                }
                out.putAll(narrower(backend, parent, pw, l, r.intermediateSize(), false, x, N));
            }
        }
        return out;
    }

    /**
     * Layer l's FFN kept at {@code keep} of its channels ({@link #topChannels}; all, in order, when it keeps its width): the
     * rows of up (and, {@code gated}, of gate) and the columns of down, the norm copied.
     */
    private static Map<String, Tensor> narrower(Backend backend, ModelConfig parent, Map<String, Tensor> pw, int l, int keep, boolean gated,
                                                float[] x, int N) {
        Tensor w1 = gated ? pw.get(layer(l, GATE)) : null, w3 = pw.get(layer(l, UP)), w2 = pw.get(layer(l, DOWN));
        int D = parent.dim(), F = w3.dim(0);
        if (keep > F) throw new PuzzleException("layer " + l + ": FFN width " + keep + " exceeds the parent's " + F);
        int[] idx = keep == F ? identity(F) : topChannels(new Ops(backend.kernels()), parent, pw.get(layer(l, FFN_NORM)).data(), w1, w3, w2, x, N, keep);
        Tensor n1 = gated ? Tensor.zeros(keep, D) : null, n3 = Tensor.zeros(keep, D), n2 = Tensor.zeros(D, keep);
        float[] down = w2.data(), newDown = n2.data(); // one widened copy of the layer's tensor, not one per use
        for (int j = 0; j < keep; j++) {
            if (gated) w1.rows(idx[j], 1, n1.data(), j * D);
            w3.rows(idx[j], 1, n3.data(), j * D);
            for (int i = 0; i < D; i++) newDown[i * keep + j] = down[i * F + idx[j]];
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(layer(l, FFN_NORM), pw.get(layer(l, FFN_NORM)).copy());
        if (gated) out.put(layer(l, GATE), n1);
        out.put(layer(l, UP), n3);
        out.put(layer(l, DOWN), n2);
        return out;
    }

    /**
     * A MoE layer keeping the parent's experts {@code keep} (in that order, renumbered 0..n−1): the
     * router's rows (and gpt-oss's router bias, Nemotron 3's selection bias) sliced to match, the norm and any shared expert copied, gpt-oss's
     * expert biases kept with their experts.
     */
    public static Map<String, Tensor> experts(Map<String, Tensor> pw, int l, FfnConfig.Moe parentMoe, int[] keep) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(layer(l, FFN_NORM), pw.get(layer(l, FFN_NORM)).copy());
        Tensor router = pw.get(layer(l, ROUTER));
        int D = router.cols();
        Tensor r = Tensor.zeros(keep.length, D);
        for (int j = 0; j < keep.length; j++) {
            if (keep[j] < 0 || keep[j] >= parentMoe.numExperts()) throw new IllegalArgumentException("layer " + l + ": no expert " + keep[j]);
            router.rows(keep[j], 1, r.data(), j * D);
        }
        out.put(layer(l, ROUTER), r);
        for (String perExpert : new String[]{ROUTER_BIAS, ROUTER_CORRECTION}) { // gpt-oss's router bias, Nemotron 3's selection bias
            Tensor bias = pw.get(layer(l, perExpert));
            if (bias == null) continue;
            float[] b = bias.copy().data(), kept = new float[keep.length];
            for (int j = 0; j < keep.length; j++) kept[j] = b[keep[j]];
            out.put(layer(l, perExpert), new Tensor(kept, keep.length));
        }
        for (int j = 0; j < keep.length; j++) {
            for (String proj : new String[]{EXPERT_GATE, EXPERT_UP, EXPERT_DOWN}) {
                Tensor w = pw.get(layer(l, expert(keep[j], proj)));
                if (w == null && proj.equals(EXPERT_GATE)) continue; // Nemotron 3's squared-ReLU experts have no gate
                out.put(layer(l, expert(j, proj)), w.copy());
                Tensor bias = pw.get(layer(l, expertBias(keep[j], proj)));
                if (bias != null) out.put(layer(l, expertBias(j, proj)), bias.copy());
            }
        }
        for (String n : new String[]{SHARED_GATE, SHARED_UP, SHARED_DOWN, SHARED_EXPERT_GATE}) {
            Tensor t = pw.get(layer(l, n));
            if (t != null) out.put(layer(l, n), t.copy());
        }
        return out;
    }

    /** The {@code n} experts of highest score, in their original order (ties: the lower index). */
    public static int[] topExperts(double[] scores, int n) {
        if (n < 1 || n > scores.length) throw new IllegalArgumentException("cannot keep " + n + " of " + scores.length + " experts");
        Integer[] idx = new Integer[scores.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (a, b) -> scores[a] != scores[b] ? Double.compare(scores[b], scores[a]) : Integer.compare(a, b));
        int[] k = new int[n];
        for (int i = 0; i < n; i++) k[i] = idx[i];
        java.util.Arrays.sort(k);
        return k;
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    /**
     * Indices (ascending) of the {@code keep} channels with the largest mean |silu(a)·b| · ‖W2[:, j]‖ — or, without a gate
     * (w1 null, a squared-ReLU MLP), mean relu(b)² · ‖W2[:, j]‖.
     */
    static int[] topChannels(Ops ops, ModelConfig c, float[] norm, Tensor w1, Tensor w3, Tensor w2, float[] x, int N, int keep) {
        int D = c.dim(), F = w3.dim(0);
        float[] h = new float[N * D], rstd = new float[N], b = new float[N * F], g = new float[N * F];
        ops.rmsnormForward(h, rstd, x, norm, N, D, c.normEps());
        ops.linearForward(b, h, w3, null, N, D, F);
        if (w1 != null) {
            float[] a = new float[N * F];
            ops.linearForward(a, h, w1, null, N, D, F);
            Ops.swigluForward(g, a, b, N * F);
        } else {
            for (int i = 0; i < N * F; i++) g[i] = Math.max(b[i], 0f) * Math.max(b[i], 0f);
        }
        double[] score = new double[F];
        for (int n = 0; n < N; n++) for (int j = 0; j < F; j++) score[j] += Math.abs(g[n * F + j]);
        float[] down = w2.data();
        for (int j = 0; j < F; j++) {
            double col = 0;
            for (int i = 0; i < D; i++) col += (double) down[i * F + j] * down[i * F + j];
            score[j] = score[j] / N * Math.sqrt(col);
        }
        Integer[] order = new Integer[F];
        for (int j = 0; j < F; j++) order[j] = j;
        Arrays.sort(order, (p, q) -> score[p] != score[q] ? Double.compare(score[q], score[p]) : Integer.compare(p, q));
        int[] idx = new int[keep];
        for (int j = 0; j < keep; j++) idx[j] = order[j];
        Arrays.sort(idx);
        return idx;
    }

    /**
     * A Mamba-2 mixer from the parent's attention, as attention-to-SSM distillation initializes one (Wang et al. 2024,
     * "The Mamba in the Llama"): where its shape is the attention's — the parent's heads and head dim, a group per KV head
     * and a state of head-dim size — x takes V (each head its KV head's), B takes K, C the first query head of each group,
     * out_proj takes O, the conv passes its input through (last tap 1) and D = 1; the gate z starts Gaussian. Otherwise
     * every projection starts Gaussian and out_proj zero, so the block starts as the identity and BLD grows it. dt_bias,
     * A_log as Mamba-2 initializes them.
     */
    private static void mamba2(ModelConfig c, Map<String, Tensor> pw, int l, AttentionConfig.Mamba2 m, Map<String, Tensor> out) {
        int D = c.dim(), H = m.heads(), P = m.headDim(), N = m.state(), G = m.groups(), taps = m.conv(), I = m.inner(), C = m.convChannels();
        java.util.Random r = new java.util.Random(1_000_003L * l + 17);
        out.put(layer(l, ATTN_NORM), pw.containsKey(layer(l, ATTN_NORM)) ? pw.get(layer(l, ATTN_NORM)).copy() : ones(D));
        Tensor in = dev.puzzle.core.io.RandomWeights.gauss(r, 1 / Math.sqrt(D), I + C + H, D), conv = dev.puzzle.core.io.RandomWeights.gauss(r, 1 / Math.sqrt(taps), C, taps), outProj = Tensor.zeros(D, I);
        Tensor d = Tensor.zeros(H);
        boolean fromAttention = pw.containsKey(layer(l, Q)) && H == c.numHeads() && P == c.headDim() && G == c.numKvHeads() && N == c.headDim()
                && !c.qkvBias() && !c.qkNorm();
        if (fromAttention) {
            float[] q = pw.get(layer(l, Q)).copy().data(), k = pw.get(layer(l, K)).copy().data(), v = pw.get(layer(l, V)).copy().data();
            float[] w = in.data();
            int group = H / G;
            for (int h = 0; h < H; h++) System.arraycopy(v, (h / group) * P * D, w, (I + h * P) * D, P * D);  // x ← V
            System.arraycopy(k, 0, w, (I + I) * D, G * N * D);                                              // B ← K
            for (int g = 0; g < G; g++) System.arraycopy(q, g * group * P * D, w, (I + I + G * N + g * N) * D, N * D); // C ← Q
            outProj = pw.get(layer(l, O)).copy();
            float[] cw = conv.data();
            java.util.Arrays.fill(cw, 0f);
            for (int ch = 0; ch < C; ch++) cw[ch * taps + taps - 1] = 1f;
            java.util.Arrays.fill(d.data(), 1f);
        }
        out.put(layer(l, MAMBA_IN), in);
        out.put(layer(l, MAMBA_CONV), conv);
        out.put(layer(l, MAMBA_CONV_BIAS), Tensor.zeros(C));
        out.put(layer(l, MAMBA_DT_BIAS), new Tensor(dev.puzzle.core.ops.Mamba2Op.initialDtBias(r, H, 0.001, 0.1), H));
        out.put(layer(l, MAMBA_A_LOG), new Tensor(dev.puzzle.core.ops.Mamba2Op.initialALog(H), H));
        out.put(layer(l, MAMBA_D), d);
        out.put(layer(l, MAMBA_NORM), ones(I));
        out.put(layer(l, MAMBA_OUT), outProj);
    }

    /**
     * A Mamba-2 candidate of a layer that is Mamba-2 in the parent: the parent's mixer itself, or fewer heads of it (same
     * head dim, state, groups and conv) — in each group the heads that contribute most on the calibration rows x
     * ({@link dev.puzzle.core.ops.Mamba2Op#headScores}), so that every kept head reads its own group's B and C. The
     * gated norm keeps its kept channels' weights (its groups are narrower: BLD adjusts).
     */
    private static void prunedMamba2(Backend backend, ModelConfig c, Map<String, Tensor> pw, int l, AttentionConfig.Mamba2 pm, AttentionConfig.Mamba2 m,
                                     float[] x, int rows, Map<String, Tensor> out) {
        if (m.headDim() != pm.headDim() || m.state() != pm.state() || m.groups() != pm.groups() || m.conv() != pm.conv() || m.heads() > pm.heads()
                || m.heads() % m.groups() != 0) {
            throw new PuzzleException("layer " + l + ": Mamba-2 candidate " + m + " is not the parent's " + pm + " with fewer heads (a multiple of its "
                    + pm.groups() + " groups)");
        }
        for (String n : new String[]{ATTN_NORM, MAMBA_IN, MAMBA_CONV, MAMBA_CONV_BIAS, MAMBA_DT_BIAS, MAMBA_A_LOG, MAMBA_D, MAMBA_NORM, MAMBA_OUT}) {
            out.put(layer(l, n), pw.get(layer(l, n)).copy());
        }
        if (m.heads() == pm.heads()) return;
        int D = c.dim(), H = pm.heads(), P = pm.headDim(), G = pm.groups(), I = H * P, C = pm.convChannels(), K = pm.conv(), GN = 2 * G * pm.state();
        int perGroup = H / G, keepPerGroup = m.heads() / G;
        double[] score = new BlockOps(c, pw, "the parent", backend).mamba2(l, pm).headScores(x, rows);
        int[] keep = new int[m.heads()];
        for (int g = 0; g < G; g++) {
            double[] s = java.util.Arrays.copyOfRange(score, g * perGroup, (g + 1) * perGroup);
            int[] top = topExperts(s, keepPerGroup);
            for (int j = 0; j < keepPerGroup; j++) keep[g * keepPerGroup + j] = g * perGroup + top[j];
        }
        int H2 = m.heads(), I2 = H2 * P, C2 = I2 + GN;
        float[] in = out.get(layer(l, MAMBA_IN)).data(), conv = out.get(layer(l, MAMBA_CONV)).data(), convB = out.get(layer(l, MAMBA_CONV_BIAS)).data();
        float[] dtB = out.get(layer(l, MAMBA_DT_BIAS)).data(), aLog = out.get(layer(l, MAMBA_A_LOG)).data(), dd = out.get(layer(l, MAMBA_D)).data();
        float[] gn = out.get(layer(l, MAMBA_NORM)).data(), op = out.get(layer(l, MAMBA_OUT)).data();
        float[] in2 = new float[(I2 + C2 + H2) * D], conv2 = new float[C2 * K], convB2 = new float[C2], dtB2 = new float[H2], aLog2 = new float[H2], d2 = new float[H2];
        float[] gn2 = new float[I2], op2 = new float[D * I2];
        for (int j = 0; j < H2; j++) {
            int h = keep[j];
            System.arraycopy(in, h * P * D, in2, j * P * D, P * D);                      // z rows
            System.arraycopy(in, (I + h * P) * D, in2, (I2 + j * P) * D, P * D);         // x rows
            System.arraycopy(in, (I + C + h) * D, in2, (I2 + C2 + j) * D, D);            // dt row
            System.arraycopy(conv, h * P * K, conv2, j * P * K, P * K);
            System.arraycopy(convB, h * P, convB2, j * P, P);
            System.arraycopy(gn, h * P, gn2, j * P, P);
            for (int d = 0; d < D; d++) System.arraycopy(op, d * I + h * P, op2, d * I2 + j * P, P);
            dtB2[j] = dtB[h];
            aLog2[j] = aLog[h];
            d2[j] = dd[h];
        }
        System.arraycopy(in, (I + I) * D, in2, (I2 + I2) * D, GN * D);                   // B, C rows: all groups kept
        System.arraycopy(conv, I * K, conv2, I2 * K, GN * K);
        System.arraycopy(convB, I, convB2, I2, GN);
        out.put(layer(l, MAMBA_IN), new Tensor(in2, I2 + C2 + H2, D));
        out.put(layer(l, MAMBA_CONV), new Tensor(conv2, C2, K));
        out.put(layer(l, MAMBA_CONV_BIAS), new Tensor(convB2, C2));
        out.put(layer(l, MAMBA_DT_BIAS), new Tensor(dtB2, H2));
        out.put(layer(l, MAMBA_A_LOG), new Tensor(aLog2, H2));
        out.put(layer(l, MAMBA_D), new Tensor(d2, H2));
        out.put(layer(l, MAMBA_NORM), new Tensor(gn2, I2));
        out.put(layer(l, MAMBA_OUT), new Tensor(op2, D, I2));
    }

    private static Tensor ones(int n) {
        Tensor t = Tensor.zeros(n);
        java.util.Arrays.fill(t.data(), 1f);
        return t;
    }

    /** K and V of each new KV head = the mean of the parent's heads it merges; q, o and the norm are copied. */
    private static void pooled(ModelConfig c, Map<String, Tensor> pw, int l, int kv, Map<String, Tensor> out) {
        int G = c.numKvHeads(), E = c.headDim(), D = c.dim();
        if (kv > G || G % kv != 0) throw new PuzzleException("layer " + l + ": " + kv + " KV heads cannot pool the parent's " + G);
        out.put(layer(l, ATTN_NORM), pw.get(layer(l, ATTN_NORM)).copy());
        out.put(layer(l, Q), pw.get(layer(l, Q)).copy());
        out.put(layer(l, O), pw.get(layer(l, O)).copy());
        if (c.qkvBias()) out.put(layer(l, Q_BIAS), pw.get(layer(l, Q_BIAS)).copy());
        if (c.extensions().outputBias()) out.put(layer(l, O_BIAS), pw.get(layer(l, O_BIAS)).copy());
        if (c.extensions().sinks()) out.put(layer(l, SINKS), pw.get(layer(l, SINKS)).copy()); // one per query head: unchanged by pooling KV heads
        if (c.qkNorm()) { // per head-dimension gains, shared by every head: kept as they are
            out.put(layer(l, Q_NORM), pw.get(layer(l, Q_NORM)).copy());
            out.put(layer(l, K_NORM), pw.get(layer(l, K_NORM)).copy());
        }
        int r = G / kv;
        for (String[] names : new String[][]{{K, K_BIAS}, {V, V_BIAS}}) {
            float[] w = pw.get(layer(l, names[0])).data();
            Tensor nw = Tensor.zeros(kv * E, D);
            float[] pooled = nw.data();
            for (int g = 0; g < kv; g++) {
                for (int m = 0; m < r; m++) {
                    int src = (g * r + m) * E * D;
                    for (int i = 0; i < E * D; i++) pooled[g * E * D + i] += w[src + i] / r;
                }
            }
            out.put(layer(l, names[0]), nw);
            if (c.qkvBias()) {
                float[] b = pw.get(layer(l, names[1])).data();
                Tensor nb = Tensor.zeros(kv * E);
                for (int g = 0; g < kv; g++) for (int m = 0; m < r; m++) for (int i = 0; i < E; i++) nb.data()[g * E + i] += b[(g * r + m) * E + i] / r;
                out.put(layer(l, names[1]), nb);
            }
        }
    }

    /**
     * W (D, D) minimizing ‖Y − H·Wᵀ‖² + λ‖W‖² with H = rmsnorm(x): the normal equations (HᵀH + λI) Wᵀ = HᵀY,
     * solved in double by Cholesky; λ = 1e-4 · trace(HᵀH)/D keeps it well posed.
     */
    static Tensor leastSquares(Ops ops, ModelConfig c, float[] norm, float[] x, float[] y, int N) {
        int D = c.dim();
        float[] h = new float[N * D], rstd = new float[N];
        ops.rmsnormForward(h, rstd, x, norm, N, D, c.normEps());
        double[] a = new double[D * D], b = new double[D * D];
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < D; i++) {
                double hi = h[n * D + i];
                for (int j = 0; j < D; j++) {
                    a[i * D + j] += hi * h[n * D + j];
                    b[i * D + j] += hi * y[n * D + j];
                }
            }
        }
        double tr = 0;
        for (int i = 0; i < D; i++) tr += a[i * D + i];
        double lambda = 1e-4 * tr / D + 1e-8;
        for (int i = 0; i < D; i++) a[i * D + i] += lambda;
        // Cholesky: A = L·Lᵀ, then solve for each column of B.
        double[] L = new double[D * D];
        for (int i = 0; i < D; i++) {
            for (int j = 0; j <= i; j++) {
                double s = a[i * D + j];
                for (int k = 0; k < j; k++) s -= L[i * D + k] * L[j * D + k];
                if (i == j) {
                    if (s <= 0) throw new IllegalStateException("least squares: matrix not positive definite");
                    L[i * D + i] = Math.sqrt(s);
                } else {
                    L[i * D + j] = s / L[j * D + j];
                }
            }
        }
        Tensor w = Tensor.zeros(D, D); // w[o, i]: output o from input i; Wᵀ = solution X (rows i, cols o)
        double[] col = new double[D];
        for (int o = 0; o < D; o++) {
            for (int i = 0; i < D; i++) col[i] = b[i * D + o];
            for (int i = 0; i < D; i++) {
                double s = col[i];
                for (int k = 0; k < i; k++) s -= L[i * D + k] * col[k];
                col[i] = s / L[i * D + i];
            }
            for (int i = D - 1; i >= 0; i--) {
                double s = col[i];
                for (int k = i + 1; k < D; k++) s -= L[k * D + i] * col[k];
                col[i] = s / L[i * D + i];
            }
            for (int i = 0; i < D; i++) w.data()[o * D + i] = (float) col[i];
        }
        return w;
    }
}
