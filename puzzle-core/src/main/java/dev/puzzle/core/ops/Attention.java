package dev.puzzle.core.ops;

import dev.puzzle.core.tensor.Kernels;

/**
 * The one causal GQA attention kernel, for inference and training alike: query t (absolute
 * position pos0+t) of one head attends to keys at absolute positions [max(kStart, p−window+1), p]
 * of its KV head (window 0: no limit), keys and values read from a buffer whose row 0 is absolute
 * position kStart. {@link #head} runs one query head over T queries; {@link #backward} is its
 * gradient over S whole sequences. With a sink (gpt-oss), a head's learned logit joins every query's softmax
 * as one more key whose value is zero: it takes its share of the probability and adds nothing to the output.
 */
public final class Attention {
    private Attention() {}

    /**
     * One query head. q rows at qOff + t·qStride, keys/values rows at kvOff + r·kvStride (r = position − kStart),
     * outputs accumulated into out at outOff + t·outStride (zero it first). Probabilities go to
     * p[pOff + t·pStride + (j − kStart)] — pStride 0 reuses one row as scratch; training keeps them.
     */
    public static void head(Kernels k, float[] q, int qOff, int qStride, float[] keys, float[] values, int kvOff, int kvStride,
                            float[] out, int outOff, int outStride, float[] p, int pOff, int pStride,
                            int T, int pos0, int kStart, int E, int window) {
        head(k, q, qOff, qStride, keys, values, kvOff, kvStride, out, outOff, outStride, p, pOff, pStride, T, pos0, kStart, E, window, NO_SINK);
    }

    /** No sink: a logit of −∞, whose share of the softmax is zero. */
    public static final float NO_SINK = Float.NEGATIVE_INFINITY;

    /** {@link #head} with the head's sink logit ({@link #NO_SINK}: none). */
    public static void head(Kernels k, float[] q, int qOff, int qStride, float[] keys, float[] values, int kvOff, int kvStride,
                            float[] out, int outOff, int outStride, float[] p, int pOff, int pStride,
                            int T, int pos0, int kStart, int E, int window, float sink) {
        final float scale = (float) (1.0 / Math.sqrt(E));
        if (T >= BLOCKED_QUERIES) {
            if (E >= TILED_HEAD_DIM && (window == 0 || window >= 2 * QUERY_TILE)) {
                tiled(k, q, qOff, qStride, keys, values, kvOff, kvStride, out, outOff, outStride, p, pOff, pStride, T, pos0, kStart, E, window, scale, sink);
            } else {
                blocked(k, q, qOff, qStride, keys, values, kvOff, kvStride, out, outOff, outStride, p, pOff, pStride, T, pos0, kStart, E, window, scale, sink);
            }
            return;
        }
        for (int t = 0; t < T; t++) {
            int pos = pos0 + t;
            int lo = window > 0 ? Math.max(kStart, pos - window + 1) : kStart;
            int n = pos - lo + 1;
            int qo = qOff + t * qStride, oo = outOff + t * outStride;
            int row = pOff + t * pStride + (lo - kStart), kv = kvOff + (lo - kStart) * kvStride;
            // The scores as one product of the query with the keys (a decode GEMM reads four keys side by side, each
            // summed as dot sums it), the weighted sum of values with the output in registers: stories15M's attention
            // per token 110 -> 75 µs, where a dot and an axpy call per key had left the core waiting on short chains.
            k.gemm(false, true, 1, n, E, q, qo, E, keys, kv, kvStride, p, row, n, false);
            if (pStride == 0 && sink == NO_SINK) { // the probabilities are scratch: scale the output instead of the row
                float inv = 1f / k.expSum(p, row, n, scale, k.max(p, row, n) * scale);
                float[] o = outRow(E);
                k.axpyRows(p, row, n, values, kv, kvStride, o, 0, E);
                for (int e = 0; e < E; e++) out[oo + e] += o[e] * inv;
                continue;
            }
            for (int j = 0; j < n; j++) p[row + j] *= scale;
            softmax(k, p, row, n, sink);
            k.axpyRows(p, row, n, values, kv, kvStride, out, oo, E);
        }
    }

