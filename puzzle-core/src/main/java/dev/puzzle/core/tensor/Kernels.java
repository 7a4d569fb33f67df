package dev.puzzle.core.tensor;

/**
 * The CPU operations every block op is built from, behind one interface with two providers: a
 * Vector API one ({@link VectorKernels}, the default) and its scalar twin ({@link ScalarKernels}),
 * reached through a {@link Backend} ({@code Backend.cpu("vector"|"scalar")}). Tests compare the two.
 * All arrays are row-major; offsets and leading dimensions are in elements.
 */
public interface Kernels {

    /**
     * {@code C[M,N] = op(A)[M,K] · op(B)[K,N]}, or {@code C += ...} when {@code accumulate}.
     * {@code transA}: A is stored as [K,M] (leading dimension lda); otherwise [M,K].
     * {@code transB}: B is stored as [N,K] — the layout of a weight matrix, so {@code x·Wᵀ} is
     * {@code gemm(false, true, ...)}; otherwise [K,N].
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k,
              float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
              float[] c, int cOff, int ldc, boolean accumulate);

    /** Σ x[i]·y[i]. */
    float dot(float[] x, int xOff, float[] y, int yOff, int n);

    /** y += alpha·x. */
    void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n);

    /** x *= s. */
    void scale(float[] x, int xOff, int n, float s);

    /** Σ x[i]². */
    float sumSquares(float[] x, int xOff, int n);

    /** max x[i]. */
    float max(float[] x, int xOff, int n);

    /**
     * out = x / sqrt(mean(x²) + eps) · w, over one row of n; returns the factor 1/sqrt(mean(x²) + eps)
     * (backward needs it). PyTorch: x * torch.rsqrt(x.pow(2).mean(-1) + eps) * w
     */
    float rmsnorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps);

    /** In-place softmax over one row of n. */
    void softmax(float[] x, int xOff, int n);

    /** gate = silu(gate) · up. PyTorch: F.silu(gate) * up */
    void swiglu(float[] gate, int gateOff, float[] up, int upOff, int n);

    /** Σ exp(x[i] − shift). */
    float sumExp(float[] x, int xOff, int n, float shift);

    /** Convenience: {@code out[M,N] = x[M,K] · w[N,K]ᵀ}, the shape of every linear layer. */
    default void matmulT(float[] x, float[] w, float[] out, int m, int n, int k) {
        gemm(false, true, m, n, k, x, 0, k, w, 0, k, out, 0, n, false);
    }
}
