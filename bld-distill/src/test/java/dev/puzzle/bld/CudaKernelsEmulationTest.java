package dev.puzzle.bld;

import dev.puzzle.core.cuda.HostCuda;
import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.model.Rope;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.ops.Attention;
import dev.puzzle.core.ops.Ops;
import dev.puzzle.core.ops.Param;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA backend's kernels (puzzle-core/src/main/cuda/kernels.cu, the source of the PTX it loads; runner puzzle-core/src/test/cuda/emu_main.cpp) compiled
 * for the host under emu.h — every CUDA thread a host thread, __syncthreads a barrier — and compared with the
 * CPU block ops every other test checks against llama2.c and PyTorch: RMSNorm, SwiGLU, RoPE (both pairings),
 * causal GQA attention with and without a window (forward, backward, decode), the normalized MSE, clipped
 * AdamW and both GEMMs, each under two launch geometries (the kernels must not depend on them). What this
 * cannot check — the PTX on a real GPU, cuBLAS, the Java launch code — bench/gpu.sh checks on the device.
 */
class CudaKernelsEmulationTest {
    private static Path emu;
    private static final Kernels K = Backend.cpu("scalar").kernels();
    private static final Ops OPS = new Ops(K);

    @TempDir
    Path dir;

    @BeforeAll
    static void build() throws Exception {
        emu = HostCuda.executable();
    }

