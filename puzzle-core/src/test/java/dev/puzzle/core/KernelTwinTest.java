package dev.puzzle.core;

import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Parallel;
import dev.puzzle.core.tensor.ScalarKernels;
import dev.puzzle.core.tensor.VectorKernels;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Every Vector API kernel equals its scalar twin on random shapes, odd sizes included. */
class KernelTwinTest {
    final Kernels vec = new VectorKernels(new Parallel(2)), sca = new ScalarKernels(new Parallel(1));
    final Random rnd = new Random(1234);

    float[] randn(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    static void close(float[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs(want[i] - got[i]);
            assertTrue(d <= tol * (1 + Math.abs(want[i])), what + " at " + i + ": want " + want[i] + " got " + got[i]);
        }
    }

    @Test
    void bf16DotAndWidenMatchTheirDefinition() {
        for (int n : new int[]{1, 7, 16, 31, 32, 33, 100, 2048, 2049}) {
            float[] x = randn(n + 3);
            short[] w = new short[n + 5];
            for (int i = 0; i < w.length; i++) w[i] = dev.puzzle.core.tensor.DType.floatToBf16((float) rnd.nextGaussian());
            double want = 0;
            for (int i = 0; i < n; i++) want += (double) x[3 + i] * dev.puzzle.core.tensor.DType.bf16ToFloat(w[5 + i]);
            // the same values read in place from memory (a mapping's bytes, little endian), at an odd byte offset
            java.lang.foreign.MemorySegment seg = java.lang.foreign.Arena.ofAuto().allocate(2L * w.length + 1);
            for (int i = 0; i < w.length; i++) seg.set(Kernels.BF16_LE, 1 + 2L * i, w[i]);
            for (Kernels k : new Kernels[]{vec, sca}) {
                assertEquals(want, k.dotBf16(x, 3, w, 5, n), 1e-4 * (1 + Math.sqrt(n)), k.getClass().getSimpleName() + " dot n=" + n);
                assertEquals(want, k.dotBf16(x, 3, seg, 1 + 2L * 5, n), 1e-4 * (1 + Math.sqrt(n)), k.getClass().getSimpleName() + " dot in place n=" + n);
                // two rows at once (decode's two streams): each exactly its own dot; here the same row twice and a
                // row one element on, so the two differ
                float[] pair = new float[2];
                k.dotBf16Pair(x, 3, seg, 1 + 2L * 5, 1 + 2L * 4, n, pair);
                assertEquals(k.dotBf16(x, 3, seg, 1 + 2L * 5, n), pair[0], 0f, k.getClass().getSimpleName() + " pair, first row, n=" + n);
                assertEquals(k.dotBf16(x, 3, seg, 1 + 2L * 4, n), pair[1], 0f, k.getClass().getSimpleName() + " pair, second row, n=" + n);
                float[] out = new float[n + 2];
                k.widenBf16(w, 5, out, 2, n);
                for (int i = 0; i < n; i++) assertEquals(dev.puzzle.core.tensor.DType.bf16ToFloat(w[5 + i]), out[2 + i], 0f, "widen " + i);
                assertEquals(0f, out[0]);
                assertEquals(0f, out[1]);
            }
        }
    }

    @Test
    void f32DotInPlaceMatchesItsDefinitionAndTheHeapDot() {
        for (int n : new int[]{1, 7, 16, 31, 64, 65, 100, 2048, 2049}) {
            float[] x = randn(n + 3), w = randn(n + 5);
            double want = 0;
            for (int i = 0; i < n; i++) want += (double) x[3 + i] * w[5 + i];
            java.lang.foreign.MemorySegment seg = java.lang.foreign.Arena.ofAuto().allocate(4L * w.length + 1);
            for (int i = 0; i < w.length; i++) seg.set(Kernels.F32_LE, 1 + 4L * i, w[i]); // at an odd byte offset
            for (Kernels k : new Kernels[]{vec, sca}) {
                assertEquals(want, k.dotF32(x, 3, seg, 1 + 4L * 5, n), 1e-4 * (1 + Math.sqrt(n)), k.getClass().getSimpleName() + " n=" + n);
            }
            // decode reads a mapping in place where it read a heap copy: the same sums in the same order (up to the
            // order of the final lane reduction, which the Vector API leaves open: interpreted and compiled differ)
            assertEquals(vec.dot(x, 3, w, 5, n), vec.dotF32(x, 3, seg, 1 + 4L * 5, n), 1e-6 * (1 + Math.sqrt(n)), "in place = heap, n=" + n);
            // four rows side by side, 4n+12 bytes apart: each as its own dotF32, written or added
            long rowBytes = 4L * n + 12;
            java.lang.foreign.MemorySegment rows = java.lang.foreign.Arena.ofAuto().allocate(4 * rowBytes + 8);
            float[][] r4 = new float[4][];
            for (int r = 0; r < 4; r++) {
                r4[r] = randn(n);
                for (int i = 0; i < n; i++) rows.set(Kernels.F32_LE, 8 + r * rowBytes + 4L * i, r4[r][i]);
            }
            for (Kernels k : new Kernels[]{vec, sca}) {
                float[] out = {9f, 1f, 2f, 3f, 4f, 9f};
                k.dotF32Rows4(x, 3, rows, 8, rowBytes, n, out, 1, false);
                float[] again = out.clone();
                k.dotF32Rows4(x, 3, rows, 8, rowBytes, n, again, 1, true);
                for (int r = 0; r < 4; r++) {
                    double one = 0;
                    for (int i = 0; i < n; i++) one += (double) x[3 + i] * r4[r][i];
                    assertEquals(one, out[1 + r], 1e-4 * (1 + Math.sqrt(n)), k.getClass().getSimpleName() + " row " + r + " n=" + n);
                    assertEquals(k.dotF32(x, 3, rows, 8 + r * rowBytes, n), out[1 + r], 1e-6 * (1 + Math.sqrt(n)), "as dotF32, row " + r);
                    assertEquals(2 * out[1 + r], again[1 + r], 1e-5 * (1 + Math.abs(out[1 + r])), "accumulated, row " + r);
                }
                assertEquals(9f, out[0]);
                assertEquals(9f, out[5]);
                // two pairs of adjacent rows from two places (rows 2-3, then 0-1) into two places of out: each exactly
                // its dotF32
                float[] two = {9f, 9f, 9f, 9f, 9f, 9f, 9f};
                k.dotF32Rows2x2(x, 3, rows, 8 + 2 * rowBytes, 8, rowBytes, n, two, 4, 0, false);
                for (int r = 0; r < 4; r++) {
                    int o = r < 2 ? r : 4 + r - 2; // rows 0, 1 into two[0], two[1]; rows 2, 3 into two[4], two[5]
                    assertEquals(k.dotF32(x, 3, rows, 8 + r * rowBytes, n), two[o], 0f, k.getClass().getSimpleName() + " 2x2 row " + r + " n=" + n);
                }
                assertEquals(9f, two[2]);
                assertEquals(9f, two[3]);
                assertEquals(9f, two[6]);
            }
        }
    }

    @Test
    void gemmAllTranspositionsAndShapes() {
        int[][] shapes = {{1, 1, 1}, {1, 37, 19}, {3, 5, 7}, {4, 300, 65}, {5, 33, 257}, {6, 32, 16}, {7, 65, 513}, {13, 97, 31},
                {64, 64, 64}, {121, 250, 300}, {129, 4100, 3}, {250, 7, 520},
                {19, 1030, 1030}, {9, 2100, 2050}}; // K past one KC block, N past one NC block, B past one packed chunk
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            for (int ta = 0; ta < 2; ta++) {
                for (int tb = 0; tb < 2; tb++) {
                    for (int acc = 0; acc < 2; acc++) {
                        boolean transA = ta == 1, transB = tb == 1, accumulate = acc == 1;
                        int lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2;
                        float[] a = randn((transA ? k : m) * lda + 5), b = randn((transB ? n : k) * ldb + 2);
                        float[] c0 = randn(m * ldc + 4), c1 = c0.clone();
                        sca.gemm(transA, transB, m, n, k, a, 5, lda, b, 2, ldb, c0, 4, ldc, accumulate);
                        vec.gemm(transA, transB, m, n, k, a, 5, lda, b, 2, ldb, c1, 4, ldc, accumulate);
                        close(c0, c1, 1e-4 * Math.sqrt(k), "gemm " + m + "x" + n + "x" + k + " tA=" + transA + " tB=" + transB + " acc=" + accumulate);
                    }
                }
            }
        }
    }

