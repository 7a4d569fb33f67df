package dev.puzzle.core.tensor;

/**
 * The CPU operations every block op is built from, behind one interface with two providers: a
 * Vector API one ({@link VectorKernels}, the default) and its scalar twin ({@link ScalarKernels}),
 * reached through a {@link Backend} ({@code Backend.cpu("vector"|"scalar")}). Tests compare the two.
 * All arrays are row-major; offsets and leading dimensions are in elements.
 */
public interface Kernels {

    /** The worker pool this provider's parallel sections run on (its thread count is the backend's). */
    Parallel parallel();

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

    /** Σ x[i]·w[i] with w BF16 bit patterns (widened in registers: a BF16 is the top half of an FP32). */
    float dotBf16(float[] x, int xOff, short[] w, int wOff, int n);

    /** {@link #dotBf16} over n BF16 values read in place at byte {@code wOff} of {@code w} (little endian). */
    default float dotBf16(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += x[xOff + i] * Float.intBitsToFloat(w.get(BF16_LE, wOff + 2L * i) << 16);
        return s;
    }

    java.lang.foreign.ValueLayout.OfShort BF16_LE = java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** dst[i] = w[i] widened from BF16 bit patterns to FP32. */
    void widenBf16(short[] w, int wOff, float[] dst, int dstOff, int n);

    /**
     * Σ x[i]·w[i] over one row of n elements stored in the quantized dtype t at w[wOff..] (its layout, see
     * {@link DType}), decoded block by block in registers. The default decodes the row with the scalar
     * reference ({@link Quant#dequantizeRow}) into a per-thread buffer and takes {@link #dot}.
     */
    default float dotQuant(DType t, float[] x, int xOff, byte[] w, int wOff, int n) {
        float[] buf = LinearBlocks.rowBuffer(n);
        Quant.dequantizeRow(t, w, wOff, n, buf, 0);
        return dot(x, xOff, buf, 0, n);
    }

    /** dst[i] = the n elements of one row stored in the quantized dtype t at w[wOff..], decoded to FP32. */
    default void widenQuant(DType t, byte[] w, int wOff, float[] dst, int dstOff, int n) {
        Quant.dequantizeRow(t, w, wOff, n, dst, dstOff);
    }

    /** Σ exp(x[i] − shift). */
    float sumExp(float[] x, int xOff, int n, float shift);

    /**
     * A linear layer over a weight tensor held either way: {@code out[M,N] (+)= x[M,K] · Wᵀ}, W (N, K),
     * out rows of stride N from outOff. A heap W is one {@link #gemm}; a mapped W (F32, F16 or BF16, never
     * widened as a whole) is widened a block of rows at a time into a per-thread buffer that stays in
     * cache, each block one GEMM, the blocks spread over the threads. A quantized W is read as stored:
     * decode (m ≤ 4) takes {@link #dotQuant} over its bytes, more rows decode a block ({@link #widenQuant})
     * for one GEMM; llama.cpp's formats see the input rounded to Q8_0 first ({@link Quant#roundsInputs}).
     */
    default void linear(float[] x, int xOff, int m, int k, Tensor w, float[] out, int outOff, boolean accumulate) {
        int n = w.rows();
        if (w.cols() != k) throw new IllegalArgumentException("weight " + w + " does not take inputs of " + k);
        if (!w.isMapped()) {
            gemm(false, true, m, n, k, x, xOff, k, w.data(), 0, k, out, outOff, n, accumulate);
            return;
        }
        int block = Math.max(1, Math.min(n, LinearBlocks.blockFloats(m) / k));
        int blocks = (n + block - 1) / block;
        boolean bf16 = w.dtype() == DType.BF16;
        DType q = w.dtype().isQuantized() ? w.dtype() : null;
        if (q != null && Quant.roundsInputs(q)) { // llama.cpp's arithmetic: the input rounded to Q8_0 first
            float[] xr = java.util.Arrays.copyOfRange(x, xOff, xOff + m * k);
            for (int i = 0; i < m; i++) Quant.roundToQ8_0(xr, i * k, k);
            x = xr;
            xOff = 0;
        }
        float[] xs = x;
        int xo = xOff;
        byte[] packed = q != null ? w.packedBytes() : null;
        parallel().forEach(blocks, b -> {
            int n0 = b * block, nb = Math.min(block, n - n0);
            if (q != null) {
                int rb = (int) q.rowBytes(k);
                byte[] raw = packed;
                int first = n0 * rb; // heap bytes are read in place; a file mapping's rows are copied out a block at a time
                if (raw == null) {
                    raw = LinearBlocks.bytes(nb * rb);
                    w.rawBytes(n0, nb, raw, 0);
                    first = 0;
                }
                if (m <= 4) {
                    for (int j = 0; j < nb; j++) {
                        for (int i = 0; i < m; i++) {
                            float d = dotQuant(q, xs, xo + i * k, raw, first + j * rb, k);
                            int o = outOff + i * n + n0 + j;
                            out[o] = accumulate ? out[o] + d : d;
                        }
                    }
                    return;
                }
                float[] buf = LinearBlocks.buffer(nb * k);
                for (int j = 0; j < nb; j++) widenQuant(q, raw, first + j * rb, buf, j * k, k);
                gemm(false, true, m, nb, k, xs, xo, k, buf, 0, k, out, outOff + n0, n, accumulate);
                return;
            }
            if (bf16 && m <= 4) { // decode read in place from the mapping: no copy of the weights at all
                java.lang.foreign.MemorySegment seg = w.rowSegment(n0, nb);
                if (seg != null) {
                    for (int j = 0; j < nb; j++) {
                        for (int i = 0; i < m; i++) {
                            float d = dotBf16(xs, xo + i * k, seg, 2L * j * k, k);
                            int o = outOff + i * n + n0 + j;
                            out[o] = accumulate ? out[o] + d : d;
                        }
                    }
                    return;
                }
            }
            if (bf16) {
                short[] raw = LinearBlocks.shorts(nb * k);
                w.rawShorts(n0, nb, raw, 0);
                if (m <= 4) { // decode: one fused pass over the stored bytes, no FP32 copy of the weights
                    for (int j = 0; j < nb; j++) {
                        for (int i = 0; i < m; i++) {
                            float d = dotBf16(xs, xo + i * k, raw, j * k, k);
                            int o = outOff + i * n + n0 + j;
                            out[o] = accumulate ? out[o] + d : d;
                        }
                    }
                    return;
                }
                float[] buf = LinearBlocks.buffer(nb * k);
                widenBf16(raw, 0, buf, 0, nb * k);
                gemm(false, true, m, nb, k, xs, xo, k, buf, 0, k, out, outOff + n0, n, accumulate);
                return;
            }
            float[] buf = LinearBlocks.buffer(nb * k);
            w.rows(n0, nb, buf, 0);
            gemm(false, true, m, nb, k, xs, xo, k, buf, 0, k, out, outOff + n0, n, accumulate);
        });
    }

    /** Convenience: {@code out[M,N] = x[M,K] · w[N,K]ᵀ}, the shape of every linear layer. */
    default void matmulT(float[] x, float[] w, float[] out, int m, int n, int k) {
        gemm(false, true, m, n, k, x, 0, k, w, 0, k, out, 0, n, false);
    }
}
