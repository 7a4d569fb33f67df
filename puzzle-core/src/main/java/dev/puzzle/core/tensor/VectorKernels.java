package dev.puzzle.core.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels (the default provider). GEMM follows the GotoBLAS/BLIS scheme: B is packed
 * into KC×NR column panels, A into MC×KC row panels of MR rows, and a register-blocked MR×NR
 * micro-kernel (NR = two vectors) accumulates in registers and stores to a small contiguous tile,
 * which is then added into C (loading C inside the kernel makes C2 spill the accumulators); blocks
 * of rows run on the worker pool. Small-M products with a weight-layout B (decode's matrix-vector case) take a dot-product path.
 */
public class VectorKernels implements Kernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows of the micro-kernel: 8 (16 accumulators) with 32 vector registers (AVX-512), else 6. */
    static final int MR = L >= 16 ? 8 : 6;
    static final int NR = 2 * L;
    private static final int KC = 256;
    private static final int MC_MAX = 120; // multiple of MR
    private static final int NC = 4096;   // multiple of NR for every species length
    private static final int SMALL_M = 4;
    /** BF16 loads: as many shorts as S has floats (half its bits), widened to ints of S's shape. */
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, S.vectorShape());
    /** Quantized loads: L int8 codes (a quarter of S's bits) widen to one FloatVector; 16 nibble bytes a 4-bit block half. */
    private static final boolean QUANT_VECTORS = S.vectorBitSize() >= 256;
    private static final VectorSpecies<Byte> SB = QUANT_VECTORS ? VectorSpecies.of(byte.class, VectorShape.forBitSize(S.vectorBitSize() / 4)) : null;
    private static final VectorSpecies<Byte> SB16 = ByteVector.SPECIES_128;
    private static final ByteVector MXFP4_TABLE = ByteVector.fromArray(SB16, Quant.MXFP4_VALUES, 0);

    private static final ThreadLocal<float[]> PACK_A = ThreadLocal.withInitial(() -> new float[MC_MAX * KC]);
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    private final Parallel parallel;

    /** @param parallel the pool its GEMMs and matrix-vector products spread over */
    public VectorKernels(Parallel parallel) {
        this.parallel = parallel;
    }

    @Override
    public Parallel parallel() {
        return parallel;
    }

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
        int threads = parallel.threads();
        // Row blocks of at most MC_MAX rows, as many as a multiple of the thread count so every thread gets the same share.
        int mBlocks = threads * Math.max(1, (m + threads * MC_MAX - 1) / (threads * MC_MAX));
        int mc = Math.min(MC_MAX, roundUp(Math.max(MR, (m + mBlocks - 1) / mBlocks), MR));
        mBlocks = (m + mc - 1) / mc;
        if (!accumulate) { // the micro-kernel always accumulates, so start from zero
            parallel.forRange(m, 16, (i0, i1) -> {
                for (int i = i0; i < i1; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            });
        }
        float[] bp = new float[roundUp(Math.min(NC, n), NR) * Math.min(KC, k)];
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            int nPanels = (nc + NR - 1) / NR;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                final int fjc = jc, fpc = pc;
                parallel.forRange(nPanels, 8, (p0, p1) -> {
                    for (int p = p0; p < p1; p++) packB(bp, p * NR * kc, b, bOff, ldb, transB, fpc, kc, fjc + p * NR, Math.min(NR, nc - p * NR));
                });
                parallel.forEach(mBlocks, blk -> {
                    int ic = blk * mc;
                    int mcb = Math.min(mc, m - ic);
                    float[] ap = PACK_A.get();
                    packA(ap, a, aOff, lda, transA, ic, mcb, fpc, kc);
                    macroKernel(mcb, nc, kc, ap, bp, c, cOff + ic * ldc + fjc, ldc, TILE.get());
                });
            }
        }
    }

    /** C[0:mcb, 0:nc] += Ap · Bp for one packed block of A and the packed block of B, tile by tile. */
    private static void macroKernel(int mcb, int nc, int kc, float[] ap, float[] bp, float[] c, int cBase, int ldc, float[] tile) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int bo = (jr / NR) * NR * kc;
            for (int ir = 0; ir < mcb; ir += MR) {
                int mr = Math.min(MR, mcb - ir);
                int ao = (ir / MR) * MR * kc;
                int co = cBase + ir * ldc + jr;
                if (MR == 8) kernel8(kc, ap, ao, bp, bo, tile);
                else kernel6(kc, ap, ao, bp, bo, tile);
                if (nr == NR) {
                    for (int r = 0; r < mr; r++) {
                        int cr = co + r * ldc;
                        FloatVector.fromArray(S, tile, r * NR).add(FloatVector.fromArray(S, c, cr)).intoArray(c, cr);
                        FloatVector.fromArray(S, tile, r * NR + L).add(FloatVector.fromArray(S, c, cr + L)).intoArray(c, cr + L);
                    }
                } else {
                    for (int r = 0; r < mr; r++) {
                        for (int q = 0; q < nr; q++) c[co + r * ldc + q] += tile[r * NR + q];
                    }
                }
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

    /** The 8×NR micro-kernel: tile[0:8, 0:NR] = Ap[0:8, 0:kc] · Bp[0:kc, 0:NR], accumulated in 16 vector registers. */
    private static void kernel8(int kc, float[] ap, int ao, float[] bp, int bo, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S),
                c10 = FloatVector.zero(S), c11 = FloatVector.zero(S),
                c20 = FloatVector.zero(S), c21 = FloatVector.zero(S),
                c30 = FloatVector.zero(S), c31 = FloatVector.zero(S),
                c40 = FloatVector.zero(S), c41 = FloatVector.zero(S),
                c50 = FloatVector.zero(S), c51 = FloatVector.zero(S),
                c60 = FloatVector.zero(S), c61 = FloatVector.zero(S),
                c70 = FloatVector.zero(S), c71 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bo);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + L);
            FloatVector a0 = FloatVector.broadcast(S, ap[ao + 0]);
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
            FloatVector a6 = FloatVector.broadcast(S, ap[ao + 6]);
            c60 = b0.fma(a6, c60);
            c61 = b1.fma(a6, c61);
            FloatVector a7 = FloatVector.broadcast(S, ap[ao + 7]);
            c70 = b0.fma(a7, c70);
            c71 = b1.fma(a7, c71);
            ao += 8;
            bo += NR;
        }
        c00.intoArray(tile, 0 * L);
        c01.intoArray(tile, 1 * L);
        c10.intoArray(tile, 2 * L);
        c11.intoArray(tile, 3 * L);
        c20.intoArray(tile, 4 * L);
        c21.intoArray(tile, 5 * L);
        c30.intoArray(tile, 6 * L);
        c31.intoArray(tile, 7 * L);
        c40.intoArray(tile, 8 * L);
        c41.intoArray(tile, 9 * L);
        c50.intoArray(tile, 10 * L);
        c51.intoArray(tile, 11 * L);
        c60.intoArray(tile, 12 * L);
        c61.intoArray(tile, 13 * L);
        c70.intoArray(tile, 14 * L);
        c71.intoArray(tile, 15 * L);
    }

    /** The 6×NR micro-kernel: tile[0:6, 0:NR] = Ap[0:6, 0:kc] · Bp[0:kc, 0:NR], accumulated in 12 vector registers. */
    private static void kernel6(int kc, float[] ap, int ao, float[] bp, int bo, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S),
                c10 = FloatVector.zero(S), c11 = FloatVector.zero(S),
                c20 = FloatVector.zero(S), c21 = FloatVector.zero(S),
                c30 = FloatVector.zero(S), c31 = FloatVector.zero(S),
                c40 = FloatVector.zero(S), c41 = FloatVector.zero(S),
                c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bo);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + L);
            FloatVector a0 = FloatVector.broadcast(S, ap[ao + 0]);
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
            ao += 6;
            bo += NR;
        }
        c00.intoArray(tile, 0 * L);
        c01.intoArray(tile, 1 * L);
        c10.intoArray(tile, 2 * L);
        c11.intoArray(tile, 3 * L);
        c20.intoArray(tile, 4 * L);
        c21.intoArray(tile, 5 * L);
        c30.intoArray(tile, 6 * L);
        c31.intoArray(tile, 7 * L);
        c40.intoArray(tile, 8 * L);
        c41.intoArray(tile, 9 * L);
        c50.intoArray(tile, 10 * L);
        c51.intoArray(tile, 11 * L);
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
        // Several ranges per thread, claimed as threads free up: a late-waking helper costs one range, not half the rows.
        int minRows = Math.max(16, 65536 / Math.max(1, k)), chunks = Math.max(1, Math.min(n / minRows, 4 * parallel.threads()));
        parallel.forEach(chunks, ch -> {
            int j0 = (int) ((long) n * ch / chunks), j1 = (int) ((long) n * (ch + 1) / chunks);
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
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S), s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
        for (int bound = n - 4 * L; i <= bound; i += 4 * L) {
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(FloatVector.fromArray(S, y, yOff + i), s0);
            s1 = FloatVector.fromArray(S, x, xOff + i + L).fma(FloatVector.fromArray(S, y, yOff + i + L), s1);
            s2 = FloatVector.fromArray(S, x, xOff + i + 2 * L).fma(FloatVector.fromArray(S, y, yOff + i + 2 * L), s2);
            s3 = FloatVector.fromArray(S, x, xOff + i + 3 * L).fma(FloatVector.fromArray(S, y, yOff + i + 3 * L), s3);
        }
        for (; i + L <= n; i += L) s0 = FloatVector.fromArray(S, x, xOff + i).fma(FloatVector.fromArray(S, y, yOff + i), s0);
        float s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
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
    public float rmsnorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps) {
        float ss = sumSquares(x, xOff, n) / n + eps;
        float inv = (float) (1.0 / Math.sqrt(ss));
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, x, xOff + i).mul(inv).mul(FloatVector.fromArray(S, w, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] = w[i] * (inv * x[xOff + i]);
        return inv;
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

    /** L BF16 values from w at off, as FP32 lanes: sign-extend to int, shift into the top half. */
    private static FloatVector bf16(short[] w, int off) {
        IntVector i = (IntVector) ShortVector.fromArray(SH, w, off).convertShape(VectorOperators.S2I, SI, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    @Override
    public float dotBf16(float[] x, int xOff, short[] w, int wOff, int n) {
        int i = 0;
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        for (int bound = n - 2 * L; i <= bound; i += 2 * L) {
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(bf16(w, wOff + i), s0);
            s1 = FloatVector.fromArray(S, x, xOff + i + L).fma(bf16(w, wOff + i + L), s1);
        }
        for (; i + L <= n; i += L) s0 = FloatVector.fromArray(S, x, xOff + i).fma(bf16(w, wOff + i), s0);
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[xOff + i] * Float.intBitsToFloat(w[wOff + i] << 16);
        return s;
    }

    /** L BF16 values at byte off of a segment, as FP32 lanes. */
    private static FloatVector bf16(java.lang.foreign.MemorySegment w, long off) {
        IntVector i = (IntVector) ShortVector.fromMemorySegment(SH, w, off, java.nio.ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.S2I, SI, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    @Override
    public float dotBf16(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, int n) {
        int i = 0;
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        for (int bound = n - 2 * L; i <= bound; i += 2 * L) {
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(bf16(w, wOff + 2L * i), s0);
            s1 = FloatVector.fromArray(S, x, xOff + i + L).fma(bf16(w, wOff + 2L * (i + L)), s1);
        }
        for (; i + L <= n; i += L) s0 = FloatVector.fromArray(S, x, xOff + i).fma(bf16(w, wOff + 2L * i), s0);
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[xOff + i] * Float.intBitsToFloat(w.get(BF16_LE, wOff + 2L * i) << 16);
        return s;
    }

    @Override
    public void widenBf16(short[] w, int wOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) bf16(w, wOff + i).intoArray(dst, dstOff + i);
        for (; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat(w[wOff + i] << 16);
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

    @Override
    public float dotQuant(DType t, float[] x, int xOff, byte[] w, int wOff, int n) {
        if (!QUANT_VECTORS) return Kernels.super.dotQuant(t, x, xOff, w, wOff, n);
        return switch (t) {
            case Q8_0 -> dotQ8(x, xOff, w, wOff, n);
            case Q4_0, MXFP4 -> dotNibbles(t == DType.MXFP4, x, xOff, w, wOff, n);
            case FP8 -> dotFp8(x, xOff, w, wOff, n);
            case NVFP4 -> dotNvfp4(x, xOff, w, wOff, n);
            default -> Kernels.super.dotQuant(t, x, xOff, w, wOff, n);
        };
    }

    /** Byte j of an NVFP4 block holds elements 2j (low nibble) and 2j+1 (high): each byte twice, then shifted by 0 or 4. */
    private static final VectorShuffle<Byte> NVFP4_SPREAD = VectorShuffle.fromValues(ByteVector.SPECIES_128, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    private static final ByteVector NVFP4_SHIFTS = ByteVector.fromArray(ByteVector.SPECIES_128, new byte[]{0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4}, 0);

    /**
     * NVFP4: per 16-value block an E4M3 scale and 8 bytes of E2M1 nibbles (in element order after {@link #NVFP4_SPREAD}),
     * looked up in the doubled E2M1 table MXFP4 shares (a byte shuffle) with the block scale halved; the row's FP32
     * tensor scale once at the end. Two blocks at a time into two sums.
     */
    private static float dotNvfp4(float[] x, int xOff, byte[] w, int wOff, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int blocks = n / 16, b = 0, o = wOff + 4;
        for (; b + 2 <= blocks; b += 2) {
            s0 = nvfp4Block(x, xOff + 16 * b, w, o + 9 * b).fma(FloatVector.broadcast(S, 0.5f * Fp8E4M3.decode(w[o + 9 * b])), s0);
            s1 = nvfp4Block(x, xOff + 16 * b + 16, w, o + 9 * b + 9).fma(FloatVector.broadcast(S, 0.5f * Fp8E4M3.decode(w[o + 9 * b + 9])), s1);
        }
        for (; b < blocks; b++) s0 = nvfp4Block(x, xOff + 16 * b, w, o + 9 * b).fma(FloatVector.broadcast(S, 0.5f * Fp8E4M3.decode(w[o + 9 * b])), s0);
        return s0.add(s1).reduceLanes(VectorOperators.ADD) * Float.intBitsToFloat(Quant.getInt(w, wOff));
    }

    /** Σ x·code over one NVFP4 block at w[o] (its scale byte; the 8 nibble bytes follow), unscaled. */
    private static FloatVector nvfp4Block(float[] x, int xo, byte[] w, int o) {
        ByteVector v = ByteVector.fromArray(ByteVector.SPECIES_64, w, o + 1).reinterpretShape(ByteVector.SPECIES_128, 0).reinterpretAsBytes();
        ByteVector codes = v.rearrange(NVFP4_SPREAD).lanewise(VectorOperators.LSHR, NVFP4_SHIFTS).and((byte) 0x0f).selectFrom(MXFP4_TABLE);
        FloatVector acc = FloatVector.zero(S);
        for (int p = 0; p < 16 / L; p++) acc = FloatVector.fromArray(S, x, xo + p * L).fma((FloatVector) codes.convertShape(VectorOperators.B2F, S, p), acc);
        return acc;
    }

    private static final float TWO_POW_120 = 0x1p120f;

    /**
     * E4M3 codes to FP32 in registers: the code's 7 magnitude bits shifted under FP32's exponent (its 4
     * exponent bits the low end of FP32's, its 3 mantissa bits the top of FP32's) are a float 2^120 times too
     * small, subnormals included; the sign bit moves to FP32's.
     */
    private static FloatVector e4m3(byte[] w, int o) {
        IntVector i = (IntVector) ByteVector.fromArray(SB, w, o).convertShape(VectorOperators.B2I, SI, 0);
        IntVector bits = i.and(0x7f).lanewise(VectorOperators.LSHL, 20).or(i.and(0x80).lanewise(VectorOperators.LSHL, 24));
        return bits.reinterpretAsFloats().mul(TWO_POW_120);
    }

    /** FP8 with a per-row scale: Σ x·e4m3(code), times the row's FP32 scale. */
    private static float dotFp8(float[] x, int xOff, byte[] w, int wOff, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int i = 0, o = wOff + 4;
        for (; i + 2 * L <= n; i += 2 * L) {
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(e4m3(w, o + i), s0);
            s1 = FloatVector.fromArray(S, x, xOff + i + L).fma(e4m3(w, o + i + L), s1);
        }
        for (; i + L <= n; i += L) s0 = FloatVector.fromArray(S, x, xOff + i).fma(e4m3(w, o + i), s0);
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[xOff + i] * Fp8E4M3.decode(w[o + i]);
        return s * Float.intBitsToFloat(Quant.getInt(w, wOff));
    }

    @Override
    public void widenQuant(DType t, byte[] w, int wOff, float[] dst, int dstOff, int n) {
        if (!QUANT_VECTORS || t != DType.Q8_0) {
            Kernels.super.widenQuant(t, w, wOff, dst, dstOff, n);
            return;
        }
        for (int b = 0; b < n / 32; b++) { // Q8_0 (prefill's decode of a block of rows): codes times the block's scale
            int o = wOff + 34 * b;
            FloatVector d = FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o)));
            for (int j = 0; j < 32; j += L) {
                ((FloatVector) ByteVector.fromArray(SB, w, o + 2 + j).convertShape(VectorOperators.B2F, S, 0)).mul(d).intoArray(dst, dstOff + 32 * b + j);
            }
        }
    }

    /**
     * Q8_0: per block, Σ x·q in one accumulator, scaled by d once; four blocks at a time into four sums, so
     * that the FMA latency chains run side by side.
     */
    private static float dotQ8(float[] x, int xOff, byte[] w, int wOff, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        int blocks = n / 32, b = 0;
        for (; b + 4 <= blocks; b += 4) {
            int o = wOff + 34 * b, xo = xOff + 32 * b;
            s0 = q8Block(x, xo, w, o).fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o))), s0);
            s1 = q8Block(x, xo + 32, w, o + 34).fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o + 34))), s1);
            s2 = q8Block(x, xo + 64, w, o + 68).fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o + 68))), s2);
            s3 = q8Block(x, xo + 96, w, o + 102).fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o + 102))), s3);
        }
        for (; b < blocks; b++) {
            int o = wOff + 34 * b;
            s0 = q8Block(x, xOff + 32 * b, w, o).fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o))), s0);
        }
        return s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
    }

    /** Σ x·q over one Q8_0 block's 32 codes at w[o + 2..]. */
    private static FloatVector q8Block(float[] x, int xo, byte[] w, int o) {
        FloatVector acc = FloatVector.fromArray(S, x, xo).mul((FloatVector) ByteVector.fromArray(SB, w, o + 2).convertShape(VectorOperators.B2F, S, 0));
        for (int j = L; j < 32; j += L) {
            acc = FloatVector.fromArray(S, x, xo + j).fma((FloatVector) ByteVector.fromArray(SB, w, o + 2 + j).convertShape(VectorOperators.B2F, S, 0), acc);
        }
        return acc;
    }

    /**
     * Q4_0 and MXFP4: 16 bytes of nibbles, element j low and j+16 high; Q4_0's codes are nibble − 8, MXFP4's
     * looked up in llama.cpp's doubled E2M1 table (a byte shuffle) with the halved E8M0 scale. Two blocks at a
     * time into two sums.
     */
    private static float dotNibbles(boolean mx, float[] x, int xOff, byte[] w, int wOff, int n) {
        int bb = mx ? 17 : 18;
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int blocks = n / 32, b = 0;
        for (; b + 2 <= blocks; b += 2) {
            int o = wOff + bb * b, xo = xOff + 32 * b;
            s0 = nibbleBlock(mx, x, xo, w, o).fma(FloatVector.broadcast(S, nibbleScale(mx, w, o)), s0);
            s1 = nibbleBlock(mx, x, xo + 32, w, o + bb).fma(FloatVector.broadcast(S, nibbleScale(mx, w, o + bb)), s1);
        }
        for (; b < blocks; b++) {
            int o = wOff + bb * b;
            s0 = nibbleBlock(mx, x, xOff + 32 * b, w, o).fma(FloatVector.broadcast(S, nibbleScale(mx, w, o)), s0);
        }
        return s0.add(s1).reduceLanes(VectorOperators.ADD);
    }

    private static float nibbleScale(boolean mx, byte[] w, int o) {
        return mx ? Quant.e8m0Half(w[o] & 0xff) : Float.float16ToFloat(Quant.getShort(w, o));
    }

    /** Σ x·code over one Q4_0 or MXFP4 block (unscaled). */
    private static FloatVector nibbleBlock(boolean mx, float[] x, int xo, byte[] w, int o) {
        ByteVector v = ByteVector.fromArray(SB16, w, o + (mx ? 1 : 2));
        ByteVector lo = v.and((byte) 0x0f), hi = v.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0f);
        if (mx) {
            lo = lo.selectFrom(MXFP4_TABLE);
            hi = hi.selectFrom(MXFP4_TABLE);
        } else {
            lo = lo.sub((byte) 8);
            hi = hi.sub((byte) 8);
        }
        FloatVector acc = FloatVector.zero(S);
        for (int p = 0; p < 16 / L; p++) {
            acc = FloatVector.fromArray(S, x, xo + p * L).fma((FloatVector) lo.convertShape(VectorOperators.B2F, S, p), acc);
            acc = FloatVector.fromArray(S, x, xo + 16 + p * L).fma((FloatVector) hi.convertShape(VectorOperators.B2F, S, p), acc);
        }
        return acc;
    }
}