    private static final ThreadLocal<float[]> OUT_ROW = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * This thread's scratch row of at least E floats, zeroed: one query's output before the softmax's normalization,
     * where the E outputs are scaled by 1/Σ instead of the n probabilities (with no sink; kept probabilities are
     * scaled besides). max(x·s) = s·max(x) for s > 0 and each exponent is rounded as the scaled row's was: only where
     * 1/Σ is applied moves (a few ulps of the output).
     */
    private static float[] outRow(int E) {
        float[] o = scratch(OUT_ROW, E);
        java.util.Arrays.fill(o, 0, E, 0f);
        return o;
    }

    /** From this many queries on, {@link #head} transposes the keys once and scores each query against all of them. */
    static final int BLOCKED_QUERIES = 8;

    private static final ThreadLocal<float[]> KEYS_T = ThreadLocal.withInitial(() -> new float[0]), VALUES_T = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * {@link #head} for many queries: keys and values transposed once (E rows of positions), then each query's scores
     * as E multiply-adds along the positions and its output as E dot products along them — vector work over the
     * positions instead of one short dot product (and its lane reduction) and one short multiply-add per key, which
     * dominated at small head dimensions (stories260K's 8).
     */
    private static void blocked(Kernels k, float[] q, int qOff, int qStride, float[] keys, float[] values, int kvOff, int kvStride,
                                float[] out, int outOff, int outStride, float[] p, int pOff, int pStride,
                                int T, int pos0, int kStart, int E, int window, float scale, float sink) {
        int firstLo = window > 0 ? Math.max(kStart, pos0 - window + 1) : kStart, nKeys = pos0 + T - firstLo;
        float[] kt = scratch(KEYS_T, E * nKeys), vt = scratch(VALUES_T, E * nKeys);
        for (int j = 0; j < nKeys; j++) {
            int ko = kvOff + (firstLo - kStart + j) * kvStride;
            for (int e = 0; e < E; e++) {
                kt[e * nKeys + j] = keys[ko + e];
                vt[e * nKeys + j] = values[ko + e];
            }
        }
        float[] qs = new float[E];
        for (int t = 0; t < T; t++) {
            int pos = pos0 + t;
            int lo = window > 0 ? Math.max(kStart, pos - window + 1) : kStart;
            int n = pos - lo + 1;
            int qo = qOff + t * qStride, oo = outOff + t * outStride;
            int row = pOff + t * pStride + (lo - kStart), c = lo - firstLo;
            for (int e = 0; e < E; e++) qs[e] = q[qo + e] * scale;
            if (sink == NO_SINK) { // the output scaled by 1/Σ (see outRow); kept probabilities are the row scaled by it
                boolean kept = pStride != 0;
                float[] o = outRow(E), sc = kept ? p : scratch(TILE_SCORES, n);
                float inv = 1f / k.attend(qs, 0, E, kt, vt, c, nKeys, n, sc, kept ? row : 0, o, 0);
                if (kept) k.scale(p, row, n, inv);
                for (int e = 0; e < E; e++) out[oo + e] += o[e] * inv;
                continue;
            }
            java.util.Arrays.fill(p, row, row + n, 0f);
            // The E multiply-adds along the positions with the scores in registers, the E dot products as one decode
            // GEMM (four of them side by side): each result as the axpy and dot per e computed it, bit for bit.
            k.axpyRows(qs, 0, E, kt, c, nKeys, p, row, n);
            softmax(k, p, row, n, sink);
            k.gemm(false, true, 1, E, n, p, row, n, vt, c, nKeys, out, oo, E, true);
        }
    }

    /**
     * The least head dimension {@link #tiled} takes: at 16 it is 1.15x as fast as {@link #blocked}, at 32-128 2.6-3.4x
     * (one thread, 512 queries); at 8 slower (its output GEMM has 8 columns of a micro-kernel's 32, or packs the
     * probabilities transposed).
     */
    static final int TILED_HEAD_DIM = 16;

    /** Most queries {@link #tiled} scores at once (fewer when the queries split into tiles of near-equal size). */
    static final int QUERY_TILE = 64;

    private static final ThreadLocal<float[]> TILE_Q = ThreadLocal.withInitial(() -> new float[0]),
            TILE_SCORES = ThreadLocal.withInitial(() -> new float[0]), TILE_OUT = ThreadLocal.withInitial(() -> new float[0]);

    /** This thread's array of a scratch buffer, grown to at least n. */
    private static float[] scratch(ThreadLocal<float[]> tl, int n) {
        float[] a = tl.get();
        if (a.length < n) tl.set(a = new float[n]);
        return a;
    }

    /**
     * {@link #head} for many queries without a short window: a tile of up to {@link #QUERY_TILE} queries at a time, its
     * scores as one GEMM of the tile's (scaled) queries with every key any of them sees, each row's softmax over its own
     * keys (the rest of the row zeroed: keys after the query, or before its window), and the outputs as one GEMM of the
     * probabilities with the values. Each score is the E multiply-adds in order, as {@link #blocked}'s and decode's; each
     * output the multiply-adds along the keys in order (the zeros add nothing), as decode's. One thread, 8 heads over 512
     * queries: at a head of 64 14 → 4.1 ms, of 128 26 → 9.8: the per-query vector passes over the keys (and their lane
     * sums) became GEMMs.
     */
    private static void tiled(Kernels k, float[] q, int qOff, int qStride, float[] keys, float[] values, int kvOff, int kvStride,
                              float[] out, int outOff, int outStride, float[] p, int pOff, int pStride,
                              int T, int pos0, int kStart, int E, int window, float scale, float sink) {
        boolean kept = pStride != 0, scaleOut = !kept && sink == NO_SINK;
        int tiles = (T + QUERY_TILE - 1) / QUERY_TILE;
        for (int b = 0; b < tiles; b++) {
            int t0 = (int) ((long) T * b / tiles), t1 = (int) ((long) T * (b + 1) / tiles), tb = t1 - t0;
            int lo0 = window > 0 ? Math.max(kStart, pos0 + t0 - window + 1) : kStart, n = pos0 + t1 - lo0;
            float[] qs = scratch(TILE_Q, tb * E);
            for (int t = 0; t < tb; t++) for (int e = 0; e < E; e++) qs[t * E + e] = q[qOff + (t0 + t) * qStride + e] * scale;
            float[] s = kept ? p : scratch(TILE_SCORES, tb * n);
            int sOff = kept ? pOff + t0 * pStride + (lo0 - kStart) : 0, ldS = kept ? pStride : n, kv = kvOff + (lo0 - kStart) * kvStride;
            k.gemm(false, true, tb, n, E, qs, 0, E, keys, kv, kvStride, s, sOff, ldS, false);
            float[] ot = scratch(TILE_OUT, E * tb + (scaleOut ? tb : 0));
            int inv = E * tb; // where the rows' 1/Σ go, after the outputs
            for (int t = 0; t < tb; t++) {
                int pos = pos0 + t0 + t, lo = window > 0 ? Math.max(kStart, pos - window + 1) : kStart;
                int row = sOff + t * ldS, a = lo - lo0, m = pos - lo + 1;
                java.util.Arrays.fill(s, row, row + a, 0f);
                java.util.Arrays.fill(s, row + a + m, row + n, 0f);
                if (scaleOut) ot[inv + t] = 1f / k.expSum(s, row + a, m, 1f, k.max(s, row + a, m));
                else softmax(k, s, row + a, m, sink);
            }
            k.gemm(false, false, tb, E, n, s, sOff, ldS, values, kv, kvStride, ot, 0, E, false);
            for (int t = 0; t < tb; t++) {
                int oo = outOff + (t0 + t) * outStride;
                float f = scaleOut ? ot[inv + t] : 1f;
                for (int e = 0; e < E; e++) out[oo + e] += scaleOut ? ot[t * E + e] * f : ot[t * E + e];
            }
        }
    }

    /** The softmax of p[row..row+n) in place, with the sink as one more logit whose probability is dropped. */
    static void softmax(Kernels k, float[] p, int row, int n, float sink) {
        if (sink == NO_SINK) {
            k.softmax(p, row, n);
            return;
        }
        float max = sink;
        for (int j = row; j < row + n; j++) max = Math.max(max, p[j]);
        double sum = Math.exp(sink - max);
        for (int j = row; j < row + n; j++) {
            float e = (float) Math.exp(p[j] - max);
            p[j] = e;
            sum += e;
        }
        float inv = (float) (1 / sum);
        for (int j = row; j < row + n; j++) p[j] *= inv;
    }

    /**
     * Backward of {@link #head} over S sequences of T tokens (positions 0..T−1, all heads), from the
     * probabilities P (S, H, T, T) the forward kept: dq, dk, dv written (zeroed first).
     */
    public static void backward(Kernels K, float[] dq, float[] dk, float[] dv, float[] dOut, float[] p, float[] q, float[] k, float[] v,
                                int S, int T, int H, int G, int E, int window) {
        backward(K, dq, dk, dv, dOut, p, q, k, v, S, T, H, G, E, window, null);
    }

    /**
     * {@link #backward} of heads with sinks: the gradient of each head's sink logit is accumulated into {@code dSinks} (H):
     * the sink's probability P_s = 1 − Σ_j P_j, its output zero, so d sink = −P_s · Σ_j P_j·dP_j per query. Null: no sinks.
     */
    public static void backward(Kernels K, float[] dq, float[] dk, float[] dv, float[] dOut, float[] p, float[] q, float[] k, float[] v,
                                int S, int T, int H, int G, int E, int window, float[] dSinks) {
        if (T >= BLOCKED_QUERIES && E >= TILED_HEAD_DIM && (window == 0 || window >= 2 * QUERY_TILE)) {
            tiledBackward(K, dq, dk, dv, dOut, p, q, k, v, S, T, H, G, E, window, dSinks);
        } else if (T >= BLOCKED_QUERIES) blockedBackward(K, dq, dk, dv, dOut, p, q, k, v, S, T, H, G, E, window, dSinks);
        else perKeyBackward(K, dq, dk, dv, dOut, p, q, k, v, S, T, H, G, E, window, dSinks);
    }

    /**
     * {@link #backward} as {@link #blocked} runs the forward: per sequence and KV head, its keys and values transposed once
     * (E rows of positions) and dK, dV gathered transposed, so that every product is vector work along the positions —
     * E multiply-adds or dot products of a query's whole row — instead of a dot product and three multiply-adds of E
     * elements per (query, key) pair, which dominated BLD at small head dimensions (stories260K's 8). The (sequence, KV
     * head) pairs run on the backend's threads (they ran on one), every result as the one-thread loop computed it, bit
     * for bit.
     */
    static void blockedBackward(Kernels K, float[] dq, float[] dk, float[] dv, float[] dOut, float[] p, float[] q, float[] k, float[] v,
                                int S, int T, int H, int G, int E, int window, float[] dSinks) {
        int HE = H * E, GE = G * E, group = H / G;
        float scale = (float) (1.0 / Math.sqrt(E));
        zero(dq, dk, dv, S * T * HE, S * T * GE);
        // Each (sequence, KV head) on its own: it alone writes its rows of dk and dv and its heads' rows of dq; a thread takes
        // a range of them and its scratch rows once. The sinks' gradient terms are kept per (sequence, head, query) and
        // summed afterwards in the order one thread summed them.
        float[] sinkTerms = dSinks == null ? null : new float[S * H * T];
        K.parallel().forRange(S * G, 1, (task0, task1) -> {
            float[] kt = new float[E * T], vt = new float[E * T], dkt = new float[E * T], dvt = new float[E * T];
            float[] dp = new float[T];
            for (int task = task0; task < task1; task++) {
                int s = task / G, g = task % G;
                java.util.Arrays.fill(dkt, 0f);
                java.util.Arrays.fill(dvt, 0f);
                for (int j = 0; j < T; j++) {
                    int o = (s * T + j) * GE + g * E;
                    for (int e = 0; e < E; e++) {
                        kt[e * T + j] = k[o + e];
                        vt[e * T + j] = v[o + e];
                    }
                }
                for (int h = g * group; h < (g + 1) * group; h++) {
                    for (int t = 0; t < T; t++) {
                        int lo = window > 0 ? Math.max(0, t - window + 1) : 0, n = t - lo + 1;
                        int po = ((s * H + h) * T + t) * T + lo;
                        int qo = (s * T + t) * HE + h * E;
                        // dP = dO · v, dV += P · dO, Σ P·dP;  dS = P ⊙ (dP − Σ)·scale, dQ += dS·k, dK += dS·q
                        float sum = K.attendBackward(dOut, qo, q, qo, E, p, po, kt, vt, dkt, dvt, lo, T, n, scale, dp, dq, qo);
                        if (sinkTerms != null) {
                            float mass = 0f;
                            for (int j = 0; j < n; j++) mass += p[po + j];
                            sinkTerms[(s * H + h) * T + t] = (1 - mass) * sum;
                        }
                    }
                }
                for (int j = 0; j < T; j++) {
                    int o = (s * T + j) * GE + g * E;
                    for (int e = 0; e < E; e++) {
                        dk[o + e] += dkt[e * T + j];
                        dv[o + e] += dvt[e * T + j];
                    }
                }
            }
        });
        if (sinkTerms != null) {
            for (int s = 0; s < S; s++) {
                for (int g = 0; g < G; g++) {
                    for (int h = g * group; h < (g + 1) * group; h++) {
                        for (int t = 0; t < T; t++) dSinks[h] -= sinkTerms[(s * H + h) * T + t];
                    }
                }
            }
        }
    }

    /** The gradients' first {@code nq} and {@code nkv} elements zeroed: both backwards accumulate into them. */
    /**
     * {@link #backward} as {@link #tiled} runs the forward: per sequence and KV head, its heads' queries a tile at a time,
     * each product of the tile one GEMM — dP = dO·Vᵀ, dV += Pᵀ·dO, dS = P ⊙ (dP − Σ P·dP)·scale, dQ += dS·K,
     * dK += dSᵀ·Q — over the rectangle of keys any query of the tile sees, whose probabilities outside a query's own keys
     * are zero (the forward wrote them so), which zeroes dS there. At a head of 64, T 256, 8 heads: 11.5 → 2.7 ms a sequence
     * (one thread). Sinks' terms as {@link #blockedBackward} keeps them.
     */
    static void tiledBackward(Kernels K, float[] dq, float[] dk, float[] dv, float[] dOut, float[] p, float[] q, float[] k, float[] v,
                              int S, int T, int H, int G, int E, int window, float[] dSinks) {
        int HE = H * E, GE = G * E, group = H / G, tiles = (T + QUERY_TILE - 1) / QUERY_TILE;
        float scale = (float) (1.0 / Math.sqrt(E));
        zero(dq, dk, dv, S * T * HE, S * T * GE);
        float[] sinkTerms = dSinks == null ? null : new float[S * H * T];
        K.parallel().forRange(S * G, 1, (task0, task1) -> {
            float[] ds = new float[QUERY_TILE * T]; // dP, then dS, of one tile: its rows n apart
            for (int task = task0; task < task1; task++) {
                int s = task / G, g = task % G;
                for (int h = g * group; h < (g + 1) * group; h++) {
                    for (int b = 0; b < tiles; b++) {
                        int t0 = (int) ((long) T * b / tiles), t1 = (int) ((long) T * (b + 1) / tiles), tb = t1 - t0;
                        int lo0 = window > 0 ? Math.max(0, t0 - window + 1) : 0, n = t1 - lo0;
                        int po = ((s * H + h) * T + t0) * T + lo0, qo = (s * T + t0) * HE + h * E, kvo = (s * T + lo0) * GE + g * E;
                        K.gemm(false, true, tb, n, E, dOut, qo, HE, v, kvo, GE, ds, 0, n, false);
                        K.gemm(true, false, n, E, tb, p, po, T, dOut, qo, HE, dv, kvo, GE, true);
                        for (int t = 0; t < tb; t++) {
                            int pr = po + t * T, dr = t * n;
                            float sum = K.dot(p, pr, ds, dr, n);
                            if (sinkTerms != null) {
                                float mass = 0f;
                                for (int j = 0; j < n; j++) mass += p[pr + j];
                                sinkTerms[(s * H + h) * T + t0 + t] = (1 - mass) * sum;
                            }
                            for (int j = 0; j < n; j++) ds[dr + j] = p[pr + j] * (ds[dr + j] - sum) * scale;
                        }
                        K.gemm(false, false, tb, E, n, ds, 0, n, k, kvo, GE, dq, qo, HE, true);
                        K.gemm(true, false, n, E, tb, ds, 0, n, q, qo, HE, dk, kvo, GE, true);
                    }
                }
            }
        });
        if (sinkTerms != null) {
            for (int s = 0; s < S; s++) {
                for (int h = 0; h < H; h++) {
                    for (int t = 0; t < T; t++) dSinks[h] -= sinkTerms[(s * H + h) * T + t];
                }
            }
        }
    }

    private static void zero(float[] dq, float[] dk, float[] dv, int nq, int nkv) {
        java.util.Arrays.fill(dq, 0, nq, 0f);
        java.util.Arrays.fill(dk, 0, nkv, 0f);
        java.util.Arrays.fill(dv, 0, nkv, 0f);
    }

    /** {@link #backward} one (query, key) pair at a time: for a few queries, and the reference the blocked one is checked against. */
    static void perKeyBackward(Kernels K, float[] dq, float[] dk, float[] dv, float[] dOut, float[] p, float[] q, float[] k, float[] v,
                               int S, int T, int H, int G, int E, int window, float[] dSinks) {
        int HE = H * E, GE = G * E, group = H / G;
        float scale = (float) (1.0 / Math.sqrt(E));
        zero(dq, dk, dv, S * T * HE, S * T * GE);
        float[] dp = new float[T];
        for (int s = 0; s < S; s++) {
            for (int h = 0; h < H; h++) {
                int g = h / group;
                for (int t = 0; t < T; t++) {
                    int lo = window > 0 ? Math.max(0, t - window + 1) : 0;
                    int po = ((s * H + h) * T + t) * T;
                    int qo = (s * T + t) * HE + h * E;
                    // dP = dO · v;  dV += P · dO
                    float sum = 0f, mass = 0f;
                    for (int j = lo; j <= t; j++) {
                        int vo = (s * T + j) * GE + g * E;
                        dp[j] = K.dot(dOut, qo, v, vo, E);
                        K.axpy(p[po + j], dOut, qo, dv, vo, E);
                        sum += p[po + j] * dp[j];
                        mass += p[po + j];
                    }
                    if (dSinks != null) dSinks[h] -= (1 - mass) * sum;
                    // dS = P ⊙ (dP − Σ P·dP);  dQ += dS·k·scale;  dK += dS·q·scale
                    for (int j = lo; j <= t; j++) {
                        float ds = p[po + j] * (dp[j] - sum) * scale;
                        int ko = (s * T + j) * GE + g * E;
                        K.axpy(ds, k, ko, dq, qo, E);
                        K.axpy(ds, q, qo, dk, ko, E);
                    }
                }
            }
        }
    }
}
