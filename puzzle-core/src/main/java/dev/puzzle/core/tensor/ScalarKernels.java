package dev.puzzle.core.tensor;

/** The scalar twin of {@link VectorKernels}: plain loops, the reference the vector kernels are tested against. */
public final class ScalarKernels implements Kernels {
    private final Parallel parallel;

    /** @param parallel the pool of the few parallel sections (mapped weights widened a block at a time) */
    public ScalarKernels(Parallel parallel) {
        this.parallel = parallel;
    }

    @Override
    public Parallel parallel() {
        return parallel;
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc, boolean accumulate) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++) {
                    float av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    float bv = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += av * bv;
                }
                int ci = cOff + i * ldc + j;
                c[ci] = accumulate ? c[ci] + s : s;
            }
        }
    }

    @Override
    public float dot(float[] x, int xOff, float[] y, int yOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += x[xOff + i] * y[yOff + i];
        return s;
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) y[yOff + i] += alpha * x[xOff + i];
    }

    @Override
    public void scale(float[] x, int xOff, int n, float s) {
        for (int i = 0; i < n; i++) x[xOff + i] *= s;
    }

    @Override
    public float sumSquares(float[] x, int xOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += x[xOff + i] * x[xOff + i];
        return s;
    }

    @Override
    public float max(float[] x, int xOff, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, x[xOff + i]);
        return m;
    }

    @Override
    public float rmsnorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps) {
        float ss = sumSquares(x, xOff, n) / n + eps;
        float inv = (float) (1.0 / Math.sqrt(ss));
        for (int i = 0; i < n; i++) out[outOff + i] = w[i] * (inv * x[xOff + i]);
        return inv;
    }

    @Override
    public void swiglu(float[] gate, int gateOff, float[] up, int upOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gateOff + i];
            gate[gateOff + i] = g / (1f + (float) Math.exp(-g)) * up[upOff + i];
        }
    }

    @Override
    public float dotBf16(float[] x, int xOff, short[] w, int wOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += x[xOff + i] * Float.intBitsToFloat(w[wOff + i] << 16);
        return s;
    }

    @Override
    public void widenBf16(short[] w, int wOff, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat(w[wOff + i] << 16);
    }

    @Override
    public float expSum(float[] x, int xOff, int n, float mul, float shift) {
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[xOff + i] * mul - shift);
            x[xOff + i] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public float sumExp(float[] x, int xOff, int n, float shift) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += (float) Math.exp(x[xOff + i] - shift);
        return s;
    }
}
