package dev.puzzle.core.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * cuBLAS through the JDK's foreign-function interface: the four calls of the stable v2 API the backend uses
 * ({@code cublasCreate_v2}, {@code cublasSetMathMode}, {@code cublasSgemm_v2}, {@code cublasGemmEx},
 bound to whichever of {@code libcublas.so.13}, {@code .so.12} or {@code libcublas.so}
 * the dynamic loader finds first (LD_LIBRARY_PATH and the system paths). No JNI binding is tied to one CUDA major
 * version: a CUDA 13 machine (PyTorch's cu130 wheels, the CUDA 13 toolkit) and a CUDA 12 one both serve.
 * The handle works in the CUDA context current on the calling thread and on the default stream, as the kernels do.
 */
final class Cublas {
    /** The library names tried, newest first. */
    static final List<String> NAMES = List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so");

    // cublasOperation_t, cudaDataType, cublasComputeType_t, cublasGemmAlgo_t, cublasMath_t
    private static final int OP_N = 0, OP_T = 1, R_32F = 0, R_16BF = 14, COMPUTE_32F = 68, GEMM_DEFAULT = -1, DEFAULT_MATH = 0;

    private final String library;
    private final MemorySegment handle;
    private final MethodHandle sgemm, gemmEx;

    private Cublas(String library, MemorySegment handle, MethodHandle sgemm, MethodHandle gemmEx) {
        this.library = library;
        this.handle = handle;
        this.sgemm = sgemm;
        this.gemmEx = gemmEx;
    }

    /** A handle in the current context; {@link Absent} saying which libraries were tried, or what failed. */
    static Cublas open() throws Absent {
        SymbolLookup lib = null;
        String name = null;
        List<String> missing = new ArrayList<>();
        for (String n : NAMES) {
            try {
                lib = SymbolLookup.libraryLookup(n, Arena.global());
                name = n;
                break;
            } catch (IllegalArgumentException e) { // dlopen found none of that name
                missing.add(n);
            }
        }
        if (lib == null) throw new Absent(String.join(", ", missing) + " not found");
        Linker linker = Linker.nativeLinker();
        try {
            MethodHandle create = linker.downcallHandle(find(lib, "cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MethodHandle mathMode = linker.downcallHandle(find(lib, "cublasSetMathMode"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
            // (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
            MethodHandle sgemm = linker.downcallHandle(find(lib, "cublasSgemm_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
            // (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo)
            MethodHandle gemmEx = linker.downcallHandle(find(lib, "cublasGemmEx"), FunctionDescriptor.of(JAVA_INT, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                    ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
            MemorySegment h;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ADDRESS);
                check(name, "cublasCreate_v2", (int) create.invokeExact(out));
                h = out.get(ADDRESS, 0);
            }
            check(name, "cublasSetMathMode", (int) mathMode.invokeExact(h, DEFAULT_MATH)); // FP32 GEMMs stay FP32 (no TF32)
            return new Cublas(name, h, sgemm, gemmEx); // lives as long as the process, as the device does
        } catch (Absent e) {
            throw e;
        } catch (Throwable e) {
            throw new Absent(name + ": " + e.getMessage());
        }
    }

    private static MemorySegment find(SymbolLookup lib, String symbol) throws Absent {
        return lib.find(symbol).orElseThrow(() -> new Absent("the library has no " + symbol));
    }

    private static void check(String library, String call, int status) throws Absent {
        if (status != 0) throw new Absent(library + ": " + call + " returned cuBLAS status " + status);
    }

    /** The library bound. */
    String library() {
        return library;
    }

    /**
     * Column-major C = α·op(A)·op(B) + β·C on device pointers: FP32 operands ({@code bf16} false) by
     * {@code cublasSgemm_v2}, else BF16 operands with FP32 accumulation and FP32 C by {@code cublasGemmEx}.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb, float beta,
              long c, int ldc, boolean bf16) {
        int status;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment al = arena.allocateFrom(JAVA_FLOAT, alpha), be = arena.allocateFrom(JAVA_FLOAT, beta);
            int opA = transA ? OP_T : OP_N, opB = transB ? OP_T : OP_N;
            MemorySegment pa = MemorySegment.ofAddress(a), pb = MemorySegment.ofAddress(b), pc = MemorySegment.ofAddress(c);
            status = bf16
                    ? (int) gemmEx.invokeExact(handle, opA, opB, m, n, k, al, pa, R_16BF, lda, pb, R_16BF, ldb, be, pc, R_32F, ldc,
                    COMPUTE_32F, GEMM_DEFAULT)
                    : (int) sgemm.invokeExact(handle, opA, opB, m, n, k, al, pa, lda, pb, ldb, be, pc, ldc);
        } catch (Throwable e) {
            throw new IllegalStateException("cuBLAS (" + library + ") failed: " + e, e);
        }
        if (status != 0) {
            throw new IllegalStateException("cuBLAS (" + library + ") " + (bf16 ? "cublasGemmEx" : "cublasSgemm_v2") + " returned status "
                    + status + " for m " + m + ", n " + n + ", k " + k + ", lda " + lda + ", ldb " + ldb + ", ldc " + ldc);
        }
    }

    /** cuBLAS is not there (or would not start): the line says why. */
    static final class Absent extends Exception {
        Absent(String message) {
            super(message);
        }
    }
}
