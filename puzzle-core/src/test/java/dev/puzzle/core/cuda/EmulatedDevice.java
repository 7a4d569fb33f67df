package dev.puzzle.core.cuda;

/**
 * The tests' device: host memory, and the kernels of kernels.cu compiled for the host under emu.h (a block's
 * CUDA threads as fibers), launched through JNI with the arguments the backend's Java code passes — checked
 * against the PTX and converted by {@link Ptx#check} as on the GPU. No BLAS: GEMMs take the PTX GEMM kernels. So the whole device path — device
 * blocks, the optimizer, the trainer, the host path's GEMMs — runs here as it would on a GPU, but for jcuda's
 * calls and cuBLAS.
 */
public final class EmulatedDevice implements Device {
    private final Object lock = new Object();
    /** Launches per kernel name, so a test can tell which path ran. */
    public final java.util.Map<String, Integer> launches = new java.util.concurrent.ConcurrentHashMap<>();

    private final long memory;
    /** Uploads from the host so far. */
    public final java.util.concurrent.atomic.AtomicInteger uploads = new java.util.concurrent.atomic.AtomicInteger();

    public EmulatedDevice() throws Exception {
        this(Runtime.getRuntime().maxMemory());
    }

    /** A device that says it has {@code memory} bytes (allocations are not limited by it). */
    public EmulatedDevice(long memory) throws Exception {
        System.load(HostCuda.library().toString());
        this.memory = memory;
    }

    static native long alloc(long bytes);

    static native void release(long p);

    static native void upload(long dst, float[] src, int off, int n);

    static native void download(long src, float[] dst, int off, int n);

    static native void downloadDoubles(long src, double[] dst, int n);

    static native void copy(long dst, long src, long bytes);

    static native void zero(long p, long bytes);

    static native boolean launch(String kernel, int gx, int gy, int bx, int by, long[] args);

    @Override
    public String name() {
        return "emulated";
    }

    @Override
    public long memoryBytes() {
        return memory;
    }

    @Override
    public Object lock() {
        return lock;
    }

    @Override
    public void bind() {}

    private static DeviceArray alloc(long n, int elem) {
        return new DeviceArray(alloc(n * elem), n, elem);
    }

    @Override
    public DeviceArray floats(long n) {
        return alloc(n, 4);
    }

    @Override
    public DeviceArray bf16(long n) {
        return alloc(n, 2);
    }

    @Override
    public DeviceArray doubles(long n) {
        return alloc(n, 8);
    }

    @Override
    public void upload(float[] a, int off, DeviceArray d, long dOff, int n) {
        if (dOff + n > d.length()) throw new IndexOutOfBoundsException("upload of " + n + " at " + dOff + " into " + d.length());
        uploads.incrementAndGet();
        upload(d.at(dOff), a, off, n);
    }

    @Override
    public void download(DeviceArray d, long dOff, float[] a, int off, int n) {
        if (dOff + n > d.length()) throw new IndexOutOfBoundsException("download of " + n + " at " + dOff + " from " + d.length());
        download(d.at(dOff), a, off, n);
    }

    @Override
    public double[] downloadDoubles(DeviceArray d) {
        double[] a = new double[(int) d.length()];
        downloadDoubles(d.address(), a, a.length);
        return a;
    }

    @Override
    public void copy(DeviceArray src, long sOff, DeviceArray dst, long dOff, long n) {
        if (sOff + n > src.length() || dOff + n > dst.length()) throw new IndexOutOfBoundsException("copy of " + n);
        copy(dst.at(dOff), src.at(sOff), n * src.elementBytes());
    }

    @Override
    public void zero(DeviceArray d) {
        zero(d.address(), d.length() * d.elementBytes());
    }

    @Override
    public void free(DeviceArray d) {
        if (d != null) release(d.address());
    }

    @Override
    public void synchronize() {}

    @Override
    public synchronized void launch2d(String kernel, int gridX, int gridY, int blockX, int blockY, Object... args) {
        long[] bits = Ptx.check(kernel, args);
        launches.merge(kernel, 1, Integer::sum);
        if (!launch(kernel, gridX, gridY, blockX, blockY, bits)) throw new IllegalArgumentException("the emulator has no kernel " + kernel);
    }

    @Override
    public float time(Runnable work) {
        long t0 = System.nanoTime();
        work.run();
        return (System.nanoTime() - t0) / 1e6f;
    }

    @Override
    public boolean blasGemm(boolean transA, boolean transB, int M, int N, int K, DeviceArray a, int lda, DeviceArray b, int ldb,
                            DeviceArray c, int ldc, float beta) {
        return false;
    }

    @Override
    public String blasAbsent() {
        return "the emulated device has no BLAS";
    }
}
