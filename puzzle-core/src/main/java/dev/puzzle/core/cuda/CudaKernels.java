package dev.puzzle.core.cuda;

import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.tensor.VectorKernels;

/**
 * The CUDA backend's {@link Kernels} for the paths that run block ops on host arrays (scoring, GKD, generation,
 * block variants without a {@link DeviceBlock}): GEMMs of at least {@link #MIN_MACS} multiply-adds run on the
 * device in FP32 (operands copied over and the result back), everything smaller and every row operation on
 * the CPU's Vector API kernels. Results equal the CPU path's to FP32 rounding.
 */
public final class CudaKernels extends VectorKernels {
    /** Below this many multiply-adds the copies cost more than the GPU saves. */
    public static final long MIN_MACS = 1L << 22;
    private final Device dev;
    private final DeviceOps ops;
    private final long minMacs;
    private DeviceArray a, b, c;

    public CudaKernels(Device dev, Parallel parallel) {
        this(dev, parallel, MIN_MACS);
    }

    /** With another threshold (the tests send small GEMMs to the device). */
    public CudaKernels(Device dev, Parallel parallel, long minMacs) {
        super(parallel);
        this.dev = dev;
        this.ops = new DeviceOps(dev, DeviceOps.Precision.FP32);
        this.minMacs = minMacs;
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                     float[] C, int cOff, int ldc, boolean accumulate) {
        if ((long) m * n * k < minMacs) {
            super.gemm(transA, transB, m, n, k, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
            return;
        }
        int aLen = span(transA ? k : m, transA ? m : k, lda), bLen = span(transB ? n : k, transB ? k : n, ldb), cLen = span(m, n, ldc);
        synchronized (dev.lock()) {
            dev.bind();
            a = fit(a, aLen);
            b = fit(b, bLen);
            c = fit(c, cLen);
            dev.upload(A, aOff, a, 0, aLen);
            dev.upload(B, bOff, b, 0, bLen);
            if (accumulate) dev.upload(C, cOff, c, 0, cLen);
            ops.gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate ? 1f : 0f);
            if (ldc == n) {
                dev.download(c, 0, C, cOff, cLen);
            } else { // rows of C between the rows of this product are not ours to overwrite
                for (int i = 0; i < m; i++) dev.download(c, (long) i * ldc, C, cOff + i * ldc, n);
            }
        }
    }

    /** Elements a row-major (rows, cols) operand with leading dimension ld spans. */
    private static int span(int rows, int cols, int ld) {
        return rows == 0 ? 0 : Math.toIntExact((long) (rows - 1) * ld + cols);
    }

    private DeviceArray fit(DeviceArray d, long n) {
        if (d != null && d.length() >= n) return d;
        dev.free(d);
        return dev.floats(Math.max(n, d == null ? 0 : d.length() * 3 / 2));
    }
}
