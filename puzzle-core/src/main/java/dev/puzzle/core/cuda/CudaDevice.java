package dev.puzzle.core.cuda;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.util.HashMap;
import java.util.Map;

import static jcuda.driver.JCudaDriver.*;

/**
 * One GPU through the CUDA driver API (jcuda): its primary context, the PTX kernels of
 * {@code src/main/cuda/kernels.cu} (loaded with the driver's JIT, so a driver newer than jcuda's natives
 * runs them), cuBLAS where its native library loads (otherwise the PTX GEMM), device memory and
 * CUDA-event timing. Opened by {@link #open()}, which says in one line why it cannot be (no native
 * library, no driver, no device). Calls from any thread make the context current first.
 */
public final class CudaDevice implements Device {
    private static CudaDevice opened;
    private static String failure;

    private final CUcontext ctx;
    private final CUmodule module;
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final String name;
    private final long memory;
    private final Cublas cublas; // null: the PTX GEMM
    private final String cublasAbsent;
    private final Object lock = new Object();

    /** The GPU could not be opened; the message is the one line saying why. */
    public static final class Unavailable extends Exception {
        Unavailable(String why) {
            super(why);
        }
    }

    /** A device pointer whose address can be read (jcuda keeps it protected). */
    private static final class Address extends CUdeviceptr {
        long value() {
            return getNativePointer() + getByteOffset();
        }
    }

    private CudaDevice(CUcontext ctx, CUmodule module, String name, long memory, Cublas cublas, String cublasAbsent) {
        this.ctx = ctx;
        this.module = module;
        this.name = name;
        this.memory = memory;
        this.cublas = cublas;
        this.cublasAbsent = cublasAbsent;
    }

    /** Device 0 (or {@code CUDA_VISIBLE_DEVICES}'s first), opened once per process. */
    public static synchronized CudaDevice open() throws Unavailable {
        if (opened != null) return opened;
        if (failure != null) throw new Unavailable(failure);
        try {
            opened = open0();
            return opened;
        } catch (Unavailable e) {
            failure = e.getMessage();
            throw e;
        }
    }

