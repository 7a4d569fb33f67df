package dev.puzzle.core.train;

import dev.puzzle.core.tensor.Kernels;

/**
 * Forward/backward pairs of the ops a sub-block is built from (llm.c style: backward gets exactly what
 * forward saved). Row-major; N rows of the given width. Gradients prefixed d; backward accumulates (+=)
 * into parameter gradients and writes input gradients.
 */
public final class Ops {
    private Ops() {}

    private static final Kernels K = Kernels.get();

    /** out[N,O] = x[N,I] · W[O,I]ᵀ (+ b). PyTorch: F.linear(x, W, b) */
    public static void linearForward(float[] out, float[] x, float[] w, float[] b, int N, int I, int O) {
        K.gemm(false, true, N, O, I, x, 0, I, w, 0, I, out, 0, O, false);
        if (b != null) for (int n = 0; n < N; n++) K.axpy(1f, b, 0, out, n * O, O);
    }

    /** dx[N,I] (+)= dOut · W; dW += dOutᵀ · x; db += Σ_n dOut. */
    public static void linearBackward(float[] dx, boolean accumulateDx, float[] dw, float[] db, float[] dOut, float[] x, float[] w, int N, int I, int O) {
        if (dx != null) K.gemm(false, false, N, I, O, dOut, 0, O, w, 0, I, dx, 0, I, accumulateDx);
        K.gemm(true, false, O, I, N, dOut, 0, O, x, 0, I, dw, 0, I, true);
        if (db != null) for (int n = 0; n < N; n++) K.axpy(1f, dOut, n * O, db, 0, O);
    }

    /** out = x · r · w with r = 1/√(mean(x²) + eps), per row; rstd[n] = r saved. */
    public static void rmsnormForward(float[] out, float[] rstd, float[] x, float[] w, int N, int D, float eps) {
        for (int n = 0; n < N; n++) {
            float r = (float) (1.0 / Math.sqrt(K.sumSquares(x, n * D, D) / D + eps));
            rstd[n] = r;
            for (int i = 0; i < D; i++) out[n * D + i] = w[i] * (r * x[n * D + i]);
        }
    }

    /** dx = r·(w⊙dy) − x·r³/D·Σ(w⊙dy⊙x); dw += Σ_n dy ⊙ x·r. */
    public static void rmsnormBackward(float[] dx, float[] dw, float[] dy, float[] x, float[] rstd, float[] w, int N, int D) {
        for (int n = 0; n < N; n++) {
            int o = n * D;
            float r = rstd[n];
            double dot = 0;
            for (int i = 0; i < D; i++) {
                dot += (double) w[i] * dy[o + i] * x[o + i];
                dw[i] += dy[o + i] * x[o + i] * r;
            }
            float c = (float) (dot * r * r * r / D);
            for (int i = 0; i < D; i++) dx[o + i] = r * w[i] * dy[o + i] - c * x[o + i];
        }
    }

    /** g = silu(a) · b, elementwise. PyTorch: F.silu(a) * b */
    public static void swigluForward(float[] g, float[] a, float[] b, int n) {
        for (int i = 0; i < n; i++) {
            float s = 1f / (1f + (float) Math.exp(-a[i]));
            g[i] = a[i] * s * b[i];
        }
    }

    /** da = dg·b·σ(a)(1 + a(1 − σ(a))), db = dg·silu(a). */
    public static void swigluBackward(float[] da, float[] db, float[] dg, float[] a, float[] b, int n) {
        for (int i = 0; i < n; i++) {
            float s = 1f / (1f + (float) Math.exp(-a[i]));
            da[i] = dg[i] * b[i] * s * (1f + a[i] * (1f - s));
            db[i] = dg[i] * a[i] * s;
        }
    }

    /**
     * Causal GQA attention for S sequences of T tokens: head h of query t attends to keys
     * j ∈ [max(0, t−window+1), t] of KV head h/(H/G) (window 0: all). Saves probabilities P (S, H, T, T).
     */
    public static void attentionForward(float[] out, float[] p, float[] q, float[] k, float[] v, int S, int T, int H, int G, int E, int window) {
        int HE = H * E, GE = G * E, group = H / G;
        float scale = (float) (1.0 / Math.sqrt(E));
        java.util.Arrays.fill(out, 0, S * T * HE, 0f);
        for (int s = 0; s < S; s++) {
            for (int h = 0; h < H; h++) {
                int g = h / group;
                for (int t = 0; t < T; t++) {
                    int lo = window > 0 ? Math.max(0, t - window + 1) : 0;
                    int po = ((s * H + h) * T + t) * T;
                    java.util.Arrays.fill(p, po, po + T, 0f);
                    int qo = (s * T + t) * HE + h * E;
                    for (int j = lo; j <= t; j++) p[po + j] = K.dot(q, qo, k, (s * T + j) * GE + g * E, E) * scale;
                    K.softmax(p, po + lo, t - lo + 1);
                    for (int j = lo; j <= t; j++) K.axpy(p[po + j], v, (s * T + j) * GE + g * E, out, qo, E);
                }
            }
        }
    }

    /** Backward of {@link #attentionForward}: dq, dk, dv written (zeroed first). */
    public static void attentionBackward(float[] dq, float[] dk, float[] dv, float[] dOut, float[] p, float[] q, float[] k, float[] v,
                                         int S, int T, int H, int G, int E, int window) {
        int HE = H * E, GE = G * E, group = H / G;
        float scale = (float) (1.0 / Math.sqrt(E));
        java.util.Arrays.fill(dq, 0, S * T * HE, 0f);
        java.util.Arrays.fill(dk, 0, S * T * GE, 0f);
        java.util.Arrays.fill(dv, 0, S * T * GE, 0f);
        float[] dp = new float[T];
        for (int s = 0; s < S; s++) {
            for (int h = 0; h < H; h++) {
                int g = h / group;
                for (int t = 0; t < T; t++) {
                    int lo = window > 0 ? Math.max(0, t - window + 1) : 0;
                    int po = ((s * H + h) * T + t) * T;
                    int qo = (s * T + t) * HE + h * E;
                    // dP = dO · v;  dV += P · dO
                    float sum = 0f;
                    for (int j = lo; j <= t; j++) {
                        int vo = (s * T + j) * GE + g * E;
                        dp[j] = K.dot(dOut, qo, v, vo, E);
                        K.axpy(p[po + j], dOut, qo, dv, vo, E);
                        sum += p[po + j] * dp[j];
                    }
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
