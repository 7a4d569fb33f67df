package dev.puzzle.core;

import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.tensor.Quant;
import dev.puzzle.core.tensor.ScalarKernels;
import dev.puzzle.core.tensor.VectorKernels;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The kernels of 256-bit machines (AVX2: 8 lanes, the 6-row GEMM micro-kernel) on a machine whose own vectors are
 * wider: a JVM started with {@code -XX:UseAVX=2} runs {@link #main} against the scalar twin, so CI on an AVX-512
 * machine still checks the code an AVX2 machine runs (GEMMs, the quantized formats' matrix-vector dots, the
 * tails of the row kernels).
 */
class Avx2KernelTest {

    @Test
    void kernelsOnTwoHundredFiftySixBitVectorsMatchTheScalarTwin() throws Exception {
        String arch = System.getProperty("os.arch");
        assumeTrue(arch.equals("amd64") || arch.equals("x86_64"), "-XX:UseAVX is an x86 flag; this machine is " + arch);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(List.of(java.toString(), "--add-modules", "jdk.incubator.vector", "-XX:UseAVX=2",
                "-cp", System.getProperty("java.class.path"), Avx2KernelTest.class.getName()))
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the AVX2 JVM did not finish in 120 s");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assumeTrue(!out.contains("lanes 16"), "this JVM kept 512-bit vectors under -XX:UseAVX=2: " + out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("lanes 8"), out);
    }

    /**
     * Run under -XX:UseAVX=2: GEMMs of edge-heavy shapes, every transposition, the dot of every quantized format and
     * the row kernels on every length of tail, vector against scalar; exit 1 on a mismatch.
     */
    public static void main(String[] args) {
        System.out.println("lanes " + FloatVector.SPECIES_PREFERRED.length());
        Kernels vec = new VectorKernels(new Parallel(2)), sca = new ScalarKernels(new Parallel(1));
        Random rnd = new Random(7);
        int bad = 0;
        for (int[] sh : new int[][]{{19, 1030, 1030}, {9, 2100, 70}, {64, 64, 64}, {7, 33, 1000}, {3, 50, 17}}) {
            int m = sh[0], n = sh[1], k = sh[2];
            float[] a = new float[m * k], b = new float[k * n];
            for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextGaussian();
            for (boolean ta : new boolean[]{false, true}) {
                for (boolean tb : new boolean[]{false, true}) {
                    float[] c0 = new float[m * n], c1 = new float[m * n];
                    sca.gemm(ta, tb, m, n, k, a, 0, ta ? m : k, b, 0, tb ? k : n, c0, 0, n, false);
                    vec.gemm(ta, tb, m, n, k, a, 0, ta ? m : k, b, 0, tb ? k : n, c1, 0, n, false);
                    for (int i = 0; i < c0.length; i++) {
                        if (Math.abs(c0[i] - c1[i]) > 1e-4 * Math.sqrt(k) * (1 + Math.abs(c0[i]))) {
                            System.out.println("mismatch " + m + "x" + n + "x" + k + " transA " + ta + " transB " + tb
                                    + " at " + i + ": " + c0[i] + " vs " + c1[i]);
                            bad++;
                            break;
                        }
                    }
                }
            }
        }
        for (DType t : new DType[]{DType.Q8_0, DType.Q4_0, DType.MXFP4, DType.NVFP4, DType.FP8}) {
            int n = 768;
            float[] w = new float[3 * n], x = new float[n + 5];
            for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            byte[] q = Quant.quantize(t, w, 3, n);
            int rb = (int) t.rowBytes(n);
            for (int r = 0; r < 3; r++) {
                float want = sca.dotQuant(t, x, 5, q, r * rb, n), got = vec.dotQuant(t, x, 5, q, r * rb, n);
                if (Math.abs(want - got) > 1e-5f * n * (1 + Math.abs(want))) {
                    System.out.println("mismatch " + t + " row " + r + ": " + want + " vs " + got);
                    bad++;
                }
            }
        }
        for (DType t : new DType[]{DType.Q4_0, DType.MXFP4, DType.Q8_0}) { // decode's integer products, 32 rows a group: two passes of 16 lanes on 256-bit vectors
            int rows = 64, k = 256;
            float[] w = new float[rows * k], x = new float[k];
            for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            dev.puzzle.core.tensor.Rows32 rep = dev.puzzle.core.tensor.Rows32.of(dev.puzzle.core.tensor.Tensor.packed(t, Quant.quantize(t, w, rows, k), rows, k));
            dev.puzzle.core.tensor.Rows32.Codes c = dev.puzzle.core.tensor.Rows32.Codes.of(x, 0, 1, k);
            for (int g = 0; g < 2; g++) {
                float[] a = new float[32], b = new float[32];
                if (t == DType.Q4_0) {
                    sca.dotQ4Rows32(c.codes(), 0, c.scales(), c.offsets(), 0, rep.data(), rep.offset(g), k / 32, a, 0, false);
                    vec.dotQ4Rows32(c.codes(), 0, c.scales(), c.offsets(), 0, rep.data(), rep.offset(g), k / 32, b, 0, false);
                } else if (t == DType.Q8_0) {
                    sca.dotQ8Rows32(c.values(), 0, c.scales(), 0, rep.data(), rep.offset(g), k / 32, a, 0, false);
                    vec.dotQ8Rows32(c.values(), 0, c.scales(), 0, rep.data(), rep.offset(g), k / 32, b, 0, false);
                } else {
                    sca.dotMxfp4Rows32(c.codes(), 0, c.scales(), 0, rep.data(), rep.offset(g), k / 32, a, 0, false);
                    vec.dotMxfp4Rows32(c.codes(), 0, c.scales(), 0, rep.data(), rep.offset(g), k / 32, b, 0, false);
                }
                if (!java.util.Arrays.equals(a, b)) {
                    System.out.println("mismatch in the integer " + t + " product, group " + g + ": " + java.util.Arrays.toString(a) + " vs " + java.util.Arrays.toString(b));
                    bad++;
                }
            }
        }
        for (int n : new int[]{8, 9, 15, 16, 17, 100}) { // attention's fused head of 8, with 8 lanes: every tail of its last vector
            float[] q = new float[8], kt = new float[8 * (n + 2)], vt = new float[8 * (n + 2)];
            for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < kt.length; i++) {
                kt[i] = (float) rnd.nextGaussian();
                vt[i] = (float) rnd.nextGaussian();
            }
            float[] s0 = new float[n], s1 = new float[n], o0 = new float[8], o1 = new float[8];
            float z0 = sca.attend(q, 0, 8, kt, vt, 1, n + 2, n, s0, 0, o0, 0), z1 = vec.attend(q, 0, 8, kt, vt, 1, n + 2, n, s1, 0, o1, 0);
            boolean ok = Math.abs(z0 - z1) <= 1e-5f * z0;
            for (int i = 0; i < n; i++) ok &= Math.abs(s0[i] - s1[i]) <= 1e-6f;
            for (int e = 0; e < 8; e++) ok &= Math.abs(o0[e] - o1[e]) <= 1e-5f * (1 + Math.abs(o0[e])) * n;
            if (!ok) {
                System.out.println("mismatch in attend at n=" + n);
                bad++;
            }
        }
        for (int n : new int[]{8, 9, 15, 16, 17, 100}) { // attention's fused backward at a head of 8, with 8 lanes
            float[] dO = new float[8], q = new float[8], kt = new float[8 * (n + 2)], vt = new float[8 * (n + 2)], p = new float[n];
            for (int i = 0; i < 8; i++) {
                dO[i] = (float) rnd.nextGaussian();
                q[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < kt.length; i++) {
                kt[i] = (float) rnd.nextGaussian();
                vt[i] = (float) rnd.nextGaussian();
            }
            for (int j = 0; j < n; j++) p[j] = (float) Math.abs(rnd.nextGaussian()) / n;
            float[] dk0 = new float[kt.length], dk1 = new float[kt.length], dv0 = new float[kt.length], dv1 = new float[kt.length];
            float[] dq0 = new float[8], dq1 = new float[8];
            float z0 = sca.attendBackward(dO, 0, q, 0, 8, p, 0, kt, vt, dk0, dv0, 1, n + 2, n, 0.3f, new float[n], dq0, 0);
            float z1 = vec.attendBackward(dO, 0, q, 0, 8, p, 0, kt, vt, dk1, dv1, 1, n + 2, n, 0.3f, new float[n], dq1, 0);
            boolean ok = Math.abs(z0 - z1) <= 1e-5f * (1 + Math.abs(z0));
            for (int i = 0; i < kt.length; i++) ok &= Math.abs(dk0[i] - dk1[i]) <= 1e-5f && Math.abs(dv0[i] - dv1[i]) <= 1e-5f;
            for (int e = 0; e < 8; e++) ok &= Math.abs(dq0[e] - dq1[e]) <= 1e-5f * (1 + Math.abs(dq0[e]));
            if (!ok) {
                System.out.println("mismatch in attendBackward at n=" + n);
                bad++;
            }
        }
        for (int n : new int[]{1, 3, 7, 8, 9, 15, 17, 100}) { // the tails of max, scale, softmax, sumExp and expSum
            float[] x = new float[n + 5];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            float[] s0 = x.clone(), s1 = x.clone(), p0 = x.clone(), p1 = x.clone();
            sca.scale(s0, 3, n, -1.3f);
            vec.scale(s1, 3, n, -1.3f);
            sca.softmax(p0, 3, n);
            vec.softmax(p1, 3, n);
            float[] e0 = x.clone(), e1 = x.clone();
            boolean ok = sca.max(x, 3, n) == vec.max(x, 3, n) && Math.abs(sca.sumExp(x, 3, n, 0.5f) - vec.sumExp(x, 3, n, 0.5f)) <= 1e-5f * n
                    && Math.abs(sca.expSum(e0, 3, n, 0.35f, 0.5f) - vec.expSum(e1, 3, n, 0.35f, 0.5f)) <= 1e-5f * n;
            for (int i = 0; i < x.length; i++) ok &= Math.abs(e0[i] - e1[i]) <= 1e-6f * Math.max(1f, Math.abs(e0[i]));
            for (int i = 0; i < x.length; i++) ok &= s0[i] == s1[i] && Math.abs(p0[i] - p1[i]) <= 1e-6f;
            if (!ok) {
                System.out.println("mismatch in max, scale, softmax, sumExp or expSum at n=" + n);
                bad++;
            }
        }
        System.out.println(bad == 0 ? "ok" : bad + " mismatches");
        System.exit(bad == 0 ? 0 : 1);
    }
}
