package dev.puzzle.examples;

import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Quant;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * This toolkit's Q8_0, Q4_0 and MXFP4 against ggml itself: the {@code libggml-base.so} of the pinned
 * node-llama-cpp (the llama.cpp that runs our GGUFs), called through the JDK's FFI. Its reference quantizers
 * ({@code quantize_row_*_ref}, what {@code llama-quantize} writes) must produce our bytes exactly, and its
 * decoders ({@code dequantize_row_*}) must read our bytes to our values exactly.
 */
class GgmlQuantTest {
    static SymbolLookup ggml;
    static Path dir;
    static final Arena ARENA = Arena.ofShared();

    @BeforeAll
    static void load() throws Exception {
        LlamaCppTest.install();
        String arch = System.getProperty("os.arch").contains("aarch64") ? "linux-arm64" : "linux-x64";
        dir = Path.of(System.getProperty("user.home"), ".cache", "puzzle", "node-llama-cpp-" + LlamaCppTest.VERSION, "node_modules", "@node-llama-cpp", arch, "bins", arch);
        Path lib = dir.resolve("libggml-base.so");
        Assumptions.assumeTrue(Files.exists(lib), "skipped: " + lib + " is absent (node-llama-cpp's prebuilt binaries for " + arch + ")");
        ggml = SymbolLookup.libraryLookup(lib, ARENA);
    }

    static MethodHandle fn(String name) {
        return Linker.nativeLinker().downcallHandle(ggml.find(name).orElseThrow(() -> new AssertionError("ggml has no " + name)),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    }

    /** Gaussian rows, a large row, a tiny row, a zero block and an outlier. */
    static float[] data(int rows, int cols, long seed) {
        Random r = new Random(seed);
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        for (int j = 0; j < cols; j++) x[cols + j] *= 40f;
        for (int j = 0; j < cols; j++) x[2 * cols + j] *= 1e-3f;
        for (int j = 0; j < 32; j++) x[3 * cols + j] = 0f;
        x[4 * cols + 7] = -90f;
        return x;
    }

    @Test
    void ggmlQuantizesToOurBytesAndDecodesThemToOurValues() throws Throwable {
        int rows = 8, cols = 256;
        for (DType t : new DType[]{DType.Q8_0, DType.Q4_0, DType.MXFP4}) {
            String name = t.configName();
            MethodHandle quantize = fn("quantize_row_" + name + "_ref"), dequantize = fn("dequantize_row_" + name);
            for (long seed = 1; seed <= 3; seed++) {
                float[] x = data(rows, cols, seed);
                byte[] ours = Quant.quantize(t, x, rows, cols);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment in = a.allocateFrom(ValueLayout.JAVA_FLOAT, x);
                    MemorySegment q = a.allocate(ours.length);
                    quantize.invokeExact(in, q, (long) x.length);
                    byte[] theirs = q.toArray(ValueLayout.JAVA_BYTE);
                    int diff = 0;
                    for (int i = 0; i < ours.length; i++) if (ours[i] != theirs[i]) diff++;
                    assertEquals(0, diff, name + " seed " + seed + ": bytes differing from ggml's quantize_row_" + name + "_ref");

                    MemorySegment mine = a.allocateFrom(ValueLayout.JAVA_BYTE, ours), out = a.allocate(ValueLayout.JAVA_FLOAT, x.length);
                    dequantize.invokeExact(mine, out, (long) x.length);
                    float[] decoded = out.toArray(ValueLayout.JAVA_FLOAT);
                    assertArrayEquals(decoded, Quant.roundTrip(t, x, rows, cols), name + " seed " + seed + ": ggml's dequantize_row_" + name + " of our bytes");
                }
            }
        }
    }

    /**
     * Activations: before a product with Q8_0, Q4_0 or MXFP4 weights llama.cpp's CPU backend rounds the input
     * to Q8_0 with its SIMD quantize_row_q8_0 (scale amax/127 in FP16, codes rint(x·127/amax)); this toolkit's
     * {@link Quant#roundToQ8_0} must give the values ggml's bytes decode to. The AVX2 build (haswell) of
     * ggml's CPU library, on a machine with AVX2.
     */
    @Test
    void activationsRoundToQ8_0AsGgmlsCpuBackendRoundsThem() throws Throwable {
        Path cpu = dir.resolve("libggml-cpu-haswell.so");
        Assumptions.assumeTrue(Files.exists(cpu), "skipped: " + cpu + " is absent (not an x86-64 build of node-llama-cpp)");
        Assumptions.assumeTrue(Files.readString(Path.of("/proc/cpuinfo")).contains(" avx2"), "skipped: this CPU has no AVX2 for ggml's haswell build");
        SymbolLookup lib = SymbolLookup.libraryLookup(cpu, ARENA);
        MethodHandle quantize = Linker.nativeLinker().downcallHandle(lib.find("quantize_row_q8_0").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        MethodHandle dequantize = fn("dequantize_row_q8_0");
        float[] x = data(8, 256, 9);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = a.allocateFrom(ValueLayout.JAVA_FLOAT, x), q = a.allocate(DType.Q8_0.byteSize(8, 256)), out = a.allocate(ValueLayout.JAVA_FLOAT, x.length);
            quantize.invokeExact(in, q, (long) x.length);
            dequantize.invokeExact(q, out, (long) x.length);
            float[] theirs = out.toArray(ValueLayout.JAVA_FLOAT), ours = x.clone();
            Quant.roundToQ8_0(ours, 0, ours.length);
            assertArrayEquals(theirs, ours, "activations rounded to Q8_0 as ggml's CPU backend rounds them");
        }
    }
}