    private List<float[]> run(String op, int grid, int block, List<float[]> in, Object... args) throws Exception {
        Path inF = dir.resolve(op + ".in"), outF = dir.resolve(op + ".out");
        int bytes = 0;
        for (float[] a : in) bytes += 8 + 4 * a.length;
        ByteBuffer bb = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] a : in) {
            bb.putLong(a.length);
            for (float f : a) bb.putFloat(f);
        }
        Files.write(inF, bb.array());
        List<String> cmd = new ArrayList<>(List.of(emu.toString(), op, inF.toString(), outF.toString(), "" + grid, "" + block));
        for (Object a : args) cmd.add(String.valueOf(a));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), op + ": " + log);
        ByteBuffer ob = ByteBuffer.wrap(Files.readAllBytes(outF)).order(ByteOrder.LITTLE_ENDIAN);
        List<float[]> out = new ArrayList<>();
        while (ob.hasRemaining()) {
            float[] a = new float[(int) ob.getLong()];
            for (int i = 0; i < a.length; i++) a[i] = ob.getFloat();
            out.add(a);
        }
        return out;
    }

    private static float[] random(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    /** Every element within tol of the reference, relative to the reference's largest magnitude. */
    private static void close(String what, float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, what + ": length");
        double max = 1e-30;
        for (float e : expected) max = Math.max(max, Math.abs(e));
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= tol * max, what + "[" + i + "]: expected " + expected[i] + ", kernel gave " + actual[i]);
        }
    }

    @ParameterizedTest(name = "grid {0}, block {1}")
    @CsvSource({"3, 32", "64, 128"})
    void rmsnormForwardAndBackward(int grid, int block) throws Exception {
        Random r = new Random(1);
        int N = 7, D = 300;
        float eps = 1e-5f;
        float[] x = random(r, N * D, 1), w = random(r, D, 1), dy = random(r, N * D, 1);
        List<float[]> o = run("rmsnorm", grid, block, List.of(x, w, dy), N, D, eps);
        float[] out = new float[N * D], rstd = new float[N], dx = new float[N * D], dw = new float[D];
        OPS.rmsnormForward(out, rstd, x, w, N, D, eps);
        Ops.rmsnormBackward(dx, dw, dy, x, rstd, w, N, D);
        close("out", out, o.get(0), 1e-6);
        close("rstd", rstd, o.get(1), 1e-6);
        close("dx", dx, o.get(2), 1e-5);
        close("dw", dw, o.get(3), 1e-5);
    }

    @ParameterizedTest(name = "grid {0}, block {1}")
    @CsvSource({"2, 32", "40, 256"})
    void swiglu(int grid, int block) throws Exception {
        Random r = new Random(2);
        int n = 1000;
        float[] a = random(r, n, 3), b = random(r, n, 1), dg = random(r, n, 1);
        List<float[]> o = run("swiglu", grid, block, List.of(a, b, dg));
        float[] g = new float[n], da = new float[n], db = new float[n];
        Ops.swigluForward(g, a, b, n);
        Ops.swigluBackward(da, db, dg, a, b, n);
        close("g", g, o.get(0), 1e-6);
        close("da", da, o.get(1), 1e-6);
        close("db", db, o.get(2), 1e-6);
    }

    @ParameterizedTest(name = "style {0}")
    @CsvSource({"0", "1"})
    void rope(int style) throws Exception {
        Random r = new Random(3);
        int S = 2, T = 5, heads = 3, E = 8, rows = S * T;
        float[] x = random(r, rows * heads * E, 1), cs = new float[T * E], row = new float[E];
        for (int t = 0; t < T; t++) {
            Rope.table(row, t, E, 10000f);
            System.arraycopy(row, 0, cs, t * E, E);
        }
        List<float[]> o = run("rope", 3, 32, List.of(x, cs), rows, T, heads, E, style);
        float[] expected = x.clone();
        RopeStyle st = style == 0 ? RopeStyle.INTERLEAVED : RopeStyle.HALF_SPLIT;
        for (int n = 0; n < rows; n++) {
            Rope.table(row, n % T, E, 10000f);
            Rope.apply(st, expected, n * heads * E, heads, E, row);
        }
        close("rotated", expected, o.get(0), 1e-6);
        close("rotated back", x, o.get(1), 1e-6);
    }

    /** Head dims 128 with 70 tokens: key tiles (63 keys of 129 floats in shared memory) narrower than the block, and two of them. */
    @ParameterizedTest(name = "window {0}, grid {1}, block {2}, E {3}, T {4}")
    @CsvSource({"0, 5, 32, 8, 9", "4, 64, 64, 8, 9", "0, 1000, 128, 8, 9", "0, 7, 128, 128, 70", "20, 3, 128, 128, 70"})
    void attentionForwardAndBackward(int window, int grid, int block, int E, int T) throws Exception {
        Random r = new Random(4);
        int S = 2, H = 4, G = 2, HE = H * E, GE = G * E, group = H / G;
        float[] q = random(r, S * T * HE, 1), k = random(r, S * T * GE, 1), v = random(r, S * T * GE, 1), dO = random(r, S * T * HE, 1);
        List<float[]> got = run("attention", grid, block, List.of(q, k, v, dO), S, T, H, G, E, window);
        float[] o = new float[S * T * HE], p = new float[S * H * T * T];
        for (int s = 0; s < S; s++) {
            for (int h = 0; h < H; h++) {
                Attention.head(K, q, s * T * HE + h * E, HE, k, v, s * T * GE + (h / group) * E, GE, o, s * T * HE + h * E, HE,
                        p, (s * H + h) * T * T, T, T, 0, 0, E, window);
            }
        }
        float[] dq = new float[S * T * HE], dk = new float[S * T * GE], dv = new float[S * T * GE];
        Attention.backward(K, dq, dk, dv, dO, p, q, k, v, S, T, H, G, E, window);
        close("o", o, got.get(0), 1e-6);
        close("p", p, got.get(1), 1e-6);
        close("dq", dq, got.get(2), 1e-5);
        close("dk", dk, got.get(3), 1e-5);
        close("dv", dv, got.get(4), 1e-5);
    }

    @ParameterizedTest(name = "window {0}, E {1}, L {2}")
    @CsvSource({"0, 16, 11", "5, 16, 11", "0, 128, 70"})
    void decodeAttention(int window, int E, int L) throws Exception {
        Random r = new Random(5);
        int B = 3, H = 4, G = 1, HE = H * E, GE = G * E;
        float[] q = random(r, B * HE, 1), k = random(r, B * L * GE, 1), v = random(r, B * L * GE, 1);
        List<float[]> got = run("decode", 4, 64, List.of(q, k, v), B, L, H, G, E, window);
        float[] o = new float[B * HE];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                Attention.head(K, q, b * HE + h * E, HE, k, v, b * L * GE + (h / (H / G)) * E, GE, o, b * HE + h * E, HE,
                        new float[L], 0, 0, 1, L - 1, 0, E, window);
            }
        }
        close("o", o, got.get(0), 1e-6);
    }

    @Test
    void normalizedMse() throws Exception {
        Random r = new Random(6);
        int n = 5000;
        float[] pred = random(r, n, 1), y = random(r, n, 2);
        List<float[]> got = run("nmse", 7, 64, List.of(pred, y));
        float[] dPred = new float[n];
        double loss = Losses.normalizedMse(pred, y, dPred);
        assertEquals(loss, got.get(0)[0] / got.get(0)[1], 1e-5 * loss);
        close("dPred", dPred, got.get(1), 1e-6);
    }

    @ParameterizedTest(name = "clip to {0}")
    @CsvSource({"0.5", "1000"})
    void clippedAdamW(double maxNorm) throws Exception {
        Random r = new Random(7);
        float[] w0 = random(r, 60, 1), g0 = random(r, 60, 1), w1 = random(r, 10, 1), g1 = random(r, 10, 1);
        int steps = 3;
        float lr = 0.01f, wd = 0.1f;
        List<float[]> got = run("adamw", 3, 32, List.of(w0, g0, w1, g1), steps, lr, maxNorm, wd);
        Param p0 = new Param("m.weight", new Tensor(w0.clone(), 6, 10)), p1 = new Param("n.weight", new Tensor(w1.clone(), 10));
        AdamW opt = new AdamW(List.of(p0, p1), 0.9, 0.95, wd);
        for (int t = 0; t < steps; t++) {
            System.arraycopy(g0, 0, p0.grad(), 0, g0.length);
            System.arraycopy(g1, 0, p1.grad(), 0, g1.length);
            opt.clip(maxNorm);
            opt.step(lr);
        }
        close("matrix (decayed)", p0.w, got.get(0), 1e-5);
        close("vector (not decayed)", p1.w, got.get(1), 1e-5);
        float[] rounded = new float[p1.w.length];
        for (int i = 0; i < rounded.length; i++) rounded[i] = bf16(p1.w[i]);
        close("BF16 copy", rounded, got.get(2), 4e-3);
    }

    @ParameterizedTest(name = "transA {0}, transB {1}, beta {2}")
    @CsvSource({"false, false, 0", "false, true, 1", "true, false, 0", "true, true, 0.5"})
    void gemm(boolean ta, boolean tb, float beta) throws Exception {
        Random r = new Random(8);
        int M = 37, N = 21, Kd = 50;
        float[] a = random(r, M * Kd, 1), b = random(r, Kd * N, 1), c = random(r, M * N, 1);
        List<float[]> got = run("gemm", 2, 0, List.of(a, b, c), M, N, Kd, ta ? 1 : 0, tb ? 1 : 0, beta);
        close("f32", reference(ta, tb, M, N, Kd, a, b, c, beta), got.get(0), 1e-5);
        float[] a16 = a.clone(), b16 = b.clone();
        for (int i = 0; i < a16.length; i++) a16[i] = bf16(a16[i]);
        for (int i = 0; i < b16.length; i++) b16[i] = bf16(b16[i]);
        close("bf16", reference(ta, tb, M, N, Kd, a16, b16, c, beta), got.get(1), 1e-5);
    }

    private static float[] reference(boolean ta, boolean tb, int M, int N, int Kd, float[] a, float[] b, float[] c, float beta) {
        float[] out = c.clone();
        for (int i = 0; i < out.length; i++) out[i] *= beta;
        K.gemm(ta, tb, M, N, Kd, a, 0, ta ? M : Kd, b, 0, tb ? Kd : N, out, 0, N, true);
        return out;
    }

    /** Round to nearest even BF16, widened back. */
    private static float bf16(float x) {
        int u = Float.floatToRawIntBits(x);
        u += 0x7fff + ((u >>> 16) & 1);
        return Float.intBitsToFloat(u & 0xffff0000);
    }
}
