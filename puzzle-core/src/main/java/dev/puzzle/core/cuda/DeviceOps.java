package dev.puzzle.core.cuda;

/**
 * The device twin of {@code Ops}: forward/backward primitives on device arrays — linear (cuBLAS, or the
 * PTX GEMM), RMSNorm, RoPE, attention, SwiGLU — in one of two precisions: FP32 throughout, or BF16 GEMM
 * operands (weights kept BF16 beside their FP32 masters, activations rounded on the way in) with FP32
 * accumulation and FP32 everything else.
 */
public final class DeviceOps {
    /** GEMM operand precision. */
    public enum Precision { FP32, BF16 }

    static final int ROW_BLOCK = 256, ELEM_BLOCK = 256;
    final Device dev;
    final Precision precision;
    private DeviceArray scratchA, scratchB; // BF16 copies of GEMM activation operands

    public DeviceOps(Device dev, Precision precision) {
        this.dev = dev;
        this.precision = precision;
    }

    public Device device() {
        return dev;
    }

    public Precision precision() {
        return precision;
    }

    /** Frees the scratch buffers. */
    public void close() {
        dev.free(scratchA);
        dev.free(scratchB);
        scratchA = scratchB = null;
    }

    private DeviceArray scratch(boolean first, long n) {
        DeviceArray s = first ? scratchA : scratchB;
        if (s == null || s.length() < n) {
            dev.free(s);
            s = dev.bf16(Math.max(n, s == null ? 0 : s.length() * 3 / 2));
            if (first) scratchA = s;
            else scratchB = s;
        }
        return s;
    }

    /** dst (BF16) = src rounded, n elements. */
    public void toBf16(DeviceArray dst, DeviceArray src, long n) {
        dev.launch("f32_to_bf16", Device.gridFor(n, ELEM_BLOCK), ELEM_BLOCK, dst, src, n);
    }

    // ---- GEMM

    /**
     * {@code C[M,N] = op(A)·op(B) + beta·C}, row-major like {@code Kernels.gemm}: transA, A stored [K,M]
     * (else [M,K]); transB, B stored [N,K] (else [K,N]); leading dimensions lda, ldb, ldc. A and B FP32, or
     * both BF16 (elementBytes 2); C FP32.
     */
    public void gemm(boolean transA, boolean transB, int M, int N, int K, DeviceArray a, int lda, DeviceArray b, int ldb,
                     DeviceArray c, int ldc, float beta) {
        boolean bf16 = a.elementBytes() == 2;
        if (bf16 != (b.elementBytes() == 2)) throw new IllegalArgumentException("gemm operands of mixed precision");
        if (M == 0 || N == 0) return;
        if (dev.blasGemm(transA, transB, M, N, K, a, lda, b, ldb, c, ldc, beta)) return;
        long sai = transA ? 1 : lda, sak = transA ? lda : 1, sbk = transB ? 1 : ldb, sbj = transB ? ldb : 1;
        int gx = (int) Math.min(65535, (N + 15) / 16), gy = (int) Math.min(65535, (M + 15) / 16);
        dev.launch2d(bf16 ? "gemm_bf16" : "gemm_f32", gx, gy, 16, 16, M, N, K, a, sai, sak, b, sbk, sbj, c, ldc, beta);
    }

    /** out[N,O] = x[N,I]·Wᵀ (+ b). */
    public void linearForward(DeviceArray out, DeviceArray x, DeviceParam w, DeviceArray bias, int N, int I, int O) {
        if (precision == Precision.BF16) {
            DeviceArray x16 = scratch(true, (long) N * I);
            toBf16(x16, x, (long) N * I);
            gemm(false, true, N, O, I, x16, I, w.bf16(), I, out, O, 0f);
        } else {
            gemm(false, true, N, O, I, x, I, w.value(), I, out, O, 0f);
        }
        if (bias != null) dev.launch("add_rows", Device.gridFor((long) N * O, ELEM_BLOCK), ELEM_BLOCK, out, bias, N, O);
    }

