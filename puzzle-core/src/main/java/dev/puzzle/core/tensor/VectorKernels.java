package dev.puzzle.core.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Vector API kernels (the default provider). GEMM follows the GotoBLAS/BLIS scheme: B is packed
 * into KC×NR column panels (off the heap, 64-byte aligned), A into MC×KC row panels of MR rows
 * (8×16 blocks transposed in registers), and a register-blocked MR×NR micro-kernel (NR = two
 * vectors) accumulates in registers over one KC block and then adds its tile straight into C (the
 * first K block zeroes the tile's rows of C just before, which also brings them into cache while the
 * kernel computes: no zero-fill pass, no tile buffer, C touched once per 1024 steps of K). One
 * parallel section per chunk of B runs a task per row block, which packs its rows of A once per KC block and the
 * groups of B's panels no task has packed yet, as it reaches them. Measured against
 * OpenBLAS in bench/gemm.sh. Small-M products with a weight-layout B (decode's matrix-vector case)
 * take a dot-product path.
 */
public class VectorKernels implements Kernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows of the micro-kernel: 8 (16 accumulators) with 32 vector registers (AVX-512), else 6. */
    static final int MR = L >= 16 ? 8 : 6;
    static final int NR = 2 * L;
    private static final int KC = 1024;
    private static final int MC_MAX = 120; // multiple of MR
    private static final int NC = 1024; // multiple of NR for every species length
    private static final int SMALL_M = 4;
    /** Most floats of B packed at once (16 MiB): a larger B is packed and multiplied a chunk of columns at a time. */
    private static final long PACK_LIMIT = 4L << 20;
    /** Largest packed-B buffer a thread keeps between calls (64 MiB: one NC-column chunk of K up to 16384). */
    private static final long KEEP_PACKED_B = 64L << 20;
    /** BF16 loads: as many shorts as S has floats (half its bits), widened to ints of S's shape. */
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, S.vectorShape());
    /** Quantized loads: L int8 codes (a quarter of S's bits) widen to one FloatVector; 16 nibble bytes a 4-bit block half. */
    private static final boolean QUANT_VECTORS = S.vectorBitSize() >= 256;
    private static final VectorSpecies<Byte> SB = QUANT_VECTORS ? VectorSpecies.of(byte.class, VectorShape.forBitSize(S.vectorBitSize() / 4)) : null;
    private static final VectorSpecies<Byte> SB16 = ByteVector.SPECIES_128;
    private static final ByteVector MXFP4_TABLE = ByteVector.fromArray(SB16, Quant.MXFP4_VALUES, 0);
    /** 2^23 as float bits: OR a small non-negative integer into its mantissa and subtract 2^23 to get it as a float. */
    private static final int TWO_POW_23_BITS = 0x4B000000;

    private static final ThreadLocal<float[]> PACK_A = ThreadLocal.withInitial(() -> new float[MC_MAX * KC]);
    private static final ThreadLocal<MemorySegment> PACK_B = new ThreadLocal<>();
    private static final java.nio.ByteOrder LE = java.nio.ByteOrder.LITTLE_ENDIAN;
    /** {@link #dotQ4Rows32}: 16-bit lanes of S's shape (2L rows a pass) and the bytes that widen to them. */
    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, S.vectorShape());
    private static final VectorSpecies<Byte> SBH = VectorSpecies.of(byte.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    private final Parallel parallel;
    /** 0, 1, 2, … in the lanes of S. */
    private static final FloatVector IOTA = FloatVector.fromArray(S, iota(L), 0);

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
        // Row blocks of at most MC_MAX rows, as many as a multiple of the thread count and of near-equal size (their
        // bounds multiples of MR), so every thread gets the same share: 2048 rows are 18 blocks of 112–120, not 17 of
        // 120 and one of 8.
        int mBlocks = Math.min(threads * Math.max(1, (m + threads * (MC_MAX - MR) - 1) / (threads * (MC_MAX - MR))), (m + MR - 1) / MR);
        // B is packed a chunk of columns at a time (all of it when it fits in PACK_LIMIT floats), and one parallel
        // section computes every row block of the chunk over all of K: one hand-off per chunk rather than per KC×NC
        // block, whose last task would leave the other threads idle each time. A task packs its rows of A once per KC
        // block and runs them against every NC-column block in turn: packed per (row block, column block) instead,
        // A was packed n / NC times over, 3.4% of a one-thread 2048³ product and 3.1% of 4096×4096×1024 (measured).
        // Only where there are fewer row blocks than threads (a few rows) are the column blocks split among tasks.
        int chunk = (int) Math.max(NC, Math.min(roundUp(n, NC), PACK_LIMIT / k / NC * NC));
        MemorySegment bp = packBuffer(4L * k * roundUp(Math.min(chunk, n), NR));
        for (int j0 = 0; j0 < n; j0 += chunk) {
            int cols = Math.min(chunk, n - j0), nBlocks = (cols + NC - 1) / NC;
            int groups = Math.min(nBlocks, (threads + mBlocks - 1) / mBlocks);
            final int fj0 = j0;
            PackedB pb = new PackedB(bp, b, bOff, ldb, transB, k, j0, cols);
            parallel.forEach(mBlocks * groups, t -> {
                int g = t / mBlocks, blk = t % mBlocks;
                int jb0 = g * nBlocks / groups, span = (g + 1) * nBlocks / groups - jb0;
                // Tasks running at once start at different column blocks and panels, so that they pack different
                // panels of B rather than wait for each other's.
                int lane = blk % threads;
                int ic = blockStart(blk, mBlocks, m);
                int mcb = blockStart(blk + 1, mBlocks, m) - ic;
                float[] ap = PACK_A.get();
                float[] tile = TILE.get();
                for (int pc = 0; pc < k; pc += KC) {
                    int kc = Math.min(KC, k - pc);
                    packA(ap, a, aOff, lda, transA, ic, mcb, pc, kc);
                    for (int q = 0; q < span; q++) {
                        int jb = jb0 + (q + lane * span / threads) % span;
                        int nc = Math.min(NC, cols - jb * NC);
                        // The first block of K writes C (adds to it when accumulating), later ones add: no zero-fill pass.
                        int packGroups = (nc + NR * PackedB.GROUP - 1) / (NR * PackedB.GROUP);
                        macroKernel(mcb, nc, kc, ap, pb, jb, pc, lane * packGroups / threads * PackedB.GROUP, c,
                                cOff + ic * ldc + fj0 + jb * NC, ldc, accumulate || pc > 0, tile);
                    }
                }
            });
        }
    }

    /**
     * Byte offset of packed block (column block jb, K from pc) in a packed chunk: column blocks of NC columns one
     * after another, each all of K; inside one, its KC-row blocks, each its NR-wide panels of kc rows.
     */
    private static long packedBlock(int jb, int pc, int k, int ncp) {
        return 4L * ((long) jb * NC * k + (long) pc * ncp);
    }

    /**
     * Columns [j0, j0+cols) of op(B), all of K, packed into the layout of {@link #packedBlock} (zero-padded to NR)
     * GROUP panels at a time, each group by the first task that needs it, just before it multiplies it: there is no
     * separate packing pass with its own hand-off, and the group is in that core's cache for its first use. A task
     * that finds a group being packed by another waits for it. Groups, not single panels: a stored B's rows are then
     * read GROUP·NR floats at a time (a panel alone, 32 floats a row 8 KiB apart, packed 60% slower, measured).
     */
    private static final class PackedB {
        private static final int GROUP = 8;
        private static final int FREE = 0, PACKING = 1, READY = 2, FAILED = 3;
        final MemorySegment bp;
        private final float[] b;
        private final int bOff, ldb, k, j0, cols, kBlocks;
        private final boolean transB;
        private final java.util.concurrent.atomic.AtomicIntegerArray state;
        private volatile Throwable failure;

        PackedB(MemorySegment bp, float[] b, int bOff, int ldb, boolean transB, int k, int j0, int cols) {
            this.bp = bp;
            this.b = b;
            this.bOff = bOff;
            this.ldb = ldb;
            this.transB = transB;
            this.k = k;
            this.j0 = j0;
            this.cols = cols;
            this.kBlocks = (k + KC - 1) / KC;
            this.state = new java.util.concurrent.atomic.AtomicIntegerArray(kBlocks * ((cols + NR * GROUP - 1) / (NR * GROUP)));
        }

        /** Byte offset of the packed block (column block jb, K from pc). */
        long block(int jb, int pc) {
            return packedBlock(jb, pc, k, roundUp(Math.min(NC, cols - jb * NC), NR));
        }

        /** Makes sure the group of panel {@code jr} (a column offset in block jb, a multiple of NR) of block (jb, pc) is packed. */
        void ensure(int jb, int pc, int kc, int jr) {
            int i = ((jb * NC + jr) / (NR * GROUP)) * kBlocks + pc / KC;
            if (state.get(i) == READY) return;
            if (state.compareAndSet(i, FREE, PACKING)) {
                try {
                    pack(jb, pc, kc, jr / (NR * GROUP) * NR * GROUP);
                } catch (Throwable t) {
                    failure = t;
                    state.set(i, FAILED); // after failure: a waiter that sees FAILED sees the cause
                    throw t;
                }
                state.set(i, READY);
                return;
            }
            for (int s; (s = state.get(i)) != READY; ) {
                if (s == FAILED) throw new IllegalStateException("packing a panel of B failed in another thread", failure);
                Thread.onSpinWait();
            }
        }

        /** Packs the panels of block (jb, pc) from column offset q0 (in the block) on, GROUP of them or to the block's end. */
        private void pack(int jb, int pc, int kc, int q0) {
            int nc = Math.min(NC, cols - jb * NC), q1 = Math.min(nc, q0 + NR * GROUP);
            long base = block(jb, pc) + 4L * q0 * kc;
            if (!transB && (q1 - q0) % NR == 0) { // whole panels of a stored B: its rows, GROUP·NR floats of each at a time
                packRows(bp, base, b, bOff + pc * ldb + j0 + jb * NC + q0, ldb, kc, (q1 - q0) / NR);
                return;
            }
            for (int q = q0; q < q1; q += NR) {
                int j = jb * NC + q;
                packPanel(bp, base + 4L * (q - q0) * kc, b, bOff, ldb, transB, pc, kc, j0 + j, Math.min(NR, cols - j));
            }
        }
    }

    /** Rows [0, kc) of a stored B from {@code src} ({@code ldb} apart), {@code panels}·NR columns each, into their panels from byte {@code base}. */
    private static void packRows(MemorySegment bp, long base, float[] b, int src, int ldb, int kc, int panels) {
        for (int p = 0; p < kc; p++, src += ldb) {
            long dst = base + 4L * p * NR;
            for (int q = 0; q < panels; q++, dst += 4L * NR * kc) {
                FloatVector.fromArray(S, b, src + q * NR).intoMemorySegment(bp, dst, LE);
                FloatVector.fromArray(S, b, src + q * NR + L).intoMemorySegment(bp, dst + 4L * L, LE);
            }
        }
    }

    /**
     * C[0:mcb, 0:nc] (+)= Ap · Bp for one packed block of A and the packed block of B. Whole tiles go from the
     * registers straight into C; edge tiles through a small tile buffer.
     */
    private static void macroKernel(int mcb, int nc, int kc, float[] ap, PackedB pb, int jb, int pc, int first, float[] c,
                                    int cBase, int ldc, boolean add, float[] tile) {
        MemorySegment bp = pb.bp;
        long bBase = pb.block(jb, pc);
        int panels = (nc + NR - 1) / NR;
        for (int pi = 0; pi < panels; pi++) {
            int jr = (first + pi) % panels * NR; // panels from the task's own first one (see gemm), round
            int nr = Math.min(NR, nc - jr);
            pb.ensure(jb, pc, kc, jr);
            long bo = bBase + 4L * jr * kc;
            for (int ir = 0; ir < mcb; ir += MR) {
                int mr = Math.min(MR, mcb - ir);
                int ao = (ir / MR) * MR * kc;
                int co = cBase + ir * ldc + jr;
                if (nr == NR && mr == MR) {
                    // Zeros first, which also fetches the tile's lines of C while the kernel computes. A fill, not
                    // vector stores: C2 prunes whichever case it has not seen, and after the deoptimization this
                    // method runs in C1 until recompiled, where vector stores allocate.
                    if (!add) for (int r = 0; r < MR; r++) java.util.Arrays.fill(c, co + r * ldc, co + r * ldc + NR, 0f);
                    if (MR == 8) kernel8(kc, ap, ao, bp, bo, c, co, ldc);
                    else kernel6(kc, ap, ao, bp, bo, c, co, ldc);
                } else {
                    java.util.Arrays.fill(tile, 0f);
                    if (MR == 8) kernel8(kc, ap, ao, bp, bo, tile, 0, NR);
                    else kernel6(kc, ap, ao, bp, bo, tile, 0, NR);
                    for (int r = 0; r < mr; r++) {
                        for (int q = 0; q < nr; q++) {
                            int ci = co + r * ldc + q;
                            c[ci] = add ? c[ci] + tile[r * NR + q] : tile[r * NR + q];
                        }
                    }
                }
            }
        }
    }

    /** Where row block {@code blk} of {@code blocks} over {@code m} rows starts: a multiple of MR, or m for the end. */
    private static int blockStart(int blk, int blocks, int m) {
        return blk >= blocks ? m : (int) ((long) blk * m / blocks) / MR * MR;
    }

    private static float[] iota(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    private static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }

    /** Packs rows [i0, i0+mc) × cols [k0, k0+kc) of op(A) into MR-row panels, k-major inside a panel; pads with zeros. */
    private static void packA(float[] ap, float[] a, int aOff, int lda, boolean transA, int i0, int mc, int k0, int kc) {
        int panels = (mc + MR - 1) / MR;
        for (int p = 0; p < panels; p++) {
            int base = p * MR * kc;
            if (TRANSPOSE_8X16 && !transA && p * MR + MR <= mc) { // a whole panel of stored rows: 8×16 blocks in registers
                int row = aOff + (i0 + p * MR) * lda + k0, q = 0;
                for (; q + L <= kc; q += L) transpose8x16(a, row + q, lda, ap, base + q * MR);
                for (int r = 0; r < MR; r++) {
                    for (int qq = q; qq < kc; qq++) ap[base + qq * MR + r] = a[row + r * lda + qq];
                }
                continue;
            }
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

    /** Packing 8-row panels of A by {@link #transpose8x16}: where the micro-kernel has 8 rows and vectors of 16. */
    private static final boolean TRANSPOSE_8X16 = MR == 8 && L == 16;
    /** Two-source lane selections of the transpose's three stages: interleave 1, 2 and 4 lanes of two vectors, low and high halves. */
    private static final FloatVector[] ZIP = TRANSPOSE_8X16 ? new FloatVector[6] : null;
    static {
        if (TRANSPOSE_8X16) {
            for (int stage = 0, w = 1; stage < 3; stage++, w *= 2) {
                for (int half = 0; half < 2; half++) {
                    float[] idx = new float[L];
                    for (int lane = 0; lane < L; lane++) { // lane = 2w·g + w·src + e: element e of group g of source src
                        int g = lane / (2 * w) + half * L / (2 * w), src = lane / w % 2, e = lane % w;
                        idx[lane] = src * L + g * w + e;
                    }
                    ZIP[2 * stage + half] = FloatVector.fromArray(S, idx, 0);
                }
            }
        }
    }

    /**
     * Transposes rows r0..r7 (lda apart from {@code src}) × 16 columns into out[dst + 8·j + r]: the packed layout of
     * A, 24 two-source lane selections (vpermi2ps) for 128 values where the scalar copy takes a load and a store each.
     */
    private static void transpose8x16(float[] a, int src, int lda, float[] out, int dst) {
        FloatVector z1l = ZIP[0], z1h = ZIP[1], z2l = ZIP[2], z2h = ZIP[3], z4l = ZIP[4], z4h = ZIP[5];
        FloatVector r0 = FloatVector.fromArray(S, a, src), r1 = FloatVector.fromArray(S, a, src + lda);
        FloatVector r2 = FloatVector.fromArray(S, a, src + 2 * lda), r3 = FloatVector.fromArray(S, a, src + 3 * lda);
        FloatVector r4 = FloatVector.fromArray(S, a, src + 4 * lda), r5 = FloatVector.fromArray(S, a, src + 5 * lda);
        FloatVector r6 = FloatVector.fromArray(S, a, src + 6 * lda), r7 = FloatVector.fromArray(S, a, src + 7 * lda);
        // pairs of rows, columns 0–7 (l) and 8–15 (h)
        FloatVector t01l = z1l.selectFrom(r0, r1), t01h = z1h.selectFrom(r0, r1);
        FloatVector t23l = z1l.selectFrom(r2, r3), t23h = z1h.selectFrom(r2, r3);
        FloatVector t45l = z1l.selectFrom(r4, r5), t45h = z1h.selectFrom(r4, r5);
        FloatVector t67l = z1l.selectFrom(r6, r7), t67h = z1h.selectFrom(r6, r7);
        // quads of rows, columns 0–3, 4–7, 8–11, 12–15
        FloatVector u0a = z2l.selectFrom(t01l, t23l), u0b = z2h.selectFrom(t01l, t23l);
        FloatVector u0c = z2l.selectFrom(t01h, t23h), u0d = z2h.selectFrom(t01h, t23h);
        FloatVector u4a = z2l.selectFrom(t45l, t67l), u4b = z2h.selectFrom(t45l, t67l);
        FloatVector u4c = z2l.selectFrom(t45h, t67h), u4d = z2h.selectFrom(t45h, t67h);
        // all 8 rows, two columns a vector
        z4l.selectFrom(u0a, u4a).intoArray(out, dst);
        z4h.selectFrom(u0a, u4a).intoArray(out, dst + L);
        z4l.selectFrom(u0b, u4b).intoArray(out, dst + 2 * L);
        z4h.selectFrom(u0b, u4b).intoArray(out, dst + 3 * L);
        z4l.selectFrom(u0c, u4c).intoArray(out, dst + 4 * L);
        z4h.selectFrom(u0c, u4c).intoArray(out, dst + 5 * L);
        z4l.selectFrom(u0d, u4d).intoArray(out, dst + 6 * L);
        z4h.selectFrom(u0d, u4d).intoArray(out, dst + 7 * L);
    }

    /**
     * This thread's buffer for packed B, at least {@code bytes} long, 64-byte aligned. Off the heap because a float[]
     * lands wherever the allocator puts it: misaligned by a few floats, every vector load of the micro-kernel splits
     * two cache lines, and one JVM in three ran this GEMM 25–30% slower (measured on 1024³). On huge pages
     * ({@link HugePages}): a 16 MiB B on 4 KiB pages outgrew the TLB, and one thread ran 2048³ at 129 GFLOP/s where
     * 2048×2048×1024 ran at 153; on huge pages both run at ~150 (measured on a Xeon under KVM).
     */
    private static MemorySegment packBuffer(long bytes) {
        if (bytes > KEEP_PACKED_B) return HugePages.allocate(Arena.ofAuto(), bytes); // K beyond 16384: not kept
        MemorySegment seg = PACK_B.get();
        if (seg == null || seg.byteSize() < bytes) {
            seg = HugePages.allocate(Arena.ofAuto(), Math.min(KEEP_PACKED_B, Math.max(bytes, seg == null ? 0 : 2 * seg.byteSize())));
            PACK_B.set(seg);
        }
        return seg;
    }

    /** Columns [p0, p1) of NR rows of a stored B from {@code r0}, {@code ldb} apart, as rows of a packed panel. A method of its own, short, so that it is compiled early: a long loop in a method run a few times a GEMM would run its vector code in C1 (which allocates every vector) until on-stack replacement caught up. */
    private static void gatherColumns(MemorySegment bp, long base, float[] b, int r0, int ldb, int[] rows, int p0, int p1) {
        int r1 = r0 + L * ldb;
        for (int p = p0; p < p1; p++) {
            FloatVector.fromArray(S, b, r0 + p, rows, 0).intoMemorySegment(bp, base + 4L * p * NR, LE);
            FloatVector.fromArray(S, b, r1 + p, rows, 0).intoMemorySegment(bp, base + 4L * (p * NR + L), LE);
        }
    }

    /** Packs rows [k0, k0+kc) × cols [j0, j0+nr) of op(B) into one NR-wide panel at byte {@code base}, k-major; pads with zeros. */
    private static void packPanel(MemorySegment bp, long base, float[] b, int bOff, int ldb, boolean transB, int k0, int kc, int j0, int nr) {
        if (transB && nr == NR) { // column p of the panel's NR rows of stored B: two gathers of L rows each
            int[] rows = new int[L];
            for (int i = 0; i < L; i++) rows[i] = i * ldb;
            int r0 = bOff + j0 * ldb + k0;
            for (int p = 0; p < kc; p += 64) gatherColumns(bp, base, b, r0, ldb, rows, p, Math.min(kc, p + 64));
        } else if (transB) {
            for (int q = 0; q < NR; q++) {
                if (q >= nr) {
                    for (int p = 0; p < kc; p++) bp.set(F32_LE, base + 4L * (p * NR + q), 0f);
                } else {
                    int row = bOff + (j0 + q) * ldb + k0;
                    for (int p = 0; p < kc; p++) bp.set(F32_LE, base + 4L * (p * NR + q), b[row + p]);
                }
            }
        } else if (nr == NR) {
            for (int p = 0; p < kc; p++) {
                int src = bOff + (k0 + p) * ldb + j0;
                FloatVector.fromArray(S, b, src).intoMemorySegment(bp, base + 4L * p * NR, LE);
                FloatVector.fromArray(S, b, src + L).intoMemorySegment(bp, base + 4L * (p * NR + L), LE);
            }
        } else {
            for (int p = 0; p < kc; p++) {
                int src = bOff + (k0 + p) * ldb + j0;
                for (int q = 0; q < NR; q++) bp.set(F32_LE, base + 4L * (p * NR + q), q < nr ? b[src + q] : 0f);
            }
        }
    }

    /**
     * The 8×NR micro-kernel: out[0:8, 0:NR] += Ap[0:8, 0:kc] · Bp[0:kc, 0:NR], accumulated in 16 vector registers
     * and added into {@code out} rows {@code ldo} apart (C itself, or the tile buffer of an edge tile). It always adds:
     * a store-or-add branch here would be compiled for the first case seen and deoptimize this method (back to C1
     * code, slower than the interpreter with vectors) on the other; and a masked load makes it too big for C1.
     * <p>
     * The loop over K does four steps a turn: one step a turn spent ~11 scalar instructions (the loop's own and its
     * address arithmetic, recomputed from the counter) per 16 FMAs, and on a core whose 512-bit FMA ports also take
     * scalar work they took FMA slots (Xeon, AVX-512, one thread: 2048³ 139 -> 156 GFLOP/s, 512³ 156 -> 172; OpenBLAS
     * 168 and 161 there). Two steps a turn gained little, eight less than four. The 6-row kernel of 256-bit machines
     * gained most (the same Xeon with -XX:UseAVX=2: 2048³ 49 -> 93 GFLOP/s, OpenBLAS's Haswell kernel 111).
     */
    private static void kernel8(int kc, float[] ap, int ao, MemorySegment bp, long bo, float[] out, int o, int ldo) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S),
                c10 = FloatVector.zero(S), c11 = FloatVector.zero(S),
                c20 = FloatVector.zero(S), c21 = FloatVector.zero(S),
                c30 = FloatVector.zero(S), c31 = FloatVector.zero(S),
                c40 = FloatVector.zero(S), c41 = FloatVector.zero(S),
                c50 = FloatVector.zero(S), c51 = FloatVector.zero(S),
                c60 = FloatVector.zero(S), c61 = FloatVector.zero(S),
                c70 = FloatVector.zero(S), c71 = FloatVector.zero(S);
        int p = 0;
        for (; p + 4 <= kc; p += 4) { // four steps of K a turn (see above)
            FloatVector b00 = FloatVector.fromMemorySegment(S, bp, bo, LE);
            FloatVector b01 = FloatVector.fromMemorySegment(S, bp, bo + 4 * L, LE);
            FloatVector a00 = FloatVector.broadcast(S, ap[ao + 0]);
            c00 = b00.fma(a00, c00);
            c01 = b01.fma(a00, c01);
            FloatVector a01 = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = b00.fma(a01, c10);
            c11 = b01.fma(a01, c11);
            FloatVector a02 = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = b00.fma(a02, c20);
            c21 = b01.fma(a02, c21);
            FloatVector a03 = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = b00.fma(a03, c30);
            c31 = b01.fma(a03, c31);
            FloatVector a04 = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = b00.fma(a04, c40);
            c41 = b01.fma(a04, c41);
            FloatVector a05 = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = b00.fma(a05, c50);
            c51 = b01.fma(a05, c51);
            FloatVector a06 = FloatVector.broadcast(S, ap[ao + 6]);
            c60 = b00.fma(a06, c60);
            c61 = b01.fma(a06, c61);
            FloatVector a07 = FloatVector.broadcast(S, ap[ao + 7]);
            c70 = b00.fma(a07, c70);
            c71 = b01.fma(a07, c71);
            FloatVector b10 = FloatVector.fromMemorySegment(S, bp, bo + 4 * NR, LE);
            FloatVector b11 = FloatVector.fromMemorySegment(S, bp, bo + 4 * NR + 4 * L, LE);
            FloatVector a10 = FloatVector.broadcast(S, ap[ao + 8]);
            c00 = b10.fma(a10, c00);
            c01 = b11.fma(a10, c01);
            FloatVector a11 = FloatVector.broadcast(S, ap[ao + 9]);
            c10 = b10.fma(a11, c10);
            c11 = b11.fma(a11, c11);
            FloatVector a12 = FloatVector.broadcast(S, ap[ao + 10]);
            c20 = b10.fma(a12, c20);
            c21 = b11.fma(a12, c21);
            FloatVector a13 = FloatVector.broadcast(S, ap[ao + 11]);
            c30 = b10.fma(a13, c30);
            c31 = b11.fma(a13, c31);
            FloatVector a14 = FloatVector.broadcast(S, ap[ao + 12]);
            c40 = b10.fma(a14, c40);
            c41 = b11.fma(a14, c41);
            FloatVector a15 = FloatVector.broadcast(S, ap[ao + 13]);
            c50 = b10.fma(a15, c50);
            c51 = b11.fma(a15, c51);
            FloatVector a16 = FloatVector.broadcast(S, ap[ao + 14]);
            c60 = b10.fma(a16, c60);
            c61 = b11.fma(a16, c61);
            FloatVector a17 = FloatVector.broadcast(S, ap[ao + 15]);
            c70 = b10.fma(a17, c70);
            c71 = b11.fma(a17, c71);
            FloatVector b20 = FloatVector.fromMemorySegment(S, bp, bo + 8 * NR, LE);
            FloatVector b21 = FloatVector.fromMemorySegment(S, bp, bo + 8 * NR + 4 * L, LE);
            FloatVector a20 = FloatVector.broadcast(S, ap[ao + 16]);
            c00 = b20.fma(a20, c00);
            c01 = b21.fma(a20, c01);
            FloatVector a21 = FloatVector.broadcast(S, ap[ao + 17]);
            c10 = b20.fma(a21, c10);
            c11 = b21.fma(a21, c11);
            FloatVector a22 = FloatVector.broadcast(S, ap[ao + 18]);
            c20 = b20.fma(a22, c20);
            c21 = b21.fma(a22, c21);
            FloatVector a23 = FloatVector.broadcast(S, ap[ao + 19]);
            c30 = b20.fma(a23, c30);
            c31 = b21.fma(a23, c31);
            FloatVector a24 = FloatVector.broadcast(S, ap[ao + 20]);
            c40 = b20.fma(a24, c40);
            c41 = b21.fma(a24, c41);
            FloatVector a25 = FloatVector.broadcast(S, ap[ao + 21]);
            c50 = b20.fma(a25, c50);
            c51 = b21.fma(a25, c51);
            FloatVector a26 = FloatVector.broadcast(S, ap[ao + 22]);
            c60 = b20.fma(a26, c60);
            c61 = b21.fma(a26, c61);
            FloatVector a27 = FloatVector.broadcast(S, ap[ao + 23]);
            c70 = b20.fma(a27, c70);
            c71 = b21.fma(a27, c71);
            FloatVector b30 = FloatVector.fromMemorySegment(S, bp, bo + 12 * NR, LE);
            FloatVector b31 = FloatVector.fromMemorySegment(S, bp, bo + 12 * NR + 4 * L, LE);
            FloatVector a30 = FloatVector.broadcast(S, ap[ao + 24]);
            c00 = b30.fma(a30, c00);
            c01 = b31.fma(a30, c01);
            FloatVector a31 = FloatVector.broadcast(S, ap[ao + 25]);
            c10 = b30.fma(a31, c10);
            c11 = b31.fma(a31, c11);
            FloatVector a32 = FloatVector.broadcast(S, ap[ao + 26]);
            c20 = b30.fma(a32, c20);
            c21 = b31.fma(a32, c21);
            FloatVector a33 = FloatVector.broadcast(S, ap[ao + 27]);
            c30 = b30.fma(a33, c30);
            c31 = b31.fma(a33, c31);
            FloatVector a34 = FloatVector.broadcast(S, ap[ao + 28]);
            c40 = b30.fma(a34, c40);
            c41 = b31.fma(a34, c41);
            FloatVector a35 = FloatVector.broadcast(S, ap[ao + 29]);
            c50 = b30.fma(a35, c50);
            c51 = b31.fma(a35, c51);
            FloatVector a36 = FloatVector.broadcast(S, ap[ao + 30]);
            c60 = b30.fma(a36, c60);
            c61 = b31.fma(a36, c61);
            FloatVector a37 = FloatVector.broadcast(S, ap[ao + 31]);
            c70 = b30.fma(a37, c70);
            c71 = b31.fma(a37, c71);
            ao += 32;
            bo += 16 * NR;
        }
        for (; p < kc; p++) {
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, bo, LE);
            FloatVector b1 = FloatVector.fromMemorySegment(S, bp, bo + 4 * L, LE);
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
            bo += 4 * NR;
        }
        // Written out, not a helper: one taking vectors is not reliably inlined into a method this large, and boxing
        // them is ruinous.
        c00 = c00.add(FloatVector.fromArray(S, out, o));
        c01 = c01.add(FloatVector.fromArray(S, out, o + L));
        c10 = c10.add(FloatVector.fromArray(S, out, o + ldo));
        c11 = c11.add(FloatVector.fromArray(S, out, o + ldo + L));
        c20 = c20.add(FloatVector.fromArray(S, out, o + 2 * ldo));
        c21 = c21.add(FloatVector.fromArray(S, out, o + 2 * ldo + L));
        c30 = c30.add(FloatVector.fromArray(S, out, o + 3 * ldo));
        c31 = c31.add(FloatVector.fromArray(S, out, o + 3 * ldo + L));
        c40 = c40.add(FloatVector.fromArray(S, out, o + 4 * ldo));
        c41 = c41.add(FloatVector.fromArray(S, out, o + 4 * ldo + L));
        c50 = c50.add(FloatVector.fromArray(S, out, o + 5 * ldo));
        c51 = c51.add(FloatVector.fromArray(S, out, o + 5 * ldo + L));
        c60 = c60.add(FloatVector.fromArray(S, out, o + 6 * ldo));
        c61 = c61.add(FloatVector.fromArray(S, out, o + 6 * ldo + L));
        c70 = c70.add(FloatVector.fromArray(S, out, o + 7 * ldo));
        c71 = c71.add(FloatVector.fromArray(S, out, o + 7 * ldo + L));
        c00.intoArray(out, o);
        c01.intoArray(out, o + L);
        c10.intoArray(out, o + ldo);
        c11.intoArray(out, o + ldo + L);
        c20.intoArray(out, o + 2 * ldo);
        c21.intoArray(out, o + 2 * ldo + L);
        c30.intoArray(out, o + 3 * ldo);
        c31.intoArray(out, o + 3 * ldo + L);
        c40.intoArray(out, o + 4 * ldo);
        c41.intoArray(out, o + 4 * ldo + L);
        c50.intoArray(out, o + 5 * ldo);
        c51.intoArray(out, o + 5 * ldo + L);
        c60.intoArray(out, o + 6 * ldo);
        c61.intoArray(out, o + 6 * ldo + L);
        c70.intoArray(out, o + 7 * ldo);
        c71.intoArray(out, o + 7 * ldo + L);
    }

    /** The 6×NR micro-kernel: as {@link #kernel8} with 6 rows in 12 vector registers (machines with 16 of them). */
    private static void kernel6(int kc, float[] ap, int ao, MemorySegment bp, long bo, float[] out, int o, int ldo) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S),
                c10 = FloatVector.zero(S), c11 = FloatVector.zero(S),
                c20 = FloatVector.zero(S), c21 = FloatVector.zero(S),
                c30 = FloatVector.zero(S), c31 = FloatVector.zero(S),
                c40 = FloatVector.zero(S), c41 = FloatVector.zero(S),
                c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        int p = 0;
        for (; p + 4 <= kc; p += 4) { // four steps of K a turn, as kernel8
            FloatVector b00 = FloatVector.fromMemorySegment(S, bp, bo, LE);
            FloatVector b01 = FloatVector.fromMemorySegment(S, bp, bo + 4 * L, LE);
            FloatVector a00 = FloatVector.broadcast(S, ap[ao + 0]);
            c00 = b00.fma(a00, c00);
            c01 = b01.fma(a00, c01);
            FloatVector a01 = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = b00.fma(a01, c10);
            c11 = b01.fma(a01, c11);
            FloatVector a02 = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = b00.fma(a02, c20);
            c21 = b01.fma(a02, c21);
            FloatVector a03 = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = b00.fma(a03, c30);
            c31 = b01.fma(a03, c31);
            FloatVector a04 = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = b00.fma(a04, c40);
            c41 = b01.fma(a04, c41);
            FloatVector a05 = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = b00.fma(a05, c50);
            c51 = b01.fma(a05, c51);
            FloatVector b10 = FloatVector.fromMemorySegment(S, bp, bo + 4 * NR, LE);
            FloatVector b11 = FloatVector.fromMemorySegment(S, bp, bo + 4 * NR + 4 * L, LE);
            FloatVector a10 = FloatVector.broadcast(S, ap[ao + 6]);
            c00 = b10.fma(a10, c00);
            c01 = b11.fma(a10, c01);
            FloatVector a11 = FloatVector.broadcast(S, ap[ao + 7]);
            c10 = b10.fma(a11, c10);
            c11 = b11.fma(a11, c11);
            FloatVector a12 = FloatVector.broadcast(S, ap[ao + 8]);
            c20 = b10.fma(a12, c20);
            c21 = b11.fma(a12, c21);
            FloatVector a13 = FloatVector.broadcast(S, ap[ao + 9]);
            c30 = b10.fma(a13, c30);
            c31 = b11.fma(a13, c31);
            FloatVector a14 = FloatVector.broadcast(S, ap[ao + 10]);
            c40 = b10.fma(a14, c40);
            c41 = b11.fma(a14, c41);
            FloatVector a15 = FloatVector.broadcast(S, ap[ao + 11]);
            c50 = b10.fma(a15, c50);
            c51 = b11.fma(a15, c51);
            FloatVector b20 = FloatVector.fromMemorySegment(S, bp, bo + 8 * NR, LE);
            FloatVector b21 = FloatVector.fromMemorySegment(S, bp, bo + 8 * NR + 4 * L, LE);
            FloatVector a20 = FloatVector.broadcast(S, ap[ao + 12]);
            c00 = b20.fma(a20, c00);
            c01 = b21.fma(a20, c01);
            FloatVector a21 = FloatVector.broadcast(S, ap[ao + 13]);
            c10 = b20.fma(a21, c10);
            c11 = b21.fma(a21, c11);
            FloatVector a22 = FloatVector.broadcast(S, ap[ao + 14]);
            c20 = b20.fma(a22, c20);
            c21 = b21.fma(a22, c21);
            FloatVector a23 = FloatVector.broadcast(S, ap[ao + 15]);
            c30 = b20.fma(a23, c30);
            c31 = b21.fma(a23, c31);
            FloatVector a24 = FloatVector.broadcast(S, ap[ao + 16]);
            c40 = b20.fma(a24, c40);
            c41 = b21.fma(a24, c41);
            FloatVector a25 = FloatVector.broadcast(S, ap[ao + 17]);
            c50 = b20.fma(a25, c50);
            c51 = b21.fma(a25, c51);
            FloatVector b30 = FloatVector.fromMemorySegment(S, bp, bo + 12 * NR, LE);
            FloatVector b31 = FloatVector.fromMemorySegment(S, bp, bo + 12 * NR + 4 * L, LE);
            FloatVector a30 = FloatVector.broadcast(S, ap[ao + 18]);
            c00 = b30.fma(a30, c00);
            c01 = b31.fma(a30, c01);
            FloatVector a31 = FloatVector.broadcast(S, ap[ao + 19]);
            c10 = b30.fma(a31, c10);
            c11 = b31.fma(a31, c11);
            FloatVector a32 = FloatVector.broadcast(S, ap[ao + 20]);
            c20 = b30.fma(a32, c20);
            c21 = b31.fma(a32, c21);
            FloatVector a33 = FloatVector.broadcast(S, ap[ao + 21]);
            c30 = b30.fma(a33, c30);
            c31 = b31.fma(a33, c31);
            FloatVector a34 = FloatVector.broadcast(S, ap[ao + 22]);
            c40 = b30.fma(a34, c40);
            c41 = b31.fma(a34, c41);
            FloatVector a35 = FloatVector.broadcast(S, ap[ao + 23]);
            c50 = b30.fma(a35, c50);
            c51 = b31.fma(a35, c51);
            ao += 24;
            bo += 16 * NR;
        }
        for (; p < kc; p++) {
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, bo, LE);
            FloatVector b1 = FloatVector.fromMemorySegment(S, bp, bo + 4 * L, LE);
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
            bo += 4 * NR;
        }
        // Written out, not a helper: one taking vectors is not reliably inlined into a method this large, and boxing
        // them is ruinous.
        c00 = c00.add(FloatVector.fromArray(S, out, o));
        c01 = c01.add(FloatVector.fromArray(S, out, o + L));
        c10 = c10.add(FloatVector.fromArray(S, out, o + ldo));
        c11 = c11.add(FloatVector.fromArray(S, out, o + ldo + L));
        c20 = c20.add(FloatVector.fromArray(S, out, o + 2 * ldo));
        c21 = c21.add(FloatVector.fromArray(S, out, o + 2 * ldo + L));
        c30 = c30.add(FloatVector.fromArray(S, out, o + 3 * ldo));
        c31 = c31.add(FloatVector.fromArray(S, out, o + 3 * ldo + L));
        c40 = c40.add(FloatVector.fromArray(S, out, o + 4 * ldo));
        c41 = c41.add(FloatVector.fromArray(S, out, o + 4 * ldo + L));
        c50 = c50.add(FloatVector.fromArray(S, out, o + 5 * ldo));
        c51 = c51.add(FloatVector.fromArray(S, out, o + 5 * ldo + L));
        c00.intoArray(out, o);
        c01.intoArray(out, o + L);
        c10.intoArray(out, o + ldo);
        c11.intoArray(out, o + ldo + L);
        c20.intoArray(out, o + 2 * ldo);
        c21.intoArray(out, o + 2 * ldo + L);
        c30.intoArray(out, o + 3 * ldo);
        c31.intoArray(out, o + 3 * ldo + L);
        c40.intoArray(out, o + 4 * ldo);
        c41.intoArray(out, o + 4 * ldo + L);
        c50.intoArray(out, o + 5 * ldo);
        c51.intoArray(out, o + 5 * ldo + L);
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
        // Two ranges per thread, claimed as threads free up: a late-waking helper costs one range, not half the rows.
        // Ranges of at least 16 KiB of B: with 256 KiB as before, stories15M's 288x288 projections ran on one thread
        // (a token's layers 0.74 -> 0.59 ms on two threads, the weights streaming from L3; the 110M shape unchanged).
        int minRows = Math.max(16, 4096 / Math.max(1, k)), chunks = Math.max(1, Math.min(n / minRows, 2 * parallel.threads()));
        parallel.forEach(chunks, ch -> {
            int j0 = (int) ((long) n * ch / chunks), j1 = (int) ((long) n * (ch + 1) / chunks), half = (j1 - j0) / 2, j = 0;
            // four rows of B side by side, two from each half of the range: the rows as separate streams from memory,
            // and the two halves as two streams of those (one sequential stream a core is as fast as the prefetcher's
            // lead on it)
            for (; j + 2 <= half; j += 2) {
                int ja = j0 + j, jb = j0 + half + j;
                for (int i = 0; i < m; i++) {
                    dot4(rows, fa + i * rowStride, b, bOff + ja * ldb, bOff + (ja + 1) * ldb, bOff + jb * ldb, bOff + (jb + 1) * ldb, k,
                            c, cOff + i * ldc + ja, cOff + i * ldc + jb, accumulate);
                }
            }
            for (int r = j0 + j; r < j0 + half; r++) dotRow(m, rows, fa, rowStride, b, bOff + r * ldb, k, c, cOff + r, ldc, accumulate);
            for (int r = j0 + half + j; r < j1; r++) dotRow(m, rows, fa, rowStride, b, bOff + r * ldb, k, c, cOff + r, ldc, accumulate);
        });
    }

    /** Column r of c (at ci, ldc apart) (+)= the m rows of x · one row of y at yOff: the rows past smallM's pairs. */
    private void dotRow(int m, float[] x, int xOff, int ldx, float[] y, int yOff, int k, float[] c, int ci, int ldc, boolean accumulate) {
        for (int i = 0; i < m; i++) {
            float s = dot(x, xOff + i * ldx, y, yOff, k);
            int o = ci + i * ldc;
            c[o] = accumulate ? c[o] + s : s;
        }
    }

    /**
     * c[ci], c[ci + 1], c[ci2], c[ci2 + 1] (+)= x · the rows of y at yOff, y1, y2, y3: each row's sum with exactly {@link #dot}'s arithmetic
     * (its four accumulators, remainder and reduction), so that a result does not depend on where a thread's range
     * began; the four rows are read side by side, which one core streams from memory ~25% faster than one row after
     * another (single-thread FP32 decode of a 110M-shape matrix set: 20 -> 26 GB/s).
     */
    private static void dot4(float[] x, int xOff, float[] y, int yOff, int y1, int y2, int y3, int n, float[] c, int ci, int ci2,
                             boolean accumulate) {
        int i = 0;
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, d0 = a0, d1 = a0, d2 = a0, d3 = a0;
        for (int bound = n - 4 * L; i <= bound; i += 4 * L) {
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + i), x1 = FloatVector.fromArray(S, x, xOff + i + L);
            FloatVector x2 = FloatVector.fromArray(S, x, xOff + i + 2 * L), x3 = FloatVector.fromArray(S, x, xOff + i + 3 * L);
            a0 = x0.fma(FloatVector.fromArray(S, y, yOff + i), a0);
            a1 = x1.fma(FloatVector.fromArray(S, y, yOff + i + L), a1);
            a2 = x2.fma(FloatVector.fromArray(S, y, yOff + i + 2 * L), a2);
            a3 = x3.fma(FloatVector.fromArray(S, y, yOff + i + 3 * L), a3);
            b0 = x0.fma(FloatVector.fromArray(S, y, y1 + i), b0);
            b1 = x1.fma(FloatVector.fromArray(S, y, y1 + i + L), b1);
            b2 = x2.fma(FloatVector.fromArray(S, y, y1 + i + 2 * L), b2);
            b3 = x3.fma(FloatVector.fromArray(S, y, y1 + i + 3 * L), b3);
            c0 = x0.fma(FloatVector.fromArray(S, y, y2 + i), c0);
            c1 = x1.fma(FloatVector.fromArray(S, y, y2 + i + L), c1);
            c2 = x2.fma(FloatVector.fromArray(S, y, y2 + i + 2 * L), c2);
            c3 = x3.fma(FloatVector.fromArray(S, y, y2 + i + 3 * L), c3);
            d0 = x0.fma(FloatVector.fromArray(S, y, y3 + i), d0);
            d1 = x1.fma(FloatVector.fromArray(S, y, y3 + i + L), d1);
            d2 = x2.fma(FloatVector.fromArray(S, y, y3 + i + 2 * L), d2);
            d3 = x3.fma(FloatVector.fromArray(S, y, y3 + i + 3 * L), d3);
        }
        for (; i + L <= n; i += L) {
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + i);
            a0 = x0.fma(FloatVector.fromArray(S, y, yOff + i), a0);
            b0 = x0.fma(FloatVector.fromArray(S, y, y1 + i), b0);
            c0 = x0.fma(FloatVector.fromArray(S, y, y2 + i), c0);
            d0 = x0.fma(FloatVector.fromArray(S, y, y3 + i), d0);
        }
        float sa = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD), sb = b0.add(b1).add(b2.add(b3)).reduceLanes(VectorOperators.ADD);
        float sc = c0.add(c1).add(c2.add(c3)).reduceLanes(VectorOperators.ADD), sd = d0.add(d1).add(d2.add(d3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float xi = x[xOff + i];
            sa += xi * y[yOff + i];
            sb += xi * y[y1 + i];
            sc += xi * y[y2 + i];
            sd += xi * y[y3 + i];
        }
        c[ci] = accumulate ? c[ci] + sa : sa;
        c[ci + 1] = accumulate ? c[ci + 1] + sb : sb;
        c[ci2] = accumulate ? c[ci2] + sc : sc;
        c[ci2 + 1] = accumulate ? c[ci2 + 1] + sd : sd;
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

    /** {@link #axpy} once per row, y kept in registers: up to four vectors of it at a time across all the rows. */
    @Override
    public void axpyRows(float[] w, int wOff, int n, float[] x, int xOff, int xStride, float[] y, int yOff, int len) {
        int e = 0;
        for (; e + 4 * L <= len; e += 4 * L) {
            FloatVector y0 = FloatVector.fromArray(S, y, yOff + e), y1 = FloatVector.fromArray(S, y, yOff + e + L);
            FloatVector y2 = FloatVector.fromArray(S, y, yOff + e + 2 * L), y3 = FloatVector.fromArray(S, y, yOff + e + 3 * L);
            for (int j = 0, r = xOff + e; j < n; j++, r += xStride) {
                FloatVector a = FloatVector.broadcast(S, w[wOff + j]);
                y0 = FloatVector.fromArray(S, x, r).fma(a, y0);
                y1 = FloatVector.fromArray(S, x, r + L).fma(a, y1);
                y2 = FloatVector.fromArray(S, x, r + 2 * L).fma(a, y2);
                y3 = FloatVector.fromArray(S, x, r + 3 * L).fma(a, y3);
            }
            y0.intoArray(y, yOff + e);
            y1.intoArray(y, yOff + e + L);
            y2.intoArray(y, yOff + e + 2 * L);
            y3.intoArray(y, yOff + e + 3 * L);
        }
        if (e + 3 * L <= len) { // a head of 48 on 16 lanes: its three vectors in one pass over the rows
            FloatVector y0 = FloatVector.fromArray(S, y, yOff + e), y1 = FloatVector.fromArray(S, y, yOff + e + L);
            FloatVector y2 = FloatVector.fromArray(S, y, yOff + e + 2 * L);
            for (int j = 0, r = xOff + e; j < n; j++, r += xStride) {
                FloatVector a = FloatVector.broadcast(S, w[wOff + j]);
                y0 = FloatVector.fromArray(S, x, r).fma(a, y0);
                y1 = FloatVector.fromArray(S, x, r + L).fma(a, y1);
                y2 = FloatVector.fromArray(S, x, r + 2 * L).fma(a, y2);
            }
            y0.intoArray(y, yOff + e);
            y1.intoArray(y, yOff + e + L);
            y2.intoArray(y, yOff + e + 2 * L);
            e += 3 * L;
        } else if (e + 2 * L <= len) {
            FloatVector y0 = FloatVector.fromArray(S, y, yOff + e), y1 = FloatVector.fromArray(S, y, yOff + e + L);
            for (int j = 0, r = xOff + e; j < n; j++, r += xStride) {
                FloatVector a = FloatVector.broadcast(S, w[wOff + j]);
                y0 = FloatVector.fromArray(S, x, r).fma(a, y0);
                y1 = FloatVector.fromArray(S, x, r + L).fma(a, y1);
            }
            y0.intoArray(y, yOff + e);
            y1.intoArray(y, yOff + e + L);
            e += 2 * L;
        }
        if (e + L <= len) {
            FloatVector y0 = FloatVector.fromArray(S, y, yOff + e);
            for (int j = 0, r = xOff + e; j < n; j++, r += xStride) {
                y0 = FloatVector.fromArray(S, x, r).fma(FloatVector.broadcast(S, w[wOff + j]), y0);
            }
            y0.intoArray(y, yOff + e);
            e += L;
        }
        for (; e < len; e++) {
            float s = y[yOff + e];
            for (int j = 0; j < n; j++) s += w[wOff + j] * x[xOff + j * xStride + e];
            y[yOff + e] = s;
        }
    }

    @Override
    public void scale(float[] x, int xOff, int n, float s) {
        int i = 0;
        for (; i + L <= n; i += L) FloatVector.fromArray(S, x, xOff + i).mul(s).intoArray(x, xOff + i);
        // Scalar tails here and in max, expSum and sumExp: masked vectors made the stories15M decode ~15% slower (its
        // attention rows always end in a tail, and the masked code runs interpreted for its first ~160 tokens).
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
            // Each operation's receiver a vector just made from S (its class exact when C2 parses the call), never the
            // loop's running maximum: inlined into Attention.head before this method had a profile of its own, the
            // calls on the running maximum stayed virtual and ran the Vector API's Java fallback, allocating, on every
            // call for the rest of the run (JFR allocation profile of decode, 2026-12-05).
            FloatVector vm = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; i + L <= n; i += L) vm = FloatVector.fromArray(S, x, xOff + i).max(vm);
            m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY).max(vm).reduceLanes(VectorOperators.MAX);
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

    /**
     * A head of 8 in two passes over the keys instead of ~20 calls: dp, dV and Σ in the first, dS, dQ and dK in the
     * second; whole vectors, the last ending at n with the lanes the one before it covered masked to zero (adding zero
     * leaves dK, dV and the sums as they were). Other heads: the default.
     */
    @Override
    public float attendBackward(float[] dOut, int dOff, float[] q, int qOff, int E, float[] p, int pOff, float[] kt, float[] vt,
                                float[] dkt, float[] dvt, int off, int stride, int n, float scale, float[] dp, float[] dq, int dqOff) {
        if (E != 8 || n < L) return Kernels.super.attendBackward(dOut, dOff, q, qOff, E, p, pOff, kt, vt, dkt, dvt, off, stride, n, scale, dp, dq, dqOff);
        FloatVector o0 = FloatVector.broadcast(S, dOut[dOff]), c0 = FloatVector.broadcast(S, q[qOff]);
        FloatVector o1 = FloatVector.broadcast(S, dOut[dOff + 1]), c1 = FloatVector.broadcast(S, q[qOff + 1]);
        FloatVector o2 = FloatVector.broadcast(S, dOut[dOff + 2]), c2 = FloatVector.broadcast(S, q[qOff + 2]);
        FloatVector o3 = FloatVector.broadcast(S, dOut[dOff + 3]), c3 = FloatVector.broadcast(S, q[qOff + 3]);
        FloatVector o4 = FloatVector.broadcast(S, dOut[dOff + 4]), c4 = FloatVector.broadcast(S, q[qOff + 4]);
        FloatVector o5 = FloatVector.broadcast(S, dOut[dOff + 5]), c5 = FloatVector.broadcast(S, q[qOff + 5]);
        FloatVector o6 = FloatVector.broadcast(S, dOut[dOff + 6]), c6 = FloatVector.broadcast(S, q[qOff + 6]);
        FloatVector o7 = FloatVector.broadcast(S, dOut[dOff + 7]), c7 = FloatVector.broadcast(S, q[qOff + 7]);
        int r0 = off, r1 = off + stride, r2 = off + 2 * stride, r3 = off + 3 * stride, r4 = off + 4 * stride,
                r5 = off + 5 * stride, r6 = off + 6 * stride, r7 = off + 7 * stride;
        // dp = dO·v, Σ p·dp, dV += dO_e·p
        FloatVector vs = FloatVector.zero(S);
        for (int j = 0; j < n; j += L) {
            int at = Math.min(j, n - L);
            FloatVector pv = FloatVector.fromArray(S, p, pOff + at);
            if (at < j) pv = pv.blend(0f, IOTA.compare(VectorOperators.LT, (float) (j - at)));
            FloatVector d = FloatVector.fromArray(S, vt, r0 + at).mul(o0); // fma(dO, v, 0) is the rounded product
            d = FloatVector.fromArray(S, vt, r1 + at).fma(o1, d);
            d = FloatVector.fromArray(S, vt, r2 + at).fma(o2, d);
            d = FloatVector.fromArray(S, vt, r3 + at).fma(o3, d);
            d = FloatVector.fromArray(S, vt, r4 + at).fma(o4, d);
            d = FloatVector.fromArray(S, vt, r5 + at).fma(o5, d);
            d = FloatVector.fromArray(S, vt, r6 + at).fma(o6, d);
            d = FloatVector.fromArray(S, vt, r7 + at).fma(o7, d);
            d.intoArray(dp, at);
            vs = pv.fma(d, vs);
            pv.fma(o0, FloatVector.fromArray(S, dvt, r0 + at)).intoArray(dvt, r0 + at);
            pv.fma(o1, FloatVector.fromArray(S, dvt, r1 + at)).intoArray(dvt, r1 + at);
            pv.fma(o2, FloatVector.fromArray(S, dvt, r2 + at)).intoArray(dvt, r2 + at);
            pv.fma(o3, FloatVector.fromArray(S, dvt, r3 + at)).intoArray(dvt, r3 + at);
            pv.fma(o4, FloatVector.fromArray(S, dvt, r4 + at)).intoArray(dvt, r4 + at);
            pv.fma(o5, FloatVector.fromArray(S, dvt, r5 + at)).intoArray(dvt, r5 + at);
            pv.fma(o6, FloatVector.fromArray(S, dvt, r6 + at)).intoArray(dvt, r6 + at);
            pv.fma(o7, FloatVector.fromArray(S, dvt, r7 + at)).intoArray(dvt, r7 + at);
        }
        float sum = vs.reduceLanes(VectorOperators.ADD);
        // dS = p ⊙ (dp − Σ)·scale;  dq += dS·k (in lanes);  dK += q_e·dS
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int j = 0; j < n; j += L) {
            int at = Math.min(j, n - L);
            FloatVector ds = FloatVector.fromArray(S, p, pOff + at).mul(FloatVector.fromArray(S, dp, at).sub(sum)).mul(scale);
            if (at < j) ds = ds.blend(0f, IOTA.compare(VectorOperators.LT, (float) (j - at)));
            a0 = FloatVector.fromArray(S, kt, r0 + at).fma(ds, a0);
            a1 = FloatVector.fromArray(S, kt, r1 + at).fma(ds, a1);
            a2 = FloatVector.fromArray(S, kt, r2 + at).fma(ds, a2);
            a3 = FloatVector.fromArray(S, kt, r3 + at).fma(ds, a3);
            a4 = FloatVector.fromArray(S, kt, r4 + at).fma(ds, a4);
            a5 = FloatVector.fromArray(S, kt, r5 + at).fma(ds, a5);
            a6 = FloatVector.fromArray(S, kt, r6 + at).fma(ds, a6);
            a7 = FloatVector.fromArray(S, kt, r7 + at).fma(ds, a7);
            ds.fma(c0, FloatVector.fromArray(S, dkt, r0 + at)).intoArray(dkt, r0 + at);
            ds.fma(c1, FloatVector.fromArray(S, dkt, r1 + at)).intoArray(dkt, r1 + at);
            ds.fma(c2, FloatVector.fromArray(S, dkt, r2 + at)).intoArray(dkt, r2 + at);
            ds.fma(c3, FloatVector.fromArray(S, dkt, r3 + at)).intoArray(dkt, r3 + at);
            ds.fma(c4, FloatVector.fromArray(S, dkt, r4 + at)).intoArray(dkt, r4 + at);
            ds.fma(c5, FloatVector.fromArray(S, dkt, r5 + at)).intoArray(dkt, r5 + at);
            ds.fma(c6, FloatVector.fromArray(S, dkt, r6 + at)).intoArray(dkt, r6 + at);
            ds.fma(c7, FloatVector.fromArray(S, dkt, r7 + at)).intoArray(dkt, r7 + at);
        }
        dq[dqOff + 0] += a0.reduceLanes(VectorOperators.ADD);
        dq[dqOff + 1] += a1.reduceLanes(VectorOperators.ADD);
        dq[dqOff + 2] += a2.reduceLanes(VectorOperators.ADD);
        dq[dqOff + 3] += a3.reduceLanes(VectorOperators.ADD);
        dq[dqOff + 4] += a4.reduceLanes(VectorOperators.ADD);
        dq[dqOff + 5] += a5.reduceLanes(VectorOperators.ADD);
        dq[dqOff + 6] += a6.reduceLanes(VectorOperators.ADD);
        dq[dqOff + 7] += a7.reduceLanes(VectorOperators.ADD);
        return sum;
    }

    /**
     * The exponentials in float lanes (the scalar form spent one double Math.exp per vocabulary entry: scoring's KL over
     * 512 entries was a tenth of the score stage), each lane's terms summed in float, the lanes in double; the tail as
     * the default.
     */
    @Override
    public double klSum(float[] p, int pOff, float lp, float[] q, int qOff, float lq, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector logp = FloatVector.fromArray(S, p, pOff + i).sub(lp), logq = FloatVector.fromArray(S, q, qOff + i).sub(lq);
            acc = logp.lanewise(VectorOperators.EXP).fma(logp.sub(logq), acc);
        }
        double s = 0;
        for (int l = 0; l < L; l++) s += acc.lane(l);
        for (; i < n; i++) {
            double logp = p[pOff + i] - lp;
            double logq = q[qOff + i] - lq;
            s += Math.exp(logp) * (logp - logq);
        }
        return s;
    }

    /**
     * A head of 8 in two passes over the keys instead of five: the scores and their running max, then each exponent
     * summed and multiplied into the 8 outputs while in a register (the other passes re-read the row: zeroing it,
     * its max, the exponents, the products). Scores, max and exponents as the default's; the outputs' lane sums as its
     * one-row GEMM takes them (lanes, then the tail). Other heads: the default.
     */
    @Override
    public float attend(float[] q, int qOff, int E, float[] kt, float[] vt, int off, int stride, int n, float[] scores, int sOff,
                        float[] o, int oOff) {
        if (E != 8 || n < L) return Kernels.super.attend(q, qOff, E, kt, vt, off, stride, n, scores, sOff, o, oOff);
        float q0 = q[qOff];
        FloatVector b1 = FloatVector.broadcast(S, q[qOff + 1]), b2 = FloatVector.broadcast(S, q[qOff + 2]),
                b3 = FloatVector.broadcast(S, q[qOff + 3]), b4 = FloatVector.broadcast(S, q[qOff + 4]),
                b5 = FloatVector.broadcast(S, q[qOff + 5]), b6 = FloatVector.broadcast(S, q[qOff + 6]),
                b7 = FloatVector.broadcast(S, q[qOff + 7]);
        int r0 = off, r1 = off + stride, r2 = off + 2 * stride, r3 = off + 3 * stride, r4 = off + 4 * stride,
                r5 = off + 5 * stride, r6 = off + 6 * stride, r7 = off + 7 * stride;
        // Whole vectors of keys, the last one ending at n: when n is not a multiple of L it overlaps the one before,
        // whose scores it computes again (equal; the max is the same) and whose exponents it masks off. No scalar tail.
        FloatVector vm = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int j = 0; j < n; j += L) {
            int at = Math.min(j, n - L);
            FloatVector s = FloatVector.fromArray(S, kt, r0 + at).mul(q0); // fma(q, k, 0) is the rounded product
            s = FloatVector.fromArray(S, kt, r1 + at).fma(b1, s);
            s = FloatVector.fromArray(S, kt, r2 + at).fma(b2, s);
            s = FloatVector.fromArray(S, kt, r3 + at).fma(b3, s);
            s = FloatVector.fromArray(S, kt, r4 + at).fma(b4, s);
            s = FloatVector.fromArray(S, kt, r5 + at).fma(b5, s);
            s = FloatVector.fromArray(S, kt, r6 + at).fma(b6, s);
            s = FloatVector.fromArray(S, kt, r7 + at).fma(b7, s);
            s.intoArray(scores, sOff + at);
            vm = vm.max(s);
        }
        float mx = vm.reduceLanes(VectorOperators.MAX);
        // The exponents in a pass of their own: the exponential is a call that clobbers the vector registers, which
        // inside the products' loop spilled and reloaded the 8 sums at every vector (340 vs 270 ns for 256 keys).
        FloatVector vs = FloatVector.zero(S);
        for (int i = 0; i < n; i += L) {
            int at = Math.min(i, n - L);
            FloatVector x = FloatVector.fromArray(S, scores, sOff + at), e = x.sub(mx).lanewise(VectorOperators.EXP);
            if (at < i) { // lanes below i − at hold exponents already: kept, and not counted again
                VectorMask<Float> done = IOTA.compare(VectorOperators.LT, (float) (i - at));
                vs = vs.add(e.blend(0f, done));
                e = e.blend(x, done);
            } else {
                vs = vs.add(e);
            }
            e.intoArray(scores, sOff + at);
        }
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int i = 0; i < n; i += L) {
            int at = Math.min(i, n - L);
            FloatVector e = FloatVector.fromArray(S, scores, sOff + at);
            if (at < i) e = e.blend(0f, IOTA.compare(VectorOperators.LT, (float) (i - at)));
            a0 = FloatVector.fromArray(S, vt, r0 + at).fma(e, a0);
            a1 = FloatVector.fromArray(S, vt, r1 + at).fma(e, a1);
            a2 = FloatVector.fromArray(S, vt, r2 + at).fma(e, a2);
            a3 = FloatVector.fromArray(S, vt, r3 + at).fma(e, a3);
            a4 = FloatVector.fromArray(S, vt, r4 + at).fma(e, a4);
            a5 = FloatVector.fromArray(S, vt, r5 + at).fma(e, a5);
            a6 = FloatVector.fromArray(S, vt, r6 + at).fma(e, a6);
            a7 = FloatVector.fromArray(S, vt, r7 + at).fma(e, a7);
        }
        o[oOff] = a0.reduceLanes(VectorOperators.ADD);
        o[oOff + 1] = a1.reduceLanes(VectorOperators.ADD);
        o[oOff + 2] = a2.reduceLanes(VectorOperators.ADD);
        o[oOff + 3] = a3.reduceLanes(VectorOperators.ADD);
        o[oOff + 4] = a4.reduceLanes(VectorOperators.ADD);
        o[oOff + 5] = a5.reduceLanes(VectorOperators.ADD);
        o[oOff + 6] = a6.reduceLanes(VectorOperators.ADD);
        o[oOff + 7] = a7.reduceLanes(VectorOperators.ADD);
        return vs.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public float expSum(float[] x, int xOff, int n, float mul, float shift) {
        int i = 0;
        FloatVector vs = FloatVector.zero(S);
        for (; i + L <= n; i += L) {
            FloatVector e = FloatVector.fromArray(S, x, xOff + i).mul(mul).sub(shift).lanewise(VectorOperators.EXP);
            e.intoArray(x, xOff + i);
            vs = vs.add(e);
        }
        float sum = vs.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[xOff + i] * mul - shift);
            x[xOff + i] = e;
            sum += e;
        }
        return sum;
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

    /** {@link Kernels#swigluForward} with σ from the vector exponential; the scalar form for the remainder. */
    @Override
    public void swigluForward(float[] g, float[] a, float[] b, int off, int n) {
        int i = off, end = off + n;
        for (; i + L <= end; i += L) {
            FloatVector va = FloatVector.fromArray(S, a, i);
            FloatVector s = FloatVector.broadcast(S, 1f).div(va.neg().lanewise(VectorOperators.EXP).add(1f));
            va.mul(s).mul(FloatVector.fromArray(S, b, i)).intoArray(g, i);
        }
        Kernels.super.swigluForward(g, a, b, i, end - i);
    }

    /** {@link Kernels#swigluBackward} with σ from the vector exponential; the scalar form for the remainder. */
    @Override
    public void swigluBackward(float[] da, float[] db, float[] dg, float[] a, float[] b, int off, int n) {
        int i = off, end = off + n;
        for (; i + L <= end; i += L) {
            FloatVector va = FloatVector.fromArray(S, a, i), vdg = FloatVector.fromArray(S, dg, i);
            FloatVector s = va.neg().lanewise(VectorOperators.EXP).add(1f);
            s = FloatVector.broadcast(S, 1f).div(s);
            vdg.mul(FloatVector.fromArray(S, b, i)).mul(s).mul(va.mul(s.neg().add(1f)).add(1f)).intoArray(da, i);
            vdg.mul(va).mul(s).intoArray(db, i);
        }
        Kernels.super.swigluBackward(da, db, dg, a, b, i, end - i);
    }

    // The BF16 loads below are written out in each loop, not through a helper returning the widened vector: a helper of
    // their size (38 bytes of bytecode, past C2's MaxInlineSize of 35) is inlined only if its call site is hot when the
    // caller compiles, and when it was not (one run in three or four, by the compiler's timing), every load boxed its
    // vector: the 110M BF16 model decoded at 25-28 tok/s on two threads instead of 80-90, both cores busy (measured, and
    // gone with the helper forced inline).
    @Override
    public float dotBf16(float[] x, int xOff, short[] w, int wOff, int n) {
        int i = 0;
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        for (int bound = n - 2 * L; i <= bound; i += 2 * L) {
            IntVector a = (IntVector) ShortVector.fromArray(SH, w, wOff + i).convertShape(VectorOperators.S2I, SI, 0);
            IntVector b = (IntVector) ShortVector.fromArray(SH, w, wOff + i + L).convertShape(VectorOperators.S2I, SI, 0);
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(a.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s0);
            s1 = FloatVector.fromArray(S, x, xOff + i + L).fma(b.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s1);
        }
        for (; i + L <= n; i += L) {
            IntVector a = (IntVector) ShortVector.fromArray(SH, w, wOff + i).convertShape(VectorOperators.S2I, SI, 0);
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(a.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s0);
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[xOff + i] * Float.intBitsToFloat(w[wOff + i] << 16);
        return s;
    }

    @Override
    public float dotBf16(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, int n) {
        int i = 0;
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        for (int bound = n - 2 * L; i <= bound; i += 2 * L) {
            IntVector a = (IntVector) ShortVector.fromMemorySegment(SH, w, wOff + 2L * i, LE).convertShape(VectorOperators.S2I, SI, 0);
            IntVector b = (IntVector) ShortVector.fromMemorySegment(SH, w, wOff + 2L * (i + L), LE).convertShape(VectorOperators.S2I, SI, 0);
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(a.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s0);
            s1 = FloatVector.fromArray(S, x, xOff + i + L).fma(b.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s1);
        }
        for (; i + L <= n; i += L) {
            IntVector a = (IntVector) ShortVector.fromMemorySegment(SH, w, wOff + 2L * i, LE).convertShape(VectorOperators.S2I, SI, 0);
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(a.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s0);
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[xOff + i] * Float.intBitsToFloat(w.get(BF16_LE, wOff + 2L * i) << 16);
        return s;
    }

    @Override
    public void dotBf16Pair(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wA, long wB, int n, float[] res) {
        // dotBf16 of two rows side by side, each with its sums in its order; x's vectors loaded once for both
        int i = 0;
        FloatVector s0 = FloatVector.zero(S), s1 = s0, r0 = s0, r1 = s0;
        for (int bound = n - 2 * L; i <= bound; i += 2 * L) {
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + i), x1 = FloatVector.fromArray(S, x, xOff + i + L);
            IntVector a = (IntVector) ShortVector.fromMemorySegment(SH, w, wA + 2L * i, LE).convertShape(VectorOperators.S2I, SI, 0);
            IntVector b = (IntVector) ShortVector.fromMemorySegment(SH, w, wA + 2L * (i + L), LE).convertShape(VectorOperators.S2I, SI, 0);
            IntVector c = (IntVector) ShortVector.fromMemorySegment(SH, w, wB + 2L * i, LE).convertShape(VectorOperators.S2I, SI, 0);
            IntVector d = (IntVector) ShortVector.fromMemorySegment(SH, w, wB + 2L * (i + L), LE).convertShape(VectorOperators.S2I, SI, 0);
            s0 = x0.fma(a.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s0);
            s1 = x1.fma(b.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s1);
            r0 = x0.fma(c.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), r0);
            r1 = x1.fma(d.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), r1);
        }
        if (i < n) { // rows not a multiple of 2L: the tails as dotBf16 takes them
            res[0] = dotBf16Tail(x, xOff, w, wA, n, i, s0, s1);
            res[1] = dotBf16Tail(x, xOff, w, wB, n, i, r0, r1);
            return;
        }
        res[0] = s0.add(s1).reduceLanes(VectorOperators.ADD);
        res[1] = r0.add(r1).reduceLanes(VectorOperators.ADD);
    }

    /** dotBf16's end from element i on, given its two sums so far (rows not a multiple of 2L only). */
    private static float dotBf16Tail(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, int n, int i, FloatVector s0, FloatVector s1) {
        for (; i + L <= n; i += L) {
            IntVector a = (IntVector) ShortVector.fromMemorySegment(SH, w, wOff + 2L * i, LE).convertShape(VectorOperators.S2I, SI, 0);
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(a.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), s0);
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[xOff + i] * Float.intBitsToFloat(w.get(BF16_LE, wOff + 2L * i) << 16);
        return s;
    }

    @Override
    public float dotF32(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, int n) {
        int i = 0;
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S), s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
        for (int bound = n - 4 * L; i <= bound; i += 4 * L) {
            s0 = FloatVector.fromArray(S, x, xOff + i).fma(FloatVector.fromMemorySegment(S, w, wOff + 4L * i, LE), s0);
            s1 = FloatVector.fromArray(S, x, xOff + i + L).fma(FloatVector.fromMemorySegment(S, w, wOff + 4L * (i + L), LE), s1);
            s2 = FloatVector.fromArray(S, x, xOff + i + 2 * L).fma(FloatVector.fromMemorySegment(S, w, wOff + 4L * (i + 2 * L), LE), s2);
            s3 = FloatVector.fromArray(S, x, xOff + i + 3 * L).fma(FloatVector.fromMemorySegment(S, w, wOff + 4L * (i + 3 * L), LE), s3);
        }
        for (; i + L <= n; i += L) s0 = FloatVector.fromArray(S, x, xOff + i).fma(FloatVector.fromMemorySegment(S, w, wOff + 4L * i, LE), s0);
        float s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[xOff + i] * w.get(F32_LE, wOff + 4L * i);
        return s;
    }

    /** Four rows of {@link #dotF32} side by side, each with its arithmetic (as {@link #dot4} for heap rows). */
    @Override
    public void dotF32Rows4(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, long rowBytes, int n,
                            float[] out, int outOff, boolean accumulate) {
        rows4(x, xOff, w, wOff, wOff + rowBytes, wOff + 2 * rowBytes, wOff + 3 * rowBytes, n, out, outOff, outOff + 2, accumulate);
    }

    @Override
    public void dotF32Rows2x2(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wA, long wB, long rowBytes, int n,
                              float[] out, int outA, int outB, boolean accumulate) {
        rows4(x, xOff, w, wA, wA + rowBytes, wB, wB + rowBytes, n, out, outA, outB, accumulate);
    }

    /** Rows at bytes wOff, w1 (into out[o01], out[o01 + 1]) and w2, w3 (into out[o23], out[o23 + 1]), each as dotF32 takes it. */
    private static void rows4(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, long w1, long w2, long w3, int n,
                              float[] out, int o01, int o23, boolean accumulate) {
        int i = 0;
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, d0 = a0, d1 = a0, d2 = a0, d3 = a0;
        for (int bound = n - 4 * L; i <= bound; i += 4 * L) {
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + i), x1 = FloatVector.fromArray(S, x, xOff + i + L);
            FloatVector x2 = FloatVector.fromArray(S, x, xOff + i + 2 * L), x3 = FloatVector.fromArray(S, x, xOff + i + 3 * L);
            long o = 4L * i, l = 4L * L;
            a0 = x0.fma(FloatVector.fromMemorySegment(S, w, wOff + o, LE), a0);
            a1 = x1.fma(FloatVector.fromMemorySegment(S, w, wOff + o + l, LE), a1);
            a2 = x2.fma(FloatVector.fromMemorySegment(S, w, wOff + o + 2 * l, LE), a2);
            a3 = x3.fma(FloatVector.fromMemorySegment(S, w, wOff + o + 3 * l, LE), a3);
            b0 = x0.fma(FloatVector.fromMemorySegment(S, w, w1 + o, LE), b0);
            b1 = x1.fma(FloatVector.fromMemorySegment(S, w, w1 + o + l, LE), b1);
            b2 = x2.fma(FloatVector.fromMemorySegment(S, w, w1 + o + 2 * l, LE), b2);
            b3 = x3.fma(FloatVector.fromMemorySegment(S, w, w1 + o + 3 * l, LE), b3);
            c0 = x0.fma(FloatVector.fromMemorySegment(S, w, w2 + o, LE), c0);
            c1 = x1.fma(FloatVector.fromMemorySegment(S, w, w2 + o + l, LE), c1);
            c2 = x2.fma(FloatVector.fromMemorySegment(S, w, w2 + o + 2 * l, LE), c2);
            c3 = x3.fma(FloatVector.fromMemorySegment(S, w, w2 + o + 3 * l, LE), c3);
            d0 = x0.fma(FloatVector.fromMemorySegment(S, w, w3 + o, LE), d0);
            d1 = x1.fma(FloatVector.fromMemorySegment(S, w, w3 + o + l, LE), d1);
            d2 = x2.fma(FloatVector.fromMemorySegment(S, w, w3 + o + 2 * l, LE), d2);
            d3 = x3.fma(FloatVector.fromMemorySegment(S, w, w3 + o + 3 * l, LE), d3);
        }
        for (; i + L <= n; i += L) {
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + i);
            long o = 4L * i;
            a0 = x0.fma(FloatVector.fromMemorySegment(S, w, wOff + o, LE), a0);
            b0 = x0.fma(FloatVector.fromMemorySegment(S, w, w1 + o, LE), b0);
            c0 = x0.fma(FloatVector.fromMemorySegment(S, w, w2 + o, LE), c0);
            d0 = x0.fma(FloatVector.fromMemorySegment(S, w, w3 + o, LE), d0);
        }
        float sa = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD), sb = b0.add(b1).add(b2.add(b3)).reduceLanes(VectorOperators.ADD);
        float sc = c0.add(c1).add(c2.add(c3)).reduceLanes(VectorOperators.ADD), sd = d0.add(d1).add(d2.add(d3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float xi = x[xOff + i];
            sa += xi * w.get(F32_LE, wOff + 4L * i);
            sb += xi * w.get(F32_LE, w1 + 4L * i);
            sc += xi * w.get(F32_LE, w2 + 4L * i);
            sd += xi * w.get(F32_LE, w3 + 4L * i);
        }
        out[o01] = accumulate ? out[o01] + sa : sa;
        out[o01 + 1] = accumulate ? out[o01 + 1] + sb : sb;
        out[o23] = accumulate ? out[o23] + sc : sc;
        out[o23 + 1] = accumulate ? out[o23 + 1] + sd : sd;
    }

    @Override
    public void widenBf16(short[] w, int wOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) { // sign-extended to int lanes, shifted into the top half (written out: see dotBf16)
            IntVector a = (IntVector) ShortVector.fromArray(SH, w, wOff + i).convertShape(VectorOperators.S2I, SI, 0);
            a.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
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
            case Q4_0 -> dotQ4(x, xOff, w, wOff, n);
            case MXFP4 -> dotMxfp4(x, xOff, w, wOff, n);
            case FP8 -> dotFp8(x, xOff, w, wOff, n);
            case NVFP4 -> dotNvfp4(x, xOff, w, wOff, n);
            default -> Kernels.super.dotQuant(t, x, xOff, w, wOff, n);
        };
    }

    /**
     * NVFP4: per 16-value block an E4M3 scale and 8 bytes of E2M1 nibbles (byte j: elements 2j low, 2j+1 high),
     * looked up in the doubled E2M1 table MXFP4 shares with the block scale halved; the row's FP32 tensor scale
     * once at the end. Two blocks at a time into two sums.
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

    /**
     * Σ x·code over one NVFP4 block at w[o] (its scale byte; the 8 nibble bytes follow), unscaled: each byte widened
     * to a 16-bit lane whose low byte keeps the low nibble and whose high byte gets the high one, which puts the
     * 16 nibbles in element order as bytes; then the table lookup (a byte shuffle) and the widening to floats.
     */
    private static FloatVector nvfp4Block(float[] x, int xo, byte[] w, int o) {
        ShortVector s = (ShortVector) ByteVector.fromArray(ByteVector.SPECIES_64, w, o + 1).convertShape(VectorOperators.B2S, ShortVector.SPECIES_128, 0);
        ByteVector nibbles = s.and((short) 0x0f).or(s.lanewise(VectorOperators.LSHL, 4).and((short) 0x0f00)).reinterpretAsBytes();
        ByteVector codes = nibbles.selectFrom(MXFP4_TABLE);
        FloatVector acc = FloatVector.zero(S);
        for (int p = 0; p < 16 / L; p++) {
            acc = FloatVector.fromArray(S, x, xo + p * L).fma((FloatVector) codes.convertShape(VectorOperators.B2F, S, p), acc);
        }
        return acc;
    }

    /**
     * Codes + bias (0..255 in int lanes) as floats minus the bias: each ORed into the mantissa of 2^23, then
     * 2^23 + bias subtracted — exact, and for Q4_0 cheaper than an int-to-float conversion (measured).
     */
    private static FloatVector biased(IntVector codes, int bias) {
        return codes.or(TWO_POW_23_BITS).reinterpretAsFloats().sub(0x1p23f + bias);
    }

    private static final float TWO_POW_120 = 0x1p120f;

    /**
     * E4M3 codes to FP32 in registers: the code's 7 magnitude bits shifted under FP32's exponent (its 4
     * exponent bits the low end of FP32's, its 3 mantissa bits the top of FP32's) are a float 2^120 times too
     * small, subnormals included; the sign bit moves to FP32's.
     */
    private static FloatVector e4m3(byte[] w, int o) {
        IntVector i = (IntVector) ByteVector.fromArray(SB, w, o).convertShape(VectorOperators.B2I, SI, 0);
        IntVector bits = i.lanewise(VectorOperators.LSHL, 20).and(0x07f00000).or(i.and(0x80000000)); // i is sign-extended
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
        // Each block's sum written out (its codes through q8Codes, small enough to inline always), not through a helper
        // returning it: that one (106 bytes) forced out of line cost the 110M Q8_0 model 56 -> 26.5 tok/s (see dotBf16).
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        int blocks = n / 32, b = 0;
        for (; b + 4 <= blocks; b += 4) {
            int o = wOff + 34 * b, xo = xOff + 32 * b;
            FloatVector t0 = FloatVector.fromArray(S, x, xo).mul(q8Codes(w, o + 2));
            FloatVector t1 = FloatVector.fromArray(S, x, xo + 32).mul(q8Codes(w, o + 36));
            FloatVector t2 = FloatVector.fromArray(S, x, xo + 64).mul(q8Codes(w, o + 70));
            FloatVector t3 = FloatVector.fromArray(S, x, xo + 96).mul(q8Codes(w, o + 104));
            for (int j = L; j < 32; j += L) {
                t0 = FloatVector.fromArray(S, x, xo + j).fma(q8Codes(w, o + 2 + j), t0);
                t1 = FloatVector.fromArray(S, x, xo + 32 + j).fma(q8Codes(w, o + 36 + j), t1);
                t2 = FloatVector.fromArray(S, x, xo + 64 + j).fma(q8Codes(w, o + 70 + j), t2);
                t3 = FloatVector.fromArray(S, x, xo + 96 + j).fma(q8Codes(w, o + 104 + j), t3);
            }
            s0 = t0.fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o))), s0);
            s1 = t1.fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o + 34))), s1);
            s2 = t2.fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o + 68))), s2);
            s3 = t3.fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o + 102))), s3);
        }
        for (; b < blocks; b++) {
            int o = wOff + 34 * b, xo = xOff + 32 * b;
            FloatVector t0 = FloatVector.fromArray(S, x, xo).mul(q8Codes(w, o + 2));
            for (int j = L; j < 32; j += L) t0 = FloatVector.fromArray(S, x, xo + j).fma(q8Codes(w, o + 2 + j), t0);
            s0 = t0.fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o))), s0);
        }
        return s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
    }

    /** L int8 codes at w[o..] as floats (a few bytes of bytecode: C2 inlines it wherever it is called). */
    private static FloatVector q8Codes(byte[] w, int o) {
        return (FloatVector) ByteVector.fromArray(SB, w, o).convertShape(VectorOperators.B2F, S, 0);
    }

    /**
     * Q4_0 and MXFP4: 16 bytes of nibbles, element j low and j+16 high; Q4_0's codes are nibble − 8, MXFP4's
     * looked up in llama.cpp's doubled E2M1 table with the halved E8M0 scale. Two blocks at a time into two
     * sums. One loop per format, not one with a branch: a model holding both would otherwise have the loop
     * recompiled with both block bodies, too large for C2 to inline (measured 4x slower).
     */
    private static float dotQ4(float[] x, int xOff, byte[] w, int wOff, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int blocks = n / 32, b = 0;
        for (; b + 2 <= blocks; b += 2) {
            int o = wOff + 18 * b, xo = xOff + 32 * b;
            s0 = q4Block(x, xo, w, o).fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o))), s0);
            s1 = q4Block(x, xo + 32, w, o + 18).fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o + 18))), s1);
        }
        for (; b < blocks; b++) {
            int o = wOff + 18 * b;
            s0 = q4Block(x, xOff + 32 * b, w, o).fma(FloatVector.broadcast(S, Float.float16ToFloat(Quant.getShort(w, o))), s0);
        }
        return s0.add(s1).reduceLanes(VectorOperators.ADD);
    }

    /**
     * 2L rows a pass (all 32 with 512-bit vectors): per block, each of its 16 byte columns widened to 16-bit lanes, its
     * two nibbles times their input codes added up in those lanes (wrapping: with Q4_0's offset of 8 taken out at the
     * end the sum fits in 16 bits, |Σ| <= 32 · 8 · 127), then made floats and scaled as the scalar form does.
     */
    @Override
    public void dotQ4Rows32(short[] xq, int xqOff, float[] dx, short[] x8, int dOff, MemorySegment rep, long groupOff,
                            int blocks, float[] out, int outOff, boolean accumulate) {
        if (!QUANT_VECTORS) {
            Kernels.super.dotQ4Rows32(xq, xqOff, dx, x8, dOff, rep, groupOff, blocks, out, outOff, accumulate);
            return;
        }
        // Two streams: blocks [0, half) into a, [half, blocks) into c, a block of each a turn, added at the end
        // (Rows32.scalarProduct's order). One stream ran at 6.9 GB/s out of cache where two run at 9.5-10 (one
        // thread, a 151 MB matrix): each sequential stream is as fast as the prefetcher's lead on it. A 1.1B model
        // in Q4_0 (Q8_0 embeddings), one thread: 10.4 -> 14.3 tok/s; the 110M one, which this machine's L3 holds, as
        // before. The block's body is written out twice: as one body in a loop over the two streams, choosing the
        // sums by a branch, the 1.1B model decoded 5% slower (12 of 12 turns, in one JVM).
        int half = blocks / 2;
        for (int h = 0; h < Rows32.ROWS; h += 2 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, c0 = a0, c1 = a0;
            for (int t = 0; t < blocks - half; t++) {
                if (t < half) {
                    int b = t;
                    long base = groupOff + (long) b * Rows32.Q4_BLOCK_BYTES, codes = base + 4L * Rows32.ROWS + h;
                    int xb = xqOff + 32 * b;
                    ShortVector acc = ShortVector.zero(SS);
                    for (int i = 0; i < 16; i++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(SBH, rep, codes + (long) i * Rows32.ROWS, LE)
                                .convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                        acc = acc.add(v.and((short) 15).mul(xq[xb + i])).add(v.lanewise(VectorOperators.LSHR, 4).mul(xq[xb + i + 16]));
                    }
                    acc = acc.sub(x8[dOff + b]);
                    float d = dx[dOff + b];
                    IntVector i0 = (IntVector) acc.convertShape(VectorOperators.S2I, SI, 0), i1 = (IntVector) acc.convertShape(VectorOperators.S2I, SI, 1);
                    a0 = ((FloatVector) i0.convertShape(VectorOperators.I2F, S, 0)).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * h, LE)).fma(FloatVector.broadcast(S, d), a0);
                    a1 = ((FloatVector) i1.convertShape(VectorOperators.I2F, S, 0)).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * (h + L), LE)).fma(FloatVector.broadcast(S, d), a1);
                }
                // a + float(sums) · (the rows' scales) · d, written out (not a helper taking vectors: see dotBf16;
                // forced out of line, that helper cost 94 -> 75 tok/s on the 110M Q4_0+e model)
                int b = half + t;
                long base = groupOff + (long) b * Rows32.Q4_BLOCK_BYTES, codes = base + 4L * Rows32.ROWS + h;
                int xb = xqOff + 32 * b;
                ShortVector acc = ShortVector.zero(SS);
                for (int i = 0; i < 16; i++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(SBH, rep, codes + (long) i * Rows32.ROWS, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                    acc = acc.add(v.and((short) 15).mul(xq[xb + i])).add(v.lanewise(VectorOperators.LSHR, 4).mul(xq[xb + i + 16]));
                }
                acc = acc.sub(x8[dOff + b]);
                float d = dx[dOff + b];
                IntVector i0 = (IntVector) acc.convertShape(VectorOperators.S2I, SI, 0), i1 = (IntVector) acc.convertShape(VectorOperators.S2I, SI, 1);
                c0 = ((FloatVector) i0.convertShape(VectorOperators.I2F, S, 0)).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * h, LE)).fma(FloatVector.broadcast(S, d), c0);
                c1 = ((FloatVector) i1.convertShape(VectorOperators.I2F, S, 0)).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * (h + L), LE)).fma(FloatVector.broadcast(S, d), c1);
            }
            // Written out, not a helper taking vectors: C2 reaches this call at the end of a large method, past its
            // inlining cutoff (NodeCountInliningCutoff), and called out of line the helper boxed both sums on every
            // call (a JFR allocation profile of decode, 2026-12-05: ~0.3 GB a second).
            int o = outOff + h;
            FloatVector r0 = a0.add(c0), r1 = a1.add(c1);
            if (accumulate) {
                r0 = r0.add(FloatVector.fromArray(S, out, o));
                r1 = r1.add(FloatVector.fromArray(S, out, o + L));
            }
            r0.intoArray(out, o);
            r1.intoArray(out, o + L);
        }
    }

    /**
     * 2L rows a pass, as {@link #dotQ4Rows32}: per block, each of its 32 byte columns widened to floats and times the
     * input's code, the even and odd columns into two sums (each exact: a block's partial sums are integers below 2^24),
     * then scaled by the rows' scales and the input's. Where the row-by-row float dot spends a scale, its broadcast and a
     * horizontal sum per row and block, this spends one vector multiply per block for 2L rows: one thread, 768 x 768
     * matrices in cache 12.9 -> 21.4 GB/s, 96 of them cycled through from L3 8.5-9.3 -> 9.7-11.0, 80 of 5632 x 2048
     * (980 MB) 8.5 -> 10.5. Two streams, as there. (Two whole groups side by side instead, each its blocks in order, read
     * faster in a bench of one matrix shape, but with the 4-bit kernels so written decoded the 1.1B Q4_0 model 7% slower,
     * 0 of 8 turns in one JVM.)
     */
    @Override
    public void dotQ8Rows32(float[] xq, int xqOff, float[] dx, int dOff, MemorySegment rep, long groupOff,
                            int blocks, float[] out, int outOff, boolean accumulate) {
        if (!QUANT_VECTORS) {
            Kernels.super.dotQ8Rows32(xq, xqOff, dx, dOff, rep, groupOff, blocks, out, outOff, accumulate);
            return;
        }
        int half = blocks / 2;
        for (int h = 0; h < Rows32.ROWS; h += 2 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, c0 = a0, c1 = a0;
            for (int t = 0; t < blocks - half; t++) {
                if (t < half) {
                    int b = t;
                    long base = groupOff + (long) b * Rows32.Q8_BLOCK_BYTES, codes = base + 4L * Rows32.ROWS + h;
                    int xb = xqOff + 32 * b;
                    FloatVector p0 = FloatVector.zero(S), p1 = p0, q0 = p0, q1 = p0;
                    for (int i = 0; i < 32; i += 2) {
                        FloatVector u = FloatVector.broadcast(S, xq[xb + i]), v = FloatVector.broadcast(S, xq[xb + i + 1]);
                        long c = codes + (long) i * Rows32.ROWS;
                        p0 = q8Codes(rep, c).fma(u, p0);
                        p1 = q8Codes(rep, c + L).fma(u, p1);
                        q0 = q8Codes(rep, c + Rows32.ROWS).fma(v, q0);
                        q1 = q8Codes(rep, c + Rows32.ROWS + L).fma(v, q1);
                    }
                    FloatVector d = FloatVector.broadcast(S, dx[dOff + b]);
                    a0 = p0.add(q0).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * h, LE)).fma(d, a0);
                    a1 = p1.add(q1).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * (h + L), LE)).fma(d, a1);
                }
                int b = half + t;
                long base = groupOff + (long) b * Rows32.Q8_BLOCK_BYTES, codes = base + 4L * Rows32.ROWS + h;
                int xb = xqOff + 32 * b;
                FloatVector p0 = FloatVector.zero(S), p1 = p0, q0 = p0, q1 = p0;
                for (int i = 0; i < 32; i += 2) {
                    FloatVector u = FloatVector.broadcast(S, xq[xb + i]), v = FloatVector.broadcast(S, xq[xb + i + 1]);
                    long c = codes + (long) i * Rows32.ROWS;
                    p0 = q8Codes(rep, c).fma(u, p0);
                    p1 = q8Codes(rep, c + L).fma(u, p1);
                    q0 = q8Codes(rep, c + Rows32.ROWS).fma(v, q0);
                    q1 = q8Codes(rep, c + Rows32.ROWS + L).fma(v, q1);
                }
                FloatVector d = FloatVector.broadcast(S, dx[dOff + b]);
                c0 = p0.add(q0).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * h, LE)).fma(d, c0);
                c1 = p1.add(q1).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * (h + L), LE)).fma(d, c1);
            }
            // written out, as in dotQ4Rows32
            int o = outOff + h;
            FloatVector r0 = a0.add(c0), r1 = a1.add(c1);
            if (accumulate) {
                r0 = r0.add(FloatVector.fromArray(S, out, o));
                r1 = r1.add(FloatVector.fromArray(S, out, o + L));
            }
            r0.intoArray(out, o);
            r1.intoArray(out, o + L);
        }
    }

    /** L int8 codes at rep[o..] as floats. */
    private static FloatVector q8Codes(MemorySegment rep, long o) {
        return (FloatVector) ByteVector.fromMemorySegment(SB, rep, o, LE).convertShape(VectorOperators.B2F, S, 0);
    }

    /** llama.cpp's doubled E2M1 values in 16-bit lanes (repeated across a 512-bit vector), for {@link #dotMxfp4Rows32}'s lookups. */
    private static final ShortVector MXFP4_SHORTS = ShortVector.fromArray(SS, mxfp4Shorts(SS.length()), 0);

    private static short[] mxfp4Shorts(int n) {
        short[] t = new short[n];
        for (int i = 0; i < n; i++) t[i] = Quant.MXFP4_VALUES[i % 16];
        return t;
    }

    /**
     * 2L rows a pass, as {@link #dotQ4Rows32}, each nibble looked up in the doubled E2M1 table (one permute of 16-bit
     * lanes); the low and high nibbles' products add up in two accumulators, each within 16 bits (16 · 12 · 127), then
     * are widened and added. Its own loop, as {@link #dotMxfp4} beside {@link #dotQ4}: one loop with a branch per format
     * would be compiled with both bodies, too large for C2 to inline.
     */
    @Override
    public void dotMxfp4Rows32(short[] xq, int xqOff, float[] dx, int dOff, MemorySegment rep, long groupOff,
                               int blocks, float[] out, int outOff, boolean accumulate) {
        if (!QUANT_VECTORS) {
            Kernels.super.dotMxfp4Rows32(xq, xqOff, dx, dOff, rep, groupOff, blocks, out, outOff, accumulate);
            return;
        }
        int half = blocks / 2; // two streams, as dotQ4Rows32
        for (int h = 0; h < Rows32.ROWS; h += 2 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, c0 = a0, c1 = a0;
            for (int t = 0; t < blocks - half; t++) {
                if (t < half) {
                    int b = t;
                    long base = groupOff + (long) b * Rows32.Q4_BLOCK_BYTES, codes = base + 4L * Rows32.ROWS + h;
                    int xb = xqOff + 32 * b;
                    ShortVector lo = ShortVector.zero(SS), hi = lo;
                    for (int i = 0; i < 16; i++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(SBH, rep, codes + (long) i * Rows32.ROWS, LE)
                                .convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                        lo = lo.add(v.and((short) 15).selectFrom(MXFP4_SHORTS).mul(xq[xb + i]));
                        hi = hi.add(v.lanewise(VectorOperators.LSHR, 4).selectFrom(MXFP4_SHORTS).mul(xq[xb + i + 16]));
                    }
                    IntVector i0 = ((IntVector) lo.convertShape(VectorOperators.S2I, SI, 0)).add((IntVector) hi.convertShape(VectorOperators.S2I, SI, 0));
                    IntVector i1 = ((IntVector) lo.convertShape(VectorOperators.S2I, SI, 1)).add((IntVector) hi.convertShape(VectorOperators.S2I, SI, 1));
                    float d = dx[dOff + b];
                    a0 = ((FloatVector) i0.convertShape(VectorOperators.I2F, S, 0)).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * h, LE)).fma(FloatVector.broadcast(S, d), a0);
                    a1 = ((FloatVector) i1.convertShape(VectorOperators.I2F, S, 0)).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * (h + L), LE)).fma(FloatVector.broadcast(S, d), a1);
                }
                int b = half + t;
                long base = groupOff + (long) b * Rows32.Q4_BLOCK_BYTES, codes = base + 4L * Rows32.ROWS + h;
                int xb = xqOff + 32 * b;
                ShortVector lo = ShortVector.zero(SS), hi = lo;
                for (int i = 0; i < 16; i++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(SBH, rep, codes + (long) i * Rows32.ROWS, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                    lo = lo.add(v.and((short) 15).selectFrom(MXFP4_SHORTS).mul(xq[xb + i]));
                    hi = hi.add(v.lanewise(VectorOperators.LSHR, 4).selectFrom(MXFP4_SHORTS).mul(xq[xb + i + 16]));
                }
                IntVector i0 = ((IntVector) lo.convertShape(VectorOperators.S2I, SI, 0)).add((IntVector) hi.convertShape(VectorOperators.S2I, SI, 0));
                IntVector i1 = ((IntVector) lo.convertShape(VectorOperators.S2I, SI, 1)).add((IntVector) hi.convertShape(VectorOperators.S2I, SI, 1));
                float d = dx[dOff + b];
                c0 = ((FloatVector) i0.convertShape(VectorOperators.I2F, S, 0)).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * h, LE)).fma(FloatVector.broadcast(S, d), c0);
                c1 = ((FloatVector) i1.convertShape(VectorOperators.I2F, S, 0)).mul(FloatVector.fromMemorySegment(S, rep, base + 4L * (h + L), LE)).fma(FloatVector.broadcast(S, d), c1);
            }
            // written out, as in dotQ4Rows32
            int o = outOff + h;
            FloatVector r0 = a0.add(c0), r1 = a1.add(c1);
            if (accumulate) {
                r0 = r0.add(FloatVector.fromArray(S, out, o));
                r1 = r1.add(FloatVector.fromArray(S, out, o + L));
            }
            r0.intoArray(out, o);
            r1.intoArray(out, o + L);
        }
    }

    private static float dotMxfp4(float[] x, int xOff, byte[] w, int wOff, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int blocks = n / 32, b = 0;
        for (; b + 2 <= blocks; b += 2) {
            int o = wOff + 17 * b, xo = xOff + 32 * b;
            s0 = mxfp4Block(x, xo, w, o).fma(FloatVector.broadcast(S, Quant.e8m0Half(w[o] & 0xff)), s0);
            s1 = mxfp4Block(x, xo + 32, w, o + 17).fma(FloatVector.broadcast(S, Quant.e8m0Half(w[o + 17] & 0xff)), s1);
        }
        for (; b < blocks; b++) {
            int o = wOff + 17 * b;
            s0 = mxfp4Block(x, xOff + 32 * b, w, o).fma(FloatVector.broadcast(S, Quant.e8m0Half(w[o] & 0xff)), s0);
        }
        return s0.add(s1).reduceLanes(VectorOperators.ADD);
    }

    /** Q4_0: the 16 bytes widened to ints, each nibble masked out and made a float by {@link #biased} (Q4_0's offset 8 its bias). */
    private static FloatVector q4Block(float[] x, int xo, byte[] w, int o) {
        ByteVector v = ByteVector.fromArray(SB16, w, o + 2);
        FloatVector acc = FloatVector.zero(S);
        for (int p = 0; p < 16 / L; p++) {
            IntVector i = (IntVector) v.convertShape(VectorOperators.B2I, SI, p);
            acc = FloatVector.fromArray(S, x, xo + p * L).fma(biased(i.and(0x0f), 8), acc);
            acc = FloatVector.fromArray(S, x, xo + 16 + p * L).fma(biased(i.lanewise(VectorOperators.LSHR, 4).and(0x0f), 8), acc);
        }
        return acc;
    }

    /**
     * MXFP4: nibbles split as bytes (the high ones by a shift of int lanes — a byte shift would be emulated),
     * looked up in the table (a byte shuffle), widened to floats (here cheaper than {@link #biased}: measured).
     */
    private static FloatVector mxfp4Block(float[] x, int xo, byte[] w, int o) {
        ByteVector v = ByteVector.fromArray(SB16, w, o + 1);
        ByteVector lo = v.and((byte) 0x0f).selectFrom(MXFP4_TABLE);
        ByteVector hi = v.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().and((byte) 0x0f).selectFrom(MXFP4_TABLE);
        FloatVector acc = FloatVector.zero(S);
        for (int p = 0; p < 16 / L; p++) {
            acc = FloatVector.fromArray(S, x, xo + p * L).fma((FloatVector) lo.convertShape(VectorOperators.B2F, S, p), acc);
            acc = FloatVector.fromArray(S, x, xo + 16 + p * L).fma((FloatVector) hi.convertShape(VectorOperators.B2F, S, p), acc);
        }
        return acc;
    }
}
