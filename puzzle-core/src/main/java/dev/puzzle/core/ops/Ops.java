package dev.puzzle.core.ops;

import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Tensor;

/**
 * Forward/backward pairs of the ops a block op is built from (llm.c style: backward gets exactly what
 * forward saved). Row-major; N rows of the given width. Gradients prefixed d; backward accumulates (+=)
 * into parameter gradients and writes input gradients.
 */
public final class Ops {
    private final Kernels K;

    public Ops(Kernels kernels) {
        this.K = kernels;
    }

    public Kernels kernels() {
        return K;
    }

    /** out[N,O] = x[N,I] · W[O,I]ᵀ (+ b), W on the heap or mapped. PyTorch: F.linear(x, W, b) */
    public void linearForward(float[] out, float[] x, Tensor w, float[] b, int N, int I, int O) {
        K.linear(x, 0, N, I, w, out, 0, false);
        if (b != null) for (int n = 0; n < N; n++) K.axpy(1f, b, 0, out, n * O, O);
    }

    /** dx[N,I] (+)= dOut · W; dW += dOutᵀ · x; db += Σ_n dOut. */
    public void linearBackward(float[] dx, boolean accumulateDx, float[] dw, float[] db, float[] dOut, float[] x, float[] w, int N, int I, int O) {
        if (dx != null) K.gemm(false, false, N, I, O, dOut, 0, O, w, 0, I, dx, 0, I, accumulateDx);
        K.gemm(true, false, O, I, N, dOut, 0, O, x, 0, I, dw, 0, I, true);
        if (db != null) for (int n = 0; n < N; n++) K.axpy(1f, dOut, n * O, db, 0, O);
    }

    /** out = x · r · w with r = 1/√(mean(x²) + eps), per row; rstd[n] = r saved. */
    public void rmsnormForward(float[] out, float[] rstd, float[] x, float[] w, int N, int D, float eps) {
        for (int n = 0; n < N; n++) rstd[n] = K.rmsnorm(out, n * D, x, n * D, w, D, eps);
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

    /**
     * g = silu(a) · b, elementwise, in scalar Java ({@link Kernels#scalarSwigluForward}; the dense FFN's training takes its
     * provider's {@link Kernels#swigluForward}, inference the kernel's in-place form). PyTorch: F.silu(a) * b
     */
    public static void swigluForward(float[] g, float[] a, float[] b, int n) {
        Kernels.scalarSwigluForward(g, a, b, 0, n);
    }

    /** da = dg·b·σ(a)(1 + a(1 − σ(a))), db = dg·silu(a) ({@link Kernels#scalarSwigluBackward}). */
    public static void swigluBackward(float[] da, float[] db, float[] dg, float[] a, float[] b, int n) {
        Kernels.scalarSwigluBackward(da, db, dg, a, b, 0, n);
    }

    /**
     * gpt-oss's expert activation, elementwise: g = (clamp(b, −limit, limit) + 1) · c · σ(alpha·c), c = min(a, limit).
     * PyTorch: {@code gate = a.clamp(max=limit); up = b.clamp(-limit, limit); (up + 1) * gate * torch.sigmoid(gate * alpha)}
     */
    public static void clampedSwigluForward(float[] g, int gOff, float[] a, int aOff, float[] b, int bOff, int n, float limit, float alpha) {
        for (int i = 0; i < n; i++) {
            float c = Math.min(a[aOff + i], limit), u = Math.max(-limit, Math.min(b[bOff + i], limit));
            float s = 1f / (1f + (float) Math.exp(-alpha * c));
            g[gOff + i] = (u + 1f) * c * s;
        }
    }

    /** Backward of {@link #clampedSwigluForward}; as PyTorch's clamp, the gradient passes where the input is within its bounds (inclusive). */
    public static void clampedSwigluBackward(float[] da, float[] db, float[] dg, float[] a, float[] b, int n, float limit, float alpha) {
        for (int i = 0; i < n; i++) {
            float c = Math.min(a[i], limit), u = Math.max(-limit, Math.min(b[i], limit));
            float s = 1f / (1f + (float) Math.exp(-alpha * c));
            da[i] = a[i] <= limit ? dg[i] * (u + 1f) * (s + alpha * c * s * (1f - s)) : 0f;
            db[i] = b[i] >= -limit && b[i] <= limit ? dg[i] * c * s : 0f;
        }
    }
}