    private static CudaDevice open0() throws Unavailable {
        try {
            JCudaDriver.setExceptionsEnabled(true);
        } catch (Throwable e) { // the JNI library itself, or libcuda.so.1 it links, did not load
            throw new Unavailable("no CUDA driver: " + nativeReason(e));
        }
        try {
            cuInit(0);
            int[] count = new int[1];
            cuDeviceGetCount(count);
            if (count[0] == 0) throw new Unavailable("the CUDA driver sees no GPU");
            CUdevice dev = new CUdevice();
            cuDeviceGet(dev, 0);
            byte[] nm = new byte[256];
            cuDeviceGetName(nm, nm.length, dev);
            String name = new String(nm, java.nio.charset.StandardCharsets.US_ASCII).replace("\0", "").trim();
            long[] mem = new long[1];
            cuDeviceTotalMem(mem, dev);
            int[] cc = new int[1];
            cuDeviceGetAttribute(cc, jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
            if (cc[0] < 8) throw new Unavailable(name + " has compute capability " + cc[0] + ".x; the CUDA backend needs 8.0 or newer (BF16)");
            CUcontext ctx = new CUcontext();
            cuDevicePrimaryCtxRetain(ctx, dev);
            cuCtxSetCurrent(ctx);
            CUmodule module = new CUmodule();
            cuModuleLoadData(module, Ptx.image());
            Cublas h = null;
            String absent = null;
            try {
                h = Cublas.open();
            } catch (Cublas.Absent e) {
                absent = "cuBLAS did not load (" + e.getMessage() + "); GEMMs run on the backend's own PTX kernel";
            }
            return new CudaDevice(ctx, module, name, mem[0], h, absent);
        } catch (Unavailable e) {
            throw e;
        } catch (Throwable e) {
            throw new Unavailable("the CUDA driver failed: " + e.getMessage());
        }
    }

    /** The first line of a native-library failure, without jcuda's multi-line detail. */
    static String nativeReason(Throwable e) {
        String m = String.valueOf(e.getMessage());
        java.util.regex.Matcher so = java.util.regex.Pattern.compile("(lib[A-Za-z0-9_.+-]+\\.so[.0-9]*): cannot open shared object file").matcher(m);
        if (so.find()) return so.group(1) + " not found";
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).trim();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long memoryBytes() {
        return memory;
    }

    @Override
    public String blasAbsent() {
        return cublasAbsent;
    }

    @Override
    public Object lock() {
        return lock;
    }

    @Override
    public void bind() {
        cuCtxSetCurrent(ctx);
    }

    private CUfunction function(String kernel) {
        synchronized (functions) {
            return functions.computeIfAbsent(kernel, k -> {
                CUfunction f = new CUfunction();
                cuModuleGetFunction(f, module, k);
                return f;
            });
        }
    }

    /** Live allocations by base address: a device address becomes its allocation's pointer plus an offset, as jcuda expects. */
    private final java.util.TreeMap<Long, Address> allocations = new java.util.TreeMap<>();

    private CUdeviceptr ptr(long address) {
        Map.Entry<Long, Address> e;
        synchronized (allocations) {
            e = allocations.floorEntry(address);
        }
        if (e == null) throw new IllegalArgumentException("device address " + Long.toHexString(address) + " is not in a live allocation");
        return address == e.getKey() ? e.getValue() : e.getValue().withByteOffset(address - e.getKey());
    }

    // ---- memory

    @Override
    public DeviceArray floats(long n) {
        return alloc(n, Sizeof.FLOAT);
    }

    @Override
    public DeviceArray bf16(long n) {
        return alloc(n, Sizeof.SHORT);
    }

    @Override
    public DeviceArray doubles(long n) {
        return alloc(n, Sizeof.DOUBLE);
    }

    private DeviceArray alloc(long n, int elem) {
        bind();
        Address p = new Address();
        cuMemAlloc(p, Math.max(1, n * elem));
        if (n > 0) cuMemsetD8(p, (byte) 0, n * elem);
        synchronized (allocations) {
            allocations.put(p.value(), p);
        }
        return new DeviceArray(p.value(), n, elem);
    }

    @Override
    public void upload(float[] a, int off, DeviceArray d, long dOff, int n) {
        if (n == 0) return;
        cuMemcpyHtoD(ptr(d.at(dOff)), Pointer.to(a).withByteOffset((long) off * Sizeof.FLOAT), (long) n * Sizeof.FLOAT);
    }

    @Override
    public void download(DeviceArray d, long dOff, float[] a, int off, int n) {
        if (n == 0) return;
        cuMemcpyDtoH(Pointer.to(a).withByteOffset((long) off * Sizeof.FLOAT), ptr(d.at(dOff)), (long) n * Sizeof.FLOAT);
    }

    @Override
    public double[] downloadDoubles(DeviceArray d) {
        double[] a = new double[Math.toIntExact(d.length())];
        cuMemcpyDtoH(Pointer.to(a), ptr(d.address()), a.length * (long) Sizeof.DOUBLE);
        return a;
    }

    @Override
    public void copy(DeviceArray src, long sOff, DeviceArray dst, long dOff, long n) {
        if (n == 0) return;
        cuMemcpyDtoD(ptr(dst.at(dOff)), ptr(src.at(sOff)), n * src.elementBytes());
    }

    @Override
    public void zero(DeviceArray d) {
        if (d.length() > 0) cuMemsetD8(ptr(d.address()), (byte) 0, d.length() * d.elementBytes());
    }

    @Override
    public void free(DeviceArray d) {
        if (d == null) return;
        Address p;
        synchronized (allocations) {
            p = allocations.remove(d.address());
        }
        if (p == null) throw new IllegalArgumentException("device address " + Long.toHexString(d.address()) + " is not an allocation's start");
        cuMemFree(p);
    }

    @Override
    public void synchronize() {
        cuCtxSynchronize();
    }

    // ---- launches

    @Override
    public void launch2d(String kernel, int gridX, int gridY, int blockX, int blockY, Object... args) {
        long[] values = Ptx.check(kernel, args);
        Pointer[] ps = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            boolean narrow = args[i] instanceof Integer || args[i] instanceof Float;
            ps[i] = narrow ? Pointer.to(new int[]{(int) values[i]}) : Pointer.to(new long[]{values[i]});
        }
        cuLaunchKernel(function(kernel), gridX, gridY, 1, blockX, blockY, 1, 0, null, Pointer.to(ps), null);
    }

    @Override
    public boolean blasGemm(boolean transA, boolean transB, int M, int N, int K, DeviceArray a, int lda, DeviceArray b, int ldb,
                            DeviceArray c, int ldc, float beta) {
        if (cublas == null) return false;
        // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: B first, both read as stored.
        cublas.gemm(transB, transA, N, M, K, 1f, b.address(), ldb, a.address(), lda, beta, c.address(), ldc, a.elementBytes() == 2);
        return true;
    }

    // ---- timing

    @Override
    public float time(Runnable work) {
        CUevent a = new CUevent(), b = new CUevent();
        cuEventCreate(a, 0);
        cuEventCreate(b, 0);
        try {
            cuEventRecord(a, (CUstream) null);
            work.run();
            cuEventRecord(b, (CUstream) null);
            cuEventSynchronize(b);
            float[] ms = new float[1];
            cuEventElapsedTime(ms, a, b);
            return ms[0];
        } finally {
            cuEventDestroy(a);
            cuEventDestroy(b);
        }
    }
}