    /** dx[N,I] (+)= dOut·W (dx may be null); dW += dOutᵀ·x; db += Σ_n dOut (db may be null). */
    public void linearBackward(DeviceArray dx, boolean accumulateDx, DeviceParam w, DeviceArray db, DeviceArray dOut, DeviceArray x, int N, int I, int O) {
        if (precision == Precision.BF16) {
            DeviceArray d16 = scratch(true, (long) N * O), x16 = scratch(false, (long) N * I);
            toBf16(d16, dOut, (long) N * O);
            toBf16(x16, x, (long) N * I);
            if (dx != null) gemm(false, false, N, I, O, d16, O, w.bf16(), I, dx, I, accumulateDx ? 1f : 0f);
            gemm(true, false, O, I, N, d16, O, x16, I, w.grad(), I, 1f);
        } else {
            if (dx != null) gemm(false, false, N, I, O, dOut, O, w.value(), I, dx, I, accumulateDx ? 1f : 0f);
            gemm(true, false, O, I, N, dOut, O, x, I, w.grad(), I, 1f);
        }
        if (db != null) dev.launch("sum_rows", Device.gridFor(O, ELEM_BLOCK), ELEM_BLOCK, db, dOut, N, O);
    }

    // ---- the rest

    public void rmsnormForward(DeviceArray out, DeviceArray rstd, DeviceArray x, DeviceArray w, int N, int D, float eps) {
        dev.launch("rmsnorm_fwd", Math.min(N, 65535), ROW_BLOCK, out, rstd, x, w, N, D, eps);
    }

    /** dx written; dw accumulated. */
    public void rmsnormBackward(DeviceArray dx, DeviceArray dw, DeviceArray dy, DeviceArray x, DeviceArray rstd, DeviceArray w, int N, int D) {
        dev.launch("rmsnorm_bwd_x", Math.min(N, 65535), ROW_BLOCK, dx, dy, x, rstd, w, N, D);
        dev.launch("rmsnorm_bwd_w", Device.gridFor(D, 128), 128, dw, dy, x, rstd, N, D);
    }

    public void swigluForward(DeviceArray g, DeviceArray a, DeviceArray b, long n) {
        dev.launch("swiglu_fwd", Device.gridFor(n, ELEM_BLOCK), ELEM_BLOCK, g, a, b, n);
    }

    public void swigluBackward(DeviceArray da, DeviceArray db, DeviceArray dg, DeviceArray a, DeviceArray b, long n) {
        dev.launch("swiglu_bwd", Device.gridFor(n, ELEM_BLOCK), ELEM_BLOCK, da, db, dg, a, b, n);
    }

    /** RoPE in place on rows of {@code heads} heads of E, row n at position n mod T; style 0 interleaved, 1 half split; sign −1 the backward. */
    public void rope(DeviceArray x, DeviceArray cs, int rows, int T, int heads, int E, int style, float sign) {
        long n = (long) rows * heads * (E / 2);
        dev.launch("rope", Device.gridFor(n, ELEM_BLOCK), ELEM_BLOCK, x, cs, rows, T, heads, E, style, sign);
    }

    public void attentionForward(DeviceArray o, DeviceArray p, DeviceArray q, DeviceArray k, DeviceArray v, int S, int T, int H, int G, int E, int window) {
        dev.launch("attn_fwd", (int) Math.min((long) S * H * T, 65535L * 16), 128, o, p, q, k, v, S, T, H, G, E, window, scale(E));
    }

    /** dq, dk, dv written; ds (S, H, T, T) scratch. */
    public void attentionBackward(DeviceArray dq, DeviceArray dk, DeviceArray dv, DeviceArray ds, DeviceArray dO, DeviceArray p,
                                  DeviceArray q, DeviceArray k, DeviceArray v, int S, int T, int H, int G, int E, int window) {
        dev.launch("attn_bwd_q", (int) Math.min((long) S * H * T, 65535L * 16), 128, dq, ds, dO, p, k, v, S, T, H, G, E, window, scale(E));
        dev.launch("attn_bwd_kv", (int) Math.min((long) S * G * T, 65535L * 16), Math.min(E, 128), dk, dv, ds, p, q, dO, S, T, H, G, E, window);
    }

    public void attentionDecode(DeviceArray o, DeviceArray scratch, DeviceArray q, DeviceArray k, DeviceArray v, int B, int L, int H, int G, int E, int window) {
        dev.launch("attn_decode", (int) Math.min((long) B * H, 65535L * 16), 128, o, scratch, q, k, v, B, L, H, G, E, window, scale(E));
    }

    static float scale(int E) {
        return (float) (1.0 / Math.sqrt(E));
    }

    public void add(DeviceArray y, DeviceArray a, DeviceArray b, long n) {
        dev.launch("add", Device.gridFor(n, ELEM_BLOCK), ELEM_BLOCK, y, a, b, n);
    }
}