    @Test
    void gemmSingleThreadEqualsMultiThread() {
        int m = 200, n = 300, k = 400;
        float[] a = randn(m * k), b = randn(n * k), c1 = new float[m * n], c2 = new float[m * n];
        try (Parallel one = new Parallel(1); Parallel three = new Parallel(3)) {
            new VectorKernels(one).matmulT(a, b, c1, m, n, k);
            new VectorKernels(three).matmulT(a, b, c2, m, n, k);
        }
        assertArrayEquals(c1, c2, 0f);
        // B packed a panel at a time by whichever thread needs it first, while others wait for it or pack their own;
        // a few rows over many column blocks, where the column blocks are shared out among tasks; K past one KC block
        for (int[] s : new int[][]{{9, 2100, 2050}, {200, 1030, 1030}, {17, 3000, 70}}) {
            for (boolean transB : new boolean[]{false, true}) {
                int mm = s[0], nn = s[1], kk = s[2];
                float[] x = randn(mm * kk), w = randn(nn * kk), g1 = new float[mm * nn], g3 = new float[mm * nn];
                try (Parallel one = new Parallel(1); Parallel three = new Parallel(3)) {
                    new VectorKernels(one).gemm(false, transB, mm, nn, kk, x, 0, kk, w, 0, transB ? kk : nn, g1, 0, nn, false);
                    new VectorKernels(three).gemm(false, transB, mm, nn, kk, x, 0, kk, w, 0, transB ? kk : nn, g3, 0, nn, false);
                }
                assertArrayEquals(g1, g3, 0f, mm + "x" + nn + "x" + kk + " transB=" + transB);
            }
        }
        // a B too short for its shape: packing fails in whichever thread packs first, and the others, waiting for that
        // group, stop too (no hang); the caller sees the out-of-bounds read itself or as the cause
        float[] shortB = randn(1030 * 1030 - 500), gx = randn(200 * 1030), gc = new float[200 * 1030];
        try (Parallel three = new Parallel(3)) {
            RuntimeException e = assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
                    () -> assertThrows(RuntimeException.class, () -> new VectorKernels(three).gemm(false, false, 200, 1030, 1030, gx, 0, 1030, shortB, 0, 1030, gc, 0, 1030, false)));
            Throwable root = e instanceof IndexOutOfBoundsException ? e : e.getCause();
            assertInstanceOf(IndexOutOfBoundsException.class, root, String.valueOf(e));
        }
        // decode's matrix-vector products: rows read four at a time or one at a time depending on where a thread's
        // range begins, with the same arithmetic either way
        for (int rows : new int[]{1, 3}) {
            int nn = 37, kk = 100;
            float[] x = randn(rows * kk), w = randn(nn * kk), d1 = new float[rows * nn], d3 = new float[rows * nn];
            try (Parallel one = new Parallel(1); Parallel three = new Parallel(3)) {
                new VectorKernels(one).matmulT(x, w, d1, rows, nn, kk);
                new VectorKernels(three).matmulT(x, w, d3, rows, nn, kk);
            }
            assertArrayEquals(d1, d3, 0f, rows + " rows");
        }
    }

    @Test
    void vectorOpsOnOddSizes() {
        for (int n : new int[]{1, 3, 15, 16, 17, 31, 64, 67, 100, 1023}) {
            float[] x = randn(n + 3), y = randn(n + 5), w = randn(n);
            assertEquals(sca.dot(x, 3, y, 5, n), vec.dot(x, 3, y, 5, n), 1e-4 * n);
            assertEquals(sca.sumSquares(x, 3, n), vec.sumSquares(x, 3, n), 1e-4 * n);
            assertEquals(sca.max(x, 3, n), vec.max(x, 3, n), 0f);
            assertEquals(sca.sumExp(x, 3, n, 0.5f), vec.sumExp(x, 3, n, 0.5f), 1e-5 * n * 5);

            float[] y0 = y.clone(), y1 = y.clone();
            sca.axpy(0.7f, x, 3, y0, 5, n);
            vec.axpy(0.7f, x, 3, y1, 5, n);
            close(y0, y1, 1e-6, "axpy");

            float[] s0 = x.clone(), s1 = x.clone();
            sca.scale(s0, 3, n, -1.3f);
            vec.scale(s1, 3, n, -1.3f);
            close(s0, s1, 1e-7, "scale");

            float[] o0 = new float[n + 2], o1 = new float[n + 2];
            sca.rmsnorm(o0, 2, x, 3, w, n, 1e-5f);
            vec.rmsnorm(o1, 2, x, 3, w, n, 1e-5f);
            close(o0, o1, 1e-5, "rmsnorm");

            float[] p0 = x.clone(), p1 = x.clone();
            sca.softmax(p0, 3, n);
            vec.softmax(p1, 3, n);
            close(p0, p1, 1e-5, "softmax");

            float[] e0 = x.clone(), e1 = x.clone();
            float m = sca.max(x, 3, n) * 0.35f;
            assertEquals(sca.expSum(e0, 3, n, 0.35f, m), vec.expSum(e1, 3, n, 0.35f, m), 1e-5 * n);
            close(e0, e1, 1e-6, "expSum");

            float[] g0 = x.clone(), g1 = x.clone();
            sca.swiglu(g0, 3, y, 5, n);
            vec.swiglu(g1, 3, y, 5, n);
            close(g0, g1, 1e-5, "swiglu");
        }
    }

    /**
     * attend's backward for one query (probabilities kept; keys, values and their gradients transposed): dQ, dK, dV and
     * Σ p·dp against the same computed here in double from the float inputs, on both providers, heads of 8 (the vector
     * provider's fused path, every tail of its last vector) and of 5 (the default), gradients added to what they held.
     */
    @Test
    void attendBackwardIsTheSoftmaxAttentionsGradient() {
        for (int E : new int[]{8, 5}) {
            for (int n : new int[]{1, 15, 16, 17, 33, 100}) {
                int off = 2, stride = n + 7;
                float scale = 0.35f;
                float[] dO = randn(E + 1), q = randn(E + 3), kt = randn(E * stride), vt = randn(E * stride), p = new float[n + 4];
                for (int j = 0; j < n; j++) p[4 + j] = (float) Math.abs(rnd.nextGaussian()) / n;
                float[] dk0 = randn(E * stride), dv0 = randn(E * stride), dq0 = randn(E + 2);
                double[] dp = new double[n], ds = new double[n];
                double sum = 0;
                for (int j = 0; j < n; j++) {
                    for (int e = 0; e < E; e++) dp[j] += (double) dO[1 + e] * vt[e * stride + off + j];
                    sum += p[4 + j] * dp[j];
                }
                for (int j = 0; j < n; j++) ds[j] = p[4 + j] * (dp[j] - sum) * scale;
                for (Kernels k : new Kernels[]{vec, sca}) {
                    String what = k.getClass().getSimpleName() + " E " + E + " n " + n;
                    float[] dk = dk0.clone(), dv = dv0.clone(), dq = dq0.clone(), scratch = new float[n];
                    float got = k.attendBackward(dO, 1, q, 3, E, p, 4, kt, vt, dk, dv, off, stride, n, scale, scratch, dq, 2);
                    assertEquals(sum, got, 1e-5 * (1 + Math.abs(sum)), what + ": Σ p·dp");
                    for (int e = 0; e < E; e++) {
                        double want = dq0[2 + e];
                        for (int j = 0; j < n; j++) want += ds[j] * kt[e * stride + off + j];
                        assertEquals(want, dq[2 + e], 1e-5 * (1 + Math.abs(want)), what + ": dq " + e);
                        for (int j = 0; j < n; j++) {
                            int i = e * stride + off + j;
                            assertEquals(dk0[i] + q[3 + e] * ds[j], dk[i], 1e-5 * (1 + Math.abs(dk0[i])), what + ": dK " + e + ", " + j);
                            assertEquals(dv0[i] + dO[1 + e] * (double) p[4 + j], dv[i], 1e-5 * (1 + Math.abs(dv0[i])), what + ": dV " + e + ", " + j);
                        }
                    }
                    assertEquals(dk0[0], dk[0], 0f, what + ": dK before the keys untouched");
                    assertEquals(dv0[off + n], dv[off + n], 0f, what + ": dV after the keys untouched");
                }
            }
        }
    }

    /**
     * KL(softmax p ‖ softmax q)'s sum over a row, against the same taken here in double from its definition, on both
     * providers: rows of a vocabulary's length and every tail, a child close to its parent (KL ~1e-3, where rounding
     * shows most) and a far one; within 1e-6 of the sum of the terms' magnitudes.
     */
    @Test
    void klSumIsTheKlOfTheSoftmaxes() {
        for (int n : new int[]{1, 15, 16, 17, 100, 512, 32000}) {
            for (double noise : new double[]{0.05, 2.0}) {
                float[] p = randn(n + 3), q = new float[n + 5];
                for (int i = 0; i < n; i++) {
                    p[3 + i] *= 3f;
                    q[5 + i] = p[3 + i] + (float) (noise * rnd.nextGaussian());
                }
                double mp = Double.NEGATIVE_INFINITY, mq = Double.NEGATIVE_INFINITY, sp = 0, sq = 0;
                for (int i = 0; i < n; i++) {
                    mp = Math.max(mp, p[3 + i]);
                    mq = Math.max(mq, q[5 + i]);
                }
                for (int i = 0; i < n; i++) {
                    sp += Math.exp(p[3 + i] - mp);
                    sq += Math.exp(q[5 + i] - mq);
                }
                float lp = (float) (mp + Math.log(sp)), lq = (float) (mq + Math.log(sq));
                double want = 0, mag = 0;
                for (int i = 0; i < n; i++) {
                    double logp = p[3 + i] - lp, logq = q[5 + i] - lq, term = Math.exp(logp) * (logp - logq);
                    want += term;
                    mag += Math.abs(term);
                }
                for (Kernels k : new Kernels[]{vec, sca}) {
                    double got = k.klSum(p, 3, lp, q, 5, lq, n);
                    assertEquals(want, got, 1e-6 * mag + 1e-12, k.getClass().getSimpleName() + " n " + n + " noise " + noise);
                }
            }
        }
    }

    /**
     * One query's attention over transposed keys and values (a small head's prefill): the exponents left in the score
     * row, their sum and the unnormalized outputs against the same computed here in double precision from the float
     * inputs, on both providers, for heads of 8 (the vector provider's fused path, every tail of its last vector:
     * n = 16·m ± 1) and of 5 and 16 (the composition it defaults to), keys read from an offset in rows of a wider stride.
     */
    @Test
    void attendIsTheScoresSoftmaxAndWeightedValues() {
        for (int E : new int[]{8, 5, 16}) {
            for (int n : new int[]{1, 7, 15, 16, 17, 31, 32, 33, 100, 263}) {
                int off = 3, stride = n + 11;
                float[] q = randn(E + 2), kt = randn(E * stride), vt = randn(E * stride);
                double[] s = new double[n];
                double mx = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < n; j++) {
                    for (int e = 0; e < E; e++) s[j] += (double) q[2 + e] * kt[e * stride + off + j];
                    mx = Math.max(mx, s[j]);
                }
                for (int j = 0; j < n; j++) sum += Math.exp(s[j] - mx);
                for (Kernels k : new Kernels[]{vec, sca}) {
                    String what = k.getClass().getSimpleName() + " E " + E + " n " + n;
                    float[] scores = randn(n + 4), o = randn(E + 3);
                    float got = k.attend(q, 2, E, kt, vt, off, stride, n, scores, 3, o, 1);
                    assertEquals(sum, got, 1e-5 * sum, what + ": Σ exp");
                    for (int j = 0; j < n; j++) assertEquals(Math.exp(s[j] - mx), scores[3 + j], 2e-6, what + ": exponent " + j);
                    for (int e = 0; e < E; e++) {
                        double want = 0;
                        for (int j = 0; j < n; j++) want += Math.exp(s[j] - mx) * vt[e * stride + off + j];
                        assertEquals(want, o[1 + e], 1e-5 * (1 + Math.abs(want)) * Math.sqrt(n), what + ": output " + e);
                    }
                }
            }
        }
    }

    /**
     * The weighted sum of rows (attention's values at decode) is an axpy per row, bit for bit on each provider, for row
     * lengths around each vector block (1, 2, 3 and 4 vectors and their remainders) and the scalar twin within rounding.
     */
    @Test
    void axpyRowsIsAnAxpyPerRow() {
        for (int len : new int[]{1, 7, 16, 17, 32, 40, 48, 50, 64, 70, 130}) {
            for (int n : new int[]{1, 5, 33}) {
                int stride = len + 3;
                float[] w = randn(n + 2), x = randn(2 + n * stride), y = randn(len + 4);
                for (Kernels k : new Kernels[]{vec, sca}) {
                    float[] want = y.clone(), got = y.clone();
                    for (int j = 0; j < n; j++) k.axpy(w[2 + j], x, 2 + j * stride, want, 1, len);
                    k.axpyRows(w, 2, n, x, 2, stride, got, 1, len);
                    assertArrayEquals(want, got, k.getClass().getSimpleName() + " len " + len + " rows " + n);
                }
                float[] s = y.clone(), v = y.clone();
                sca.axpyRows(w, 2, n, x, 2, stride, s, 1, len);
                vec.axpyRows(w, 2, n, x, 2, stride, v, 1, len);
                close(s, v, 1e-5 * n, "axpyRows len " + len + " rows " + n);
            }
        }
    }

    /** Training's SwiGLU forward and backward (vector exponential) against the scalar form, over odd ranges and offsets. */
    @Test
    void trainingSwigluMatchesTheScalarForm() {
        for (int n : new int[]{1, 15, 16, 17, 100, 1000}) {
            int off = 3, len = off + n + 2;
            float[] a = randn(len), b = randn(len), dg = randn(len);
            for (int i = 0; i < len; i++) a[i] *= 4; // into the saturating tails of σ too
            float[] g0 = new float[len], g1 = new float[len];
            sca.swigluForward(g0, a, b, off, n);
            vec.swigluForward(g1, a, b, off, n);
            close(g0, g1, 1e-6, "swigluForward n " + n);
            assertEquals(0f, g1[off - 1]);
            assertEquals(0f, g1[off + n]);
            float[] da0 = new float[len], db0 = new float[len], da1 = new float[len], db1 = new float[len];
            sca.swigluBackward(da0, db0, dg, a, b, off, n);
            vec.swigluBackward(da1, db1, dg, a, b, off, n);
            close(da0, da1, 1e-6, "swigluBackward da n " + n);
            close(db0, db1, 1e-6, "swigluBackward db n " + n);
            for (int i = off; i < off + n; i++) { // the scalar form is silu's own definition
                double s = 1 / (1 + Math.exp(-a[i]));
                assertEquals(a[i] * s * b[i], g0[i], 1e-5 * (1 + Math.abs(a[i] * b[i])));
            }
        }
    }
}
