package dev.puzzle.core.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels (the default provider). GEMM follows the GotoBLAS/BLIS scheme: B is packed
 * into KC×NR column panels, A into MC×KC row panels of MR rows, and a register-blocked MR×NR
 * micro-kernel (NR = two vectors) accumulates in registers; blocks of rows run on the worker
 * pool. Small-M products with a weight-layout B (decode's matrix-vector case) take a dot-product path.
 */
public final class VectorKernels implements Kernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    static final int MR = 6;
    static final int NR = 2 * L;
    private static final int KC = 256;
    private static final int MC_MAX = 120; // multiple of MR
    private static final int NC = 4096;   // multiple of NR for every species length
    private static final int SMALL_M = 4;

    private static final ThreadLocal<float[]> PACK_A = ThreadLocal.withInitial(() -> new float[MC_MAX * KC]);
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc, boolean accumulate) {
        if (m <= 0 || n <= 0) return;
        if (k == 0) {
            if (!accumulate) for (int i = 0; i < m; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            return;
        }
        if (m <= SMALL_M && transB) {
            smallM(transA, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            return;
        }
        int threads = Parallel.threads();
        // Rows per block: enough blocks to keep every thread busy, at most MC_MAX.
        int mc = Math.min(MC_MAX, roundUp(Math.max(MR, (m + threads - 1) / threads), MR));
        int mBlocks = (m + mc - 1) / mc;
        float[] bp = new float[roundUp(Math.min(NC, n), NR) * Math.min(KC, k)];
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            int nPanels = (nc + NR - 1) / NR;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                final int fjc = jc, fpc = pc;
                Parallel.forRange(nPanels, 8, (p0, p1) -> {
                    for (int p = p0; p < p1; p++) packB(bp, p * NR * kc, b, bOff, ldb, transB, fpc, kc, fjc + p * NR, Math.min(NR, nc - p * NR));
                });
                boolean add = accumulate || pc > 0;
                Parallel.forEach(mBlocks, blk -> {
                    int ic = blk * mc;
                    int mcb = Math.min(mc, m - ic);
                    float[] ap = PACK_A.get();
                    packA(ap, a, aOff, lda, transA, ic, mcb, fpc, kc);
                    float[] tile = TILE.get();
                    for (int jr = 0; jr < nc; jr += NR) {
                        int nr = Math.min(NR, nc - jr);
                        int bo = (jr / NR) * NR * kc;
                        for (int ir = 0; ir < mcb; ir += MR) {
                            int mr = Math.min(MR, mcb - ir);
                            int ao = (ir / MR) * MR * kc;
                            int co = cOff + (ic + ir) * ldc + fjc + jr;
                            if (mr == MR && nr == NR) {
                                kernel(kc, ap, ao, bp, bo, c, co, ldc, add);
                            } else {
                                kernel(kc, ap, ao, bp, bo, tile, 0, NR, false);
                                for (int r = 0; r < mr; r++) {
                                    for (int q = 0; q < nr; q++) {
                                        int ci = co + r * ldc + q;
                                        c[ci] = add ? c[ci] + tile[r * NR + q] : tile[r * NR + q];
                                    }
                                }
                            }
                        }
                    }
                });
            }
        }
    }

    private static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }

    /** Packs rows [i0, i0+mc) × cols [k0, k0+kc) of op(A) into MR-row panels, k-major inside a panel; pads with zeros. */
    private static void packA(float[] ap, float[] a, int aOff, int lda, boolean transA, int i0, int mc, int k0, int kc) {
        int panels = (mc + MR - 1) / MR;
        for (int p = 0; p < panels; p++) {
            int base = p * MR * kc;
            for (int r = 0; r < MR; r++) {
                int i = i0 + p * MR + r;
                if (p * MR + r >= mc) {
                    for (int q = 0; q < kc; q++) ap[base + q * MR + r] = 0f;
                } else if (transA) {
                    for (int q = 0; q < kc; q++) ap[base + q * MR + r] = a[aOff + (k0 + q) * lda + i];
                } else {
                    int row = aOff + i * lda + k0;
                    for (int q = 0; q < kc; q++) ap[base + q * MR + r] = a[row + q];
                }
            }
        }
    }

    /** Packs rows [k0, k0+kc) × cols [j0, j0+nr) of op(B) into one NR-wide panel, k-major; pads with zeros. */
    private static void packB(float[] bp, int base, float[] b, int bOff, int ldb, boolean transB, int k0, int kc, int j0, int nr) {
        if (transB) {
            for (int q = 0; q < NR; q++) {
                if (q >= nr) {
                    for (int p = 0; p < kc; p++) bp[base + p * NR + q] = 0f;
                } else {
                    int row = bOff + (j0 + q) * ldb + k0;
                    for (int p = 0; p < kc; p++) bp[base + p * NR + q] = b[row + p];
                }
            }
        } else if (nr == NR) {
            for (int p = 0; p < kc; p++) {
                int src = bOff + (k0 + p) * ldb + j0;
                FloatVector.fromArray(S, b, src).intoArray(bp, base + p * NR);
                FloatVector.fromArray(S, b, src + L).intoArray(bp, base + p * NR + L);
            }
        } else {
            for (int p = 0; p < kc; p++) {
                int src = bOff + (k0 + p) * ldb + j0;
                for (int q = 0; q < NR; q++) bp[base + p * NR + q] = q < nr ? b[src + q] : 0f;
            }
        }
    }

    /** The MR×NR micro-kernel: C[0:MR, 0:NR] (+)= Ap[0:MR, 0:kc] · Bp[0:kc, 0:NR], held in 12 vector registers. */
    private static void kernel(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc, boolean add) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bo);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + L);
            FloatVector a0 = FloatVector.broadcast(S, ap[ao]);
            c00 = b0.fma(a0, c00);
            c01 = b1.fma(a0, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = b0.fma(a1, c10);
            c11 = b1.fma(a1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = b0.fma(a2, c20);
            c21 = b1.fma(a2, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = b0.fma(a3, c30);
            c31 = b1.fma(a3, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = b0.fma(a4, c40);
            c41 = b1.fma(a4, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = b0.fma(a5, c50);
            c51 = b1.fma(a5, c51);
            ao += MR;
            bo += NR;
        }
        store(c00, c01, c, co, add);
        store(c10, c11, c, co + ldc, add);
        store(c20, c21, c, co + 2 * ldc, add);
        store(c30, c31, c, co + 3 * ldc, add);
        store(c40, c41, c, co + 4 * ldc, add);
        store(c50, c51, c, co + 5 * ldc, add);
    }

    private static void store(FloatVector v0, FloatVector v1, float[] c, int co, boolean add) {
        if (add) {
            v0 = v0.add(FloatVector.fromArray(S, c, co));
            v1 = v1.add(FloatVector.fromArray(S, c, co + L));
        }
        v0.intoArray(c, co);
        v1.intoArray(c, co + L);
    }

    /** Few rows times a weight-layout B: one dot product per output, columns spread over the pool. */
    private void smallM(boolean transA, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                        float[] c, int cOff, int ldc, boolean accumulate) {
        float[] rows;
        int rowStride;
        if (transA) { // gather the columns of the stored A into contiguous rows
            rows = new float[m * k];
            for (int i = 0; i < m; i++) for (int p = 0; p < k; p++) rows[i * k + p] = a[aOff + p * lda + i];
            rowStride = k;
            aOff = 0;
        } else {
            rows = a;
            rowStride = lda;
        }
        final int fa = aOff;
        Parallel.forRange(n, Math.max(16, 65536 / Math.max(1, k)), (j0, j1) -> {
            for (int j = j0; j < j1; j++) {
                for (int i = 0; i < m; i++) {
                    float s = dot(rows, fa + i * rowStride, b, bOff + j * ldb, k);
                    int ci = cOff + i * ldc + j;
                    c[ci] = accumulate ? c[ci] + s : s;
                }
            }
        });
    }

    @Override
    public float dot(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        float s = 0f;
        if (n >= 4 * L) {
            FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S), s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
            int bound = n - 4 * L;
            for (; i <= bound; i += 4 * L) {
                s0 = FloatVector.fromArray(S, x, xOff + i).fma(FloatVector.fromArray(S, y, yOff + i), s0);
                s1 = FloatVector.fromArray(S, x, xOff + i + L).fma(FloatVector.fromArray(S, y, yOff + i + L), s1);
                s2 = FloatVector.fromArray(S, x, xOff + i + 2 * L).fma(FloatVector.fromArray(S, y, yOff + i + 2 * L), s2);
                s3 = FloatVector.fromArray(S, x, xOff + i + 3 * L).fma(FloatVector.fromArray(S, y, yOff + i + 3 * L), s3);
            }
            s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i + L <= n; i += L) {
            s += FloatVector.fromArray(S, x, xOff + i).mul(FloatVector.fromArray(S, y, yOff + i)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) s += x[xOff + i] * y[yOff + i];
        return s;
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        FloatVector va = FloatVector.broadcast(S, alpha);
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, x, xOff + i).fma(va, FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += alpha * x[xOff + i];
    }

    @Override
    public void scale(float[] x, int xOff, int n, float s) {
        int i = 0;
        for (; i + L <= n; i += L) FloatVector.fromArray(S, x, xOff + i).mul(s).intoArray(x, xOff + i);
        for (; i < n; i++) x[xOff + i] *= s;
    }

    @Override
    public float sumSquares(float[] x, int xOff, int n) {
        return dot(x, xOff, x, xOff, n);
    }

    @Override
    public float max(float[] x, int xOff, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector vm = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; i + L <= n; i += L) vm = vm.max(FloatVector.fromArray(S, x, xOff + i));
            m = vm.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) m = Math.max(m, x[xOff + i]);
        return m;
    }

    @Override
    public void rmsnorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps) {
        float ss = sumSquares(x, xOff, n) / n + eps;
        float inv = (float) (1.0 / Math.sqrt(ss));
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, x, xOff + i).mul(inv).mul(FloatVector.fromArray(S, w, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] = w[i] * (inv * x[xOff + i]);
    }

    @Override
    public void softmax(float[] x, int xOff, int n) {
        float mx = max(x, xOff, n);
        int i = 0;
        FloatVector vs = FloatVector.zero(S);
        for (; i + L <= n; i += L) {
            FloatVector e = FloatVector.fromArray(S, x, xOff + i).sub(mx).lanewise(VectorOperators.EXP);
            e.intoArray(x, xOff + i);
            vs = vs.add(e);
        }
        float sum = vs.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[xOff + i] - mx);
            x[xOff + i] = e;
            sum += e;
        }
        scale(x, xOff, n, 1f / sum);
    }

    @Override
    public void swiglu(float[] gate, int gateOff, float[] up, int upOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector g = FloatVector.fromArray(S, gate, gateOff + i);
            FloatVector sig = g.neg().lanewise(VectorOperators.EXP).add(1f);
            g.div(sig).mul(FloatVector.fromArray(S, up, upOff + i)).intoArray(gate, gateOff + i);
        }
        for (; i < n; i++) {
            float g = gate[gateOff + i];
            gate[gateOff + i] = g / (1f + (float) Math.exp(-g)) * up[upOff + i];
        }
    }

    @Override
    public float sumExp(float[] x, int xOff, int n, float shift) {
        int i = 0;
        FloatVector vs = FloatVector.zero(S);
        for (; i + L <= n; i += L) vs = vs.add(FloatVector.fromArray(S, x, xOff + i).sub(shift).lanewise(VectorOperators.EXP));
        float s = vs.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += (float) Math.exp(x[xOff + i] - shift);
        return s;
    }
}
