package dev.puzzle.core.tensor;

/**
 * The CPU operations every block op is built from, behind one interface with two providers: a
 * Vector API one ({@link VectorKernels}, the default) and its scalar twin ({@link ScalarKernels}),
 * reached through a {@link Backend} ({@code Backend.cpu("vector"|"scalar")}). Tests compare the two.
 * All arrays are row-major; offsets and leading dimensions are in elements.
 */
public interface Kernels {

    /** The worker pool this provider's parallel sections run on (its thread count is the backend's). */
    Parallel parallel();

    /**
     * {@code C[M,N] = op(A)[M,K] · op(B)[K,N]}, or {@code C += ...} when {@code accumulate}.
     * {@code transA}: A is stored as [K,M] (leading dimension lda); otherwise [M,K].
     * {@code transB}: B is stored as [N,K] — the layout of a weight matrix, so {@code x·Wᵀ} is
     * {@code gemm(false, true, ...)}; otherwise [K,N].
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k,
              float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
              float[] c, int cOff, int ldc, boolean accumulate);

    /** Σ x[i]·y[i]. */
    float dot(float[] x, int xOff, float[] y, int yOff, int n);

    /** y += alpha·x. */
    void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n);

    /**
     * y[0, len) += Σ_j w[j]·x[j·xStride, +len) for j = 0..n−1, in that order: {@link #axpy} once per j, each element's
     * sum with exactly that arithmetic; a provider may keep y in registers across the j (attention: the weighted sum of
     * values at decode, one short row per key; scores and dP along the positions in prefill and backward, one row per
     * element of the head).
     */
    default void axpyRows(float[] w, int wOff, int n, float[] x, int xOff, int xStride, float[] y, int yOff, int len) {
        for (int j = 0; j < n; j++) axpy(w[wOff + j], x, xOff + j * xStride, y, yOff, len);
    }

    /** x *= s. */
    void scale(float[] x, int xOff, int n, float s);

    /** Σ x[i]². */
    float sumSquares(float[] x, int xOff, int n);

    /** max x[i]. */
    float max(float[] x, int xOff, int n);

    /**
     * out = x / sqrt(mean(x²) + eps) · w, over one row of n; returns the factor 1/sqrt(mean(x²) + eps)
     * (backward needs it). PyTorch: x * torch.rsqrt(x.pow(2).mean(-1) + eps) * w
     */
    float rmsnorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps);

    /** In-place softmax over one row of n: the row less its max exponentiated and summed ({@link #expSum}), then scaled by 1/Σ. */
    default void softmax(float[] x, int xOff, int n) {
        scale(x, xOff, n, 1f / expSum(x, xOff, n, 1f, max(x, xOff, n)));
    }

    /** gate = silu(gate) · up. PyTorch: F.silu(gate) * up */
    void swiglu(float[] gate, int gateOff, float[] up, int upOff, int n);

    /**
     * Training's SwiGLU over elements [off, off+n), its inputs kept: g = a·σ(a)·b. PyTorch: F.silu(a) * b. A provider
     * may compute σ with a vector exponential (within a few ulp of this scalar form).
     */
    default void swigluForward(float[] g, float[] a, float[] b, int off, int n) {
        scalarSwigluForward(g, a, b, off, n);
    }

    /** Backward of {@link #swigluForward} over [off, off+n): da = dg·b·σ(a)(1 + a(1 − σ(a))), db = dg·a·σ(a). */
    default void swigluBackward(float[] da, float[] db, float[] dg, float[] a, float[] b, int off, int n) {
        scalarSwigluBackward(da, db, dg, a, b, off, n);
    }

    /** {@link #swigluForward}'s scalar form, for callers without a provider (MoE experts, candidate initialization). */
    static void scalarSwigluForward(float[] g, float[] a, float[] b, int off, int n) {
        for (int i = off; i < off + n; i++) {
            float s = 1f / (1f + (float) Math.exp(-a[i]));
            g[i] = a[i] * s * b[i];
        }
    }

    /** {@link #swigluBackward}'s scalar form. */
    static void scalarSwigluBackward(float[] da, float[] db, float[] dg, float[] a, float[] b, int off, int n) {
        for (int i = off; i < off + n; i++) {
            float s = 1f / (1f + (float) Math.exp(-a[i]));
            da[i] = dg[i] * b[i] * s * (1f + a[i] * (1f - s));
            db[i] = dg[i] * a[i] * s;
        }
    }

    /** Σ x[i]·w[i] with w BF16 bit patterns (widened in registers: a BF16 is the top half of an FP32). */
    float dotBf16(float[] x, int xOff, short[] w, int wOff, int n);

    /** {@link #dotBf16} over n BF16 values read in place at byte {@code wOff} of {@code w} (little endian). */
    default float dotBf16(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += x[xOff + i] * Float.intBitsToFloat(w.get(BF16_LE, wOff + 2L * i) << 16);
        return s;
    }

    /**
     * {@link #dotF32Rows4} over two pairs of adjacent rows from two places: rows at bytes wA and wA + rowBytes into
     * out[outA], out[outA + 1], rows at wB and wB + rowBytes into out[outB], out[outB + 1], each as {@link #dotF32}
     * sums it: decode reads the two halves of a thread's rows together, two memory streams.
     */
    default void dotF32Rows2x2(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wA, long wB, long rowBytes, int n,
                               float[] out, int outA, int outB, boolean accumulate) {
        for (int r = 0; r < 4; r++) {
            float d = dotF32(x, xOff, w, (r < 2 ? wA : wB) + (r % 2) * rowBytes, n);
            int o = (r < 2 ? outA : outB) + r % 2;
            out[o] = accumulate ? out[o] + d : d;
        }
    }

    /**
     * {@link #dotBf16} over two rows read in place at bytes {@code wA} and {@code wB} of {@code w}, into res[0] and
     * res[1], each equal to its dotBf16 bit for bit: decode reads two distant rows together, two memory streams.
     */
    default void dotBf16Pair(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wA, long wB, int n, float[] res) {
        res[0] = dotBf16(x, xOff, w, wA, n);
        res[1] = dotBf16(x, xOff, w, wB, n);
    }

    /** Σ x[i]·w[i] over n FP32 values read in place at byte {@code wOff} of {@code w} (little endian). */
    default float dotF32(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += x[xOff + i] * w.get(F32_LE, wOff + 4L * i);
        return s;
    }

    /**
     * out[outOff + r] (+)= x · row r of w for rows r = 0..3, FP32 rows {@code rowBytes} apart from byte {@code wOff}:
     * each row as {@link #dotF32} sums it; a provider may read the four side by side (one stream from memory is
     * slower than four). For BF16 four adjacent rows measured slower; two distant ones ({@link #dotBf16Pair}) faster.
     */
    default void dotF32Rows4(float[] x, int xOff, java.lang.foreign.MemorySegment w, long wOff, long rowBytes, int n,
                             float[] out, int outOff, boolean accumulate) {
        for (int r = 0; r < 4; r++) {
            float d = dotF32(x, xOff, w, wOff + r * rowBytes, n);
            out[outOff + r] = accumulate ? out[outOff + r] + d : d;
        }
    }

    java.lang.foreign.ValueLayout.OfFloat F32_LE = java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    java.lang.foreign.ValueLayout.OfShort BF16_LE = java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** dst[i] = w[i] widened from BF16 bit patterns to FP32. */
    void widenBf16(short[] w, int wOff, float[] dst, int dstOff, int n);

    /**
     * Σ x[i]·w[i] over one row of n elements stored in the quantized dtype t at w[wOff..] (its layout, see
     * {@link DType}), decoded block by block in registers. The default decodes the row with the scalar
     * reference ({@link Quant#dequantizeRow}) into a per-thread buffer and takes {@link #dot}.
     */
    default float dotQuant(DType t, float[] x, int xOff, byte[] w, int wOff, int n) {
        float[] buf = LinearBlocks.rowBuffer(n);
        Quant.dequantizeRow(t, w, wOff, n, buf, 0);
        return dot(x, xOff, buf, 0, n);
    }

    /**
     * Decode's Q4_0 product with one group of 32 rows of a {@link Rows32} layout (at byte {@code groupOff} of rep,
     * {@code blocks} blocks of 32 per row) and one input row as Q8_0 codes ({@link Rows32.Codes}: codes from
     * {@code xq[xqOff]}, block scales and offsets from {@code dOff}): for each row r,
     * {@code out[outOff + r] (+)= Σ_b fma(float(Σ_e (q − 8)·code) · scale_r,b, dx_b, ·)} over the first half of the
     * blocks in order and over the rest, the two added at the end (the vector form reads the halves as two memory
     * streams) — the integer sum of each block exact, then scaled as llama.cpp scales it. This default is the reference
     * the vector form matches bit for bit.
     */
    default void dotQ4Rows32(short[] xq, int xqOff, float[] dx, short[] x8, int dOff, java.lang.foreign.MemorySegment rep, long groupOff,
                             int blocks, float[] out, int outOff, boolean accumulate) {
        Rows32.scalarProduct(Rows32.Q4_0_VALUES, xq, xqOff, dx, dOff, rep, groupOff, blocks, out, outOff, accumulate);
    }

    /**
     * {@link #dotQ4Rows32} for MXFP4 weights: for each row r, {@code out[outOff + r] (+)= Σ_b fma(float(Σ_e v(q)·code) ·
     * scale_r,b, dx_b, ·)}, v the doubled E2M1 value of a code (llama.cpp's table, integers in [-12, 12]) and the scale
     * the halved E8M0 one. The reference the vector form matches bit for bit.
     */
    default void dotMxfp4Rows32(short[] xq, int xqOff, float[] dx, int dOff, java.lang.foreign.MemorySegment rep, long groupOff,
                                int blocks, float[] out, int outOff, boolean accumulate) {
        Rows32.scalarProduct(Rows32.MXFP4_VALUES, xq, xqOff, dx, dOff, rep, groupOff, blocks, out, outOff, accumulate);
    }

    /**
     * {@link #dotQ4Rows32} for Q8_0 weights: for each row r, {@code out[outOff + r] (+)= Σ_b fma(float(Σ_e q·code) ·
     * scale_r,b, dx_b, ·)} in the same two halves, the input's codes given as floats ({@link Rows32.Codes#values}). The
     * reference the vector form matches bit for bit: each block's sum is an integer below 2^24, exact in any order.
     */
    default void dotQ8Rows32(float[] xq, int xqOff, float[] dx, int dOff, java.lang.foreign.MemorySegment rep, long groupOff,
                             int blocks, float[] out, int outOff, boolean accumulate) {
        Rows32.scalarProductQ8(xq, xqOff, dx, dOff, rep, groupOff, blocks, out, outOff, accumulate);
    }

    /** dst[i] = the n elements of one row stored in the quantized dtype t at w[wOff..], decoded to FP32. */
    default void widenQuant(DType t, byte[] w, int wOff, float[] dst, int dstOff, int n) {
        Quant.dequantizeRow(t, w, wOff, n, dst, dstOff);
    }

    /** Σ exp(x[i] − shift). */
    float sumExp(float[] x, int xOff, int n, float shift);

    /**
     * x[i] ← exp(x[i]·mul − shift) in place (the product rounded before the subtraction, as a scaled row's softmax
     * computes it), returning their sum: a softmax without its normalizing pass, for callers that scale what they
     * make of the row instead.
     */
    float expSum(float[] x, int xOff, int n, float mul, float shift);

    /**
     * The backward of {@link #attend} for one query whose probabilities p[pOff, +n) were kept, keys and values and their
     * gradients held transposed (element e of key j at {@code [e·stride + off + j]}): dp = dO·v (E multiply-adds in
     * order, into {@code dp[0, n)}), dV += dO_e·p, Σ = p·dp, dS = p ⊙ (dp − Σ)·scale, dq[dqOff, +E) += dS·k, dK += q_e·dS;
     * returns Σ. The composition of {@link #axpyRows}, {@link #axpy}, {@link #dot} and a one-row {@link #gemm}.
     */
    default float attendBackward(float[] dOut, int dOff, float[] q, int qOff, int E, float[] p, int pOff, float[] kt, float[] vt,
                                 float[] dkt, float[] dvt, int off, int stride, int n, float scale, float[] dp, float[] dq, int dqOff) {
        java.util.Arrays.fill(dp, 0, n, 0f);
        axpyRows(dOut, dOff, E, vt, off, stride, dp, 0, n);
        for (int e = 0; e < E; e++) axpy(dOut[dOff + e], p, pOff, dvt, e * stride + off, n);
        float sum = dot(p, pOff, dp, 0, n);
        for (int j = 0; j < n; j++) dp[j] = p[pOff + j] * (dp[j] - sum) * scale;
        gemm(false, true, 1, E, n, dp, 0, n, kt, off, stride, dq, dqOff, E, true);
        for (int e = 0; e < E; e++) axpy(q[qOff + e], dp, 0, dkt, e * stride + off, n);
        return sum;
    }

    /**
     * Σ_i exp(p_i − lp)·((p_i − lp) − (q_i − lq)) over n: KL(softmax p ‖ softmax q) given both rows' log-sum-exps
     * ({@code Losses.kl}), each log-probability rounded to a float. The default takes the exponentials and the sum in
     * double; a provider may take them in float lanes (within 1e-6 of the sum's magnitude over a row of 512).
     */
    default double klSum(float[] p, int pOff, float lp, float[] q, int qOff, float lq, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            double logp = p[pOff + i] - lp;
            double logq = q[qOff + i] - lq;
            s += Math.exp(logp) * (logp - logq);
        }
        return s;
    }

    /**
     * One query's attention over n keys held transposed (a small head's prefill: key and value element e of key j at
     * {@code kt/vt[e·stride + off + j]}): the scores s[j] = Σ_e q[qOff+e]·kt[..] (the E multiply-adds in order, as
     * {@link #axpyRows} makes them) into {@code scores[sOff, sOff + n)}, then exp(s[j] − max s) there, and
     * o[oOff+e] = Σ_j exp(s[j] − max s)·vt[..] — not normalized; returns Σ_j exp(s[j] − max s), by which the caller
     * divides. The composition of {@link #axpyRows}, {@link #max}, {@link #expSum} and a one-row {@link #gemm}; a
     * provider may do it in fewer passes over the row.
     */
    default float attend(float[] q, int qOff, int E, float[] kt, float[] vt, int off, int stride, int n, float[] scores, int sOff,
                         float[] o, int oOff) {
        java.util.Arrays.fill(scores, sOff, sOff + n, 0f);
        axpyRows(q, qOff, E, kt, off, stride, scores, sOff, n);
        float sum = expSum(scores, sOff, n, 1f, max(scores, sOff, n));
        gemm(false, true, 1, E, n, scores, sOff, n, vt, off, stride, o, oOff, E, false);
        return sum;
    }

    /**
     * A linear layer over a weight tensor held either way: {@code out[M,N] (+)= x[M,K] · Wᵀ}, W (N, K),
     * out rows of stride N from outOff. A heap W is one {@link #gemm}; a mapped W (F32, F16 or BF16, never
     * widened as a whole) is widened a block of rows at a time into a per-thread buffer that stays in
     * cache, each block one GEMM, the blocks spread over the threads. A quantized W is read as stored:
     * decode (m ≤ 4) takes {@link #dotQuant} over its bytes — Q4_0, MXFP4 and Q8_0 instead integer sums per block, 32
     * rows at a time, over a layout made once per tensor ({@link Rows32}, {@link #dotQ4Rows32}) — more rows decode a block
     * ({@link #widenQuant}) for one GEMM; llama.cpp's formats see the input rounded to Q8_0 first ({@link Quant#roundsInputs}).
     */
    default void linear(float[] x, int xOff, int m, int k, Tensor w, float[] out, int outOff, boolean accumulate) {
        int n = w.rows();
        if (w.cols() != k) throw new IllegalArgumentException("weight " + w + " does not take inputs of " + k);
        if (!w.isMapped()) {
            gemm(false, true, m, n, k, x, xOff, k, w.data(), 0, k, out, outOff, n, accumulate);
            return;
        }
        int block = Math.max(1, Math.min(n, LinearBlocks.blockFloats(m) / k));
        boolean bf16 = w.dtype() == DType.BF16;
        DType q = w.dtype().isQuantized() ? w.dtype() : null;
        // Decode of Q4_0, MXFP4 and Q8_0: integer sums per block, 32 rows at a time, the codes taken from the input as given.
        boolean grouped = m <= 4 && Rows32.decodesThrough(w); // the one test (load keeps such matrices mapped: Checkpoints)
        Rows32.Codes cx = grouped ? Rows32.Codes.scratch(x, xOff, m, k, q) : null; // read by the helpers too, until this call returns
        if (q != null && Quant.roundsInputs(q) && !(grouped && n % Rows32.ROWS == 0)) { // llama.cpp's arithmetic: the input rounded to Q8_0 first (for grouped rows, only those past the groups use it)
            float[] xr = LinearBlocks.input(m * k);
            System.arraycopy(x, xOff, xr, 0, m * k);
            for (int i = 0; i < m; i++) Quant.roundToQ8_0(xr, i * k, k);
            x = xr;
            xOff = 0;
        }
        float[] xs = x;
        int xo = xOff;
        byte[] packed = q != null ? w.packedBytes() : null;
        Parallel.RangeBody rows = (n0, n1) -> { // rows [n0, n1), a block at most
            int nb = n1 - n0;
            if (q != null) {
                int rb = (int) q.rowBytes(k);
                byte[] raw = packed;
                int first = n0 * rb; // heap bytes are read in place; a file mapping's rows are copied out a block at a time
                if (raw == null) {
                    raw = LinearBlocks.bytes(nb * rb);
                    w.rawBytes(n0, nb, raw, 0);
                    first = 0;
                }
                if (m <= 4) {
                    for (int j = 0; j < nb; j++) {
                        for (int i = 0; i < m; i++) {
                            float d = dotQuant(q, xs, xo + i * k, raw, first + j * rb, k);
                            int o = outOff + i * n + n0 + j;
                            out[o] = accumulate ? out[o] + d : d;
                        }
                    }
                    return;
                }
                float[] buf = LinearBlocks.buffer(nb * k);
                for (int j = 0; j < nb; j++) widenQuant(q, raw, first + j * rb, buf, j * k, k);
                gemm(false, true, m, nb, k, xs, xo, k, buf, 0, k, out, outOff + n0, n, accumulate);
                return;
            }
            if (bf16) {
                short[] raw = LinearBlocks.shorts(nb * k);
                w.rawShorts(n0, nb, raw, 0);
                if (m <= 4) { // decode: one fused pass over the stored bytes, no FP32 copy of the weights
                    for (int j = 0; j < nb; j++) {
                        for (int i = 0; i < m; i++) {
                            float d = dotBf16(xs, xo + i * k, raw, j * k, k);
                            int o = outOff + i * n + n0 + j;
                            out[o] = accumulate ? out[o] + d : d;
                        }
                    }
                    return;
                }
                float[] buf = LinearBlocks.buffer(nb * k);
                widenBf16(raw, 0, buf, 0, nb * k);
                gemm(false, true, m, nb, k, xs, xo, k, buf, 0, k, out, outOff + n0, n, accumulate);
                return;
            }
            float[] buf = LinearBlocks.buffer(nb * k);
            w.rows(n0, nb, buf, 0);
            gemm(false, true, m, nb, k, xs, xo, k, buf, 0, k, out, outOff + n0, n, accumulate);
        };
        if (grouped) {
            Rows32 rep = Rows32.of(w);
            int nb = k / 32, whole = rep.groups() * Rows32.ROWS;
            parallel().forRange(rep.groups(), 1, (g0, g1) -> {
                for (int g = g0; g < g1; g++) {
                    for (int i = 0; i < m; i++) {
                        int o = outOff + i * n + g * Rows32.ROWS;
                        if (q == DType.Q4_0) dotQ4Rows32(cx.codes(), i * k, cx.scales(), cx.offsets(), i * nb, rep.data(), rep.offset(g), nb, out, o, accumulate);
                        else if (q == DType.Q8_0) dotQ8Rows32(cx.values(), i * k, cx.scales(), i * nb, rep.data(), rep.offset(g), nb, out, o, accumulate);
                        else dotMxfp4Rows32(cx.codes(), i * k, cx.scales(), i * nb, rep.data(), rep.offset(g), nb, out, o, accumulate);
                    }
                }
            });
            for (int n0 = whole; n0 < n; n0 += block) rows.run(n0, Math.min(n, n0 + block)); // the rows past the groups, as stored
            return;
        }
        if (m > 4) { // prefill: one GEMM a block, the blocks claimed by the threads
            int blocks = (n + block - 1) / block;
            parallel().forEach(blocks, b -> rows.run(b * block, Math.min(n, (b + 1) * block)));
            return;
        }
        // Decode: one contiguous range of rows per thread, each reading its part of W once (in place, its two halves side
        // by side: two memory streams, which one core reads faster than one; see dotBf16Pair, dotF32Rows2x2). Blocks
        // claimed one by one cost more than they balanced: the 110M BF16 model's matrices per token took 8.1 ms on two
        // threads (8.7 on one) in 21-row blocks, 4.0 ms in two ranges. BF16 and F32 rows are read in place (from the
        // mapping when the range lies in one chunk of it); otherwise (and for quantized rows) block by block as above.
        // A file-mapped BF16 matrix is read from its copy on huge pages where Resident makes one (a third faster), block
        // by block until it is made (never from the mapping then: see Resident.enabled).
        java.lang.foreign.MemorySegment resident = bf16 ? Resident.of(w) : null;
        boolean inPlace = w.dtype() == DType.F32 || (bf16 && (resident != null || !Resident.enabled()));
        parallel().forRange(n, 16, (r0, r1) -> {
            long rowBytes = bf16 ? 2L * k : 4L * k;
            java.lang.foreign.MemorySegment seg = resident != null ? resident : inPlace ? w.rowSegment(r0, r1 - r0) : null;
            long at = resident != null ? r0 * rowBytes : 0; // row r0's byte in seg
            if (seg != null) {
                int j = 0;
                if (m == 1 && !bf16) { // two rows from each half of the range at a time: two memory streams
                    int half = (r1 - r0) / 2;
                    for (; j + 2 <= half; j += 2) {
                        dotF32Rows2x2(xs, xo, seg, at + j * rowBytes, at + (half + j) * rowBytes, rowBytes, k, out,
                                outOff + r0 + j, outOff + r0 + half + j, accumulate);
                    }
                    rowByRow(xs, xo, 1, k, n, seg, at, rowBytes, false, out, outOff + r0, half + j, r1 - r0, accumulate); // the second half's rows past the pairs
                    r1 = r0 + half; // and the first half's below
                }
                if (m == 1 && bf16 && r1 - r0 >= 2) { // the two halves of the range together: two memory streams
                    int half = (r1 - r0) / 2;
                    float[] res = LinearBlocks.pair();
                    for (int p = 0; p < half; p++) {
                        dotBf16Pair(xs, xo, seg, at + p * rowBytes, at + (half + p) * rowBytes, k, res);
                        int a = outOff + r0 + p, b = outOff + r0 + half + p;
                        out[a] = accumulate ? out[a] + res[0] : res[0];
                        out[b] = accumulate ? out[b] + res[1] : res[1];
                    }
                    j = 2 * half; // an odd range's last row below
                }
                rowByRow(xs, xo, m, k, n, seg, at, rowBytes, bf16, out, outOff + r0, j, r1 - r0, accumulate);
                return;
            }
            for (int n0 = r0; n0 < r1; n0 += block) rows.run(n0, Math.min(r1, n0 + block));
        });
    }

    /**
     * Decode's rows [j0, j1) of a BF16 or F32 range read in place, one dot product each per input: row j at byte
     * {@code at + j·rowBytes} of {@code seg}, its outputs at {@code out[outBase + i·n + j]}.
     */
    private void rowByRow(float[] x, int xOff, int m, int k, int n, java.lang.foreign.MemorySegment seg, long at, long rowBytes, boolean bf16,
                          float[] out, int outBase, int j0, int j1, boolean accumulate) {
        for (int j = j0; j < j1; j++) {
            for (int i = 0; i < m; i++) {
                float d = bf16 ? dotBf16(x, xOff + i * k, seg, at + j * rowBytes, k) : dotF32(x, xOff + i * k, seg, at + j * rowBytes, k);
                int o = outBase + i * n + j;
                out[o] = accumulate ? out[o] + d : d;
            }
        }
    }

    /** Convenience: {@code out[M,N] = x[M,K] · w[N,K]ᵀ}, the shape of every linear layer. */
    default void matmulT(float[] x, float[] w, float[] out, int m, int n, int k) {
        gemm(false, true, m, n, k, x, 0, k, w, 0, k, out, 0, n, false);
    }
}
