package dev.puzzle.core.cuda;

/**
 * A device the CUDA backend computes on: memory, copies, launches of the kernels of kernels.cu (by name,
 * arguments checked against {@link Ptx}), event timing and an optional BLAS GEMM. {@link CudaDevice} is the
 * GPU through jcuda; the tests run the same device code on an emulated device (host memory, kernels.cu
 * compiled for the host). Device arrays are addresses on the device; one unit of work holds {@link #lock()}.
 */
public interface Device {
    String name();

    long memoryBytes();

    /** Held around a unit of work on this device (a training job, a timed block, a GEMM of the host path). */
    Object lock();

    /** Makes the device current on the calling thread. */
    void bind();

    /** Zeroed arrays of n elements of 4, 2 and 8 bytes. */
    DeviceArray floats(long n);

    DeviceArray bf16(long n);

    DeviceArray doubles(long n);

    default DeviceArray upload(float[] a) {
        DeviceArray d = floats(a.length);
        upload(a, 0, d, 0, a.length);
        return d;
    }

    void upload(float[] a, int off, DeviceArray d, long dOff, int n);

    void download(DeviceArray d, long dOff, float[] a, int off, int n);

    default float[] download(DeviceArray d) {
        float[] a = new float[Math.toIntExact(d.length())];
        download(d, 0, a, 0, a.length);
        return a;
    }

    double[] downloadDoubles(DeviceArray d);

    /** dst[dOff..dOff+n) = src[sOff..sOff+n), in elements of the arrays' own size. */
    void copy(DeviceArray src, long sOff, DeviceArray dst, long dOff, long n);

    void zero(DeviceArray d);

    /** Frees an allocation (null: nothing). */
    void free(DeviceArray d);

    void synchronize();

    /** Launches a kernel over a 1-D grid; arguments DeviceArray (or null), Integer, Long or Float, in the kernel's order. */
    default void launch(String kernel, int grid, int block, Object... args) {
        launch2d(kernel, grid, 1, block, 1, args);
    }

    void launch2d(String kernel, int gridX, int gridY, int blockX, int blockY, Object... args);

    /** Milliseconds of device time {@code work} takes. */
    float time(Runnable work);

    /**
     * {@code C = op(A)·op(B) + beta·C} (row-major, as {@link DeviceOps#gemm}) by the device's BLAS; false when it has
     * none, and the PTX GEMM serves.
     */
    boolean blasGemm(boolean transA, boolean transB, int M, int N, int K, DeviceArray a, int lda, DeviceArray b, int ldb,
                     DeviceArray c, int ldc, float beta);

    /** Null when a BLAS serves the GEMMs; else the line saying why the PTX GEMM does. */
    String blasAbsent();

    /** Grid size for a grid-stride elementwise kernel over n elements. */
    static int gridFor(long n, int block) {
        return (int) Math.max(1, Math.min(65535L * 8, (n + block - 1) / block));
    }
}
