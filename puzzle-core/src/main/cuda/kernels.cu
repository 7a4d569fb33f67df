// The CUDA backend's kernels (dev.puzzle.core.cuda): RMSNorm, RoPE, causal GQA attention with a window, SwiGLU,
// their backward passes, the normalized-MSE loss, gradient clipping with AdamW, BF16 conversion and a fallback GEMM.
// make_ptx.sh compiles this file to the PTX the backend loads through the driver API; the tests compile it for the
// host with emu.h (every CUDA thread a host thread) and compare it with the CPU block ops.
//
// Every kernel is correct for any launch geometry (grid-stride loops; block reductions take any blockDim up to
// 1024); the geometry the backend picks only decides speed. Row-major arrays, sizes in elements.
#ifdef __CUDACC__
#define KERNEL extern "C" __global__
#define DEVICE __device__ __forceinline__
#else
#include "emu.h"
#endif

#define MAX_THREADS 1024

// Sum of v over the block's threads, returned to every thread. sh: MAX_THREADS floats of shared memory.
DEVICE float block_sum(float v, float* sh) {
    int t = threadIdx.x, n = blockDim.x;
    __syncthreads(); // the previous use of sh is over
    sh[t] = v;
    __syncthreads();
    for (int w = 1; w < n; w <<= 1) {
        if ((t % (2 * w)) == 0 && t + w < n) sh[t] += sh[t + w];
        __syncthreads();
    }
    return sh[0];
}

DEVICE float block_max(float v, float* sh) {
    int t = threadIdx.x, n = blockDim.x;
    __syncthreads();
    sh[t] = v;
    __syncthreads();
    for (int w = 1; w < n; w <<= 1) {
        if ((t % (2 * w)) == 0 && t + w < n) sh[t] = fmaxf(sh[t], sh[t + w]);
        __syncthreads();
    }
    return sh[0];
}

// ---- RMSNorm: out = x / sqrt(mean(x^2) + eps) * w per row of D; rstd[n] = 1 / sqrt(mean(x^2) + eps) (may be null).
KERNEL void rmsnorm_fwd(float* out, float* rstd, const float* x, const float* w, int N, int D, float eps) {
    __shared__ float sh[MAX_THREADS];
    for (int n = blockIdx.x; n < N; n += gridDim.x) {
        const float* xr = x + (long long) n * D;
        float s = 0.f;
        for (int i = threadIdx.x; i < D; i += blockDim.x) s += xr[i] * xr[i];
        s = block_sum(s, sh);
        float r = 1.0f / sqrtf(s / D + eps);
        for (int i = threadIdx.x; i < D; i += blockDim.x) out[(long long) n * D + i] = xr[i] * r * w[i];
        if (rstd != 0 && threadIdx.x == 0) rstd[n] = r;
    }
}

// dx = r*(w*dy) - x*r^3/D*sum(w*dy*x), per row (written, not accumulated).
KERNEL void rmsnorm_bwd_x(float* dx, const float* dy, const float* x, const float* rstd, const float* w, int N, int D) {
    __shared__ float sh[MAX_THREADS];
    for (int n = blockIdx.x; n < N; n += gridDim.x) {
        long long o = (long long) n * D;
        float s = 0.f;
        for (int i = threadIdx.x; i < D; i += blockDim.x) s += w[i] * dy[o + i] * x[o + i];
        s = block_sum(s, sh);
        float r = rstd[n], c = s * r * r * r / D;
        for (int i = threadIdx.x; i < D; i += blockDim.x) dx[o + i] = r * w[i] * dy[o + i] - c * x[o + i];
    }
}

// dw[i] += sum over rows of dy * x * r (a column sum: one thread per column).
KERNEL void rmsnorm_bwd_w(float* dw, const float* dy, const float* x, const float* rstd, int N, int D) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < D; i += gridDim.x * blockDim.x) {
        float s = 0.f;
        for (int n = 0; n < N; n++) s += dy[(long long) n * D + i] * x[(long long) n * D + i] * rstd[n];
        dw[i] += s;
    }
}

// ---- SwiGLU: g = silu(a) * b; backward da = dg*b*sig(a)*(1 + a*(1 - sig(a))), db = dg*silu(a).
KERNEL void swiglu_fwd(float* g, const float* a, const float* b, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float s = 1.0f / (1.0f + expf(-a[i]));
        g[i] = a[i] * s * b[i];
    }
}

KERNEL void swiglu_bwd(float* da, float* db, const float* dg, const float* a, const float* b, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float s = 1.0f / (1.0f + expf(-a[i]));
        da[i] = dg[i] * b[i] * s * (1.0f + a[i] * (1.0f - s));
        db[i] = dg[i] * a[i] * s;
    }
}

// ---- RoPE in place on rows of `heads` heads of E, row n at position n % T. cs: T rows of E/2 (cos, sin) pairs.
// style 0: interleaved pairs (x[2i], x[2i+1]) (llama2.c); 1: half split (x[i], x[i+E/2]) (Hugging Face).
// sign -1 rotates backwards (the gradient).
KERNEL void rope(float* x, const float* cs, int rows, int T, int heads, int E, int style, float sign) {
    int half = E / 2;
    long long total = (long long) rows * heads * half;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total; idx += (long long) gridDim.x * blockDim.x) {
        int i = (int) (idx % half);
        long long rh = idx / half; // row * heads + head
        int n = (int) (rh / heads);
        const float* c = cs + ((long long) (n % T) * half + i) * 2;
        float co = c[0], si = sign * c[1];
        float* base = x + rh * E;
        int i0 = style == 0 ? 2 * i : i, i1 = style == 0 ? 2 * i + 1 : i + half;
        float v0 = base[i0], v1 = base[i1];
        base[i0] = v0 * co - v1 * si;
        base[i1] = v0 * si + v1 * co;
    }
}

// ---- Causal GQA attention over S sequences of T tokens: q (S*T, H*E), k and v (S*T, G*E), query head h reads KV
// head h / (H/G); query t sees keys [max(0, t-window+1), t] (window 0: all). p (S, H, T, T) keeps the
// probabilities for backward; o (S*T, H*E) written. One query row (s, h, t) per block iteration.

// out[j] = scale * (sq . row j of k) for j in [lo, end), row j at k + j*stride; returns the largest this thread
// wrote (or -FLT_MAX). Keys go through shared memory (kt: KT_FLOATS) a tile at a time, each tile read with
// consecutive threads on consecutive elements, each key's dot then by one thread (rows padded to E+1 floats, so
// the threads' reads fall in distinct banks). Every thread sees every out[j] on return.
#define KT_FLOATS 8192
DEVICE float row_dots(float* out, const float* sq, const float* k, long long stride, int lo, int end, int E, float scale, float* kt) {
    int tile = min((int) blockDim.x, KT_FLOATS / (E + 1));
    float m = -3.402823466e38f;
    for (int j0 = lo; j0 < end; j0 += tile) {
        int nk = min(tile, end - j0);
        __syncthreads(); // the previous tile is consumed
        for (int i = threadIdx.x; i < nk * E; i += blockDim.x) {
            int jj = i / E, e = i - jj * E;
            kt[jj * (E + 1) + e] = k[(j0 + jj) * stride + e];
        }
        __syncthreads();
        if ((int) threadIdx.x < nk) {
            const float* kr = kt + threadIdx.x * (E + 1);
            float d = 0.f;
            for (int e = 0; e < E; e++) d += sq[e] * kr[e];
            d *= scale;
            out[j0 + threadIdx.x] = d;
            m = fmaxf(m, d);
        }
    }
    __syncthreads();
    return m;
}

// pr[lo..end) = softmax of the scaled scores of sq against keys [lo, end); visible to every thread on return.
DEVICE void attend_scores(float* pr, const float* sq, const float* k, long long stride, int lo, int end, int E, float scale, float* sh, float* kt) {
    float m = block_max(row_dots(pr, sq, k, stride, lo, end, E, scale, kt), sh);
    float z = 0.f;
    for (int j = lo + threadIdx.x; j < end; j += blockDim.x) {
        float ev = expf(pr[j] - m);
        pr[j] = ev;
        z += ev;
    }
    float inv = 1.0f / block_sum(z, sh);
    for (int j = lo + threadIdx.x; j < end; j += blockDim.x) pr[j] *= inv;
    __syncthreads();
}

// out[e] = sum over j in [lo, end) of pr[j] * v[j*stride + e], e over the block's threads.
DEVICE void attend_values(float* out, const float* pr, const float* v, long long stride, int lo, int end, int E) {
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        float acc = 0.f;
        for (int j = lo; j < end; j++) acc += pr[j] * v[j * stride + e];
        out[e] = acc;
    }
}

// Loads n floats into shared memory, after every thread is done with its previous contents.
DEVICE void load_shared(float* dst, const float* src, int n) {
    __syncthreads();
    for (int e = threadIdx.x; e < n; e += blockDim.x) dst[e] = src[e];
    __syncthreads();
}

// Query row r = (s, h, t) of attention over sequences of T tokens: its position t, its first visible key lo, the
// offset of its q (and o, dO, dq) row in (S*T, H*E) and of its KV head in sequence s's first row of (S*T, G*E).
struct QueryRow {
    int t, lo;
    long long q, kv;
};

DEVICE QueryRow query_row(long long r, int T, int H, int G, int E, int window) {
    QueryRow x;
    x.t = (int) (r % T);
    int h = (int) ((r / T) % H), s = (int) (r / ((long long) T * H));
    x.lo = window > 0 ? max(0, x.t - window + 1) : 0;
    x.q = ((long long) s * T + x.t) * H * E + h * E;
    x.kv = (long long) s * T * G * E + (h / (H / G)) * E;
    return x;
}

KERNEL void attn_fwd(float* o, float* p, const float* q, const float* k, const float* v,
                     int S, int T, int H, int G, int E, int window, float scale) {
    __shared__ float sh[MAX_THREADS];
    __shared__ float sq[256];
    __shared__ float kt[KT_FLOATS];
    long long rows = (long long) S * H * T, GE = (long long) G * E;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        QueryRow x = query_row(r, T, H, G, E, window);
        float* pr = p + r * T;
        load_shared(sq, q + x.q, E);
        attend_scores(pr, sq, k + x.kv, GE, x.lo, x.t + 1, E, scale, sh, kt);
        attend_values(o + x.q, pr, v + x.kv, GE, x.lo, x.t + 1, E);
    }
}

// Backward, part 1, per query row: dP = dO.v, dS = P*(dP - sum(P*dP))*scale kept in ds (S, H, T, T), dq = dS.k (written).
KERNEL void attn_bwd_q(float* dq, float* ds, const float* dO, const float* p, const float* k, const float* v,
                       int S, int T, int H, int G, int E, int window, float scale) {
    __shared__ float sh[MAX_THREADS];
    __shared__ float sdo[256];
    __shared__ float kt[KT_FLOATS];
    long long rows = (long long) S * H * T, GE = (long long) G * E;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        QueryRow x = query_row(r, T, H, G, E, window);
        const float* pr = p + r * T;
        float* dsr = ds + r * T;
        load_shared(sdo, dO + x.q, E);
        row_dots(dsr, sdo, v + x.kv, GE, x.lo, x.t + 1, E, 1.0f, kt);
        float acc = 0.f;
        for (int j = x.lo + threadIdx.x; j <= x.t; j += blockDim.x) acc += pr[j] * dsr[j];
        float sum = block_sum(acc, sh);
        for (int j = x.lo + threadIdx.x; j <= x.t; j += blockDim.x) dsr[j] = pr[j] * (dsr[j] - sum) * scale;
        __syncthreads();
        attend_values(dq + x.q, dsr, k + x.kv, GE, x.lo, x.t + 1, E);
    }
}

// Backward, part 2, per key row (s, g, j): dk = sum over the group's heads and the queries that saw j of dS*q,
// dv = the same of P*dO (written).
KERNEL void attn_bwd_kv(float* dk, float* dv, const float* ds, const float* p, const float* q, const float* dO,
                        int S, int T, int H, int G, int E, int window) {
    int HE = H * E, GE = G * E, group = H / G;
    long long rows = (long long) S * G * T;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        int j = (int) (r % T), g = (int) ((r / T) % G), s = (int) (r / ((long long) T * G));
        int hiT = window > 0 ? min(T - 1, j + window - 1) : T - 1;
        for (int e = threadIdx.x; e < E; e += blockDim.x) {
            float ak = 0.f, av = 0.f;
            for (int h = g * group; h < (g + 1) * group; h++) {
                long long pr = ((long long) s * H + h) * T;
                for (int t = j; t <= hiT; t++) {
                    long long qo = ((long long) s * T + t) * HE + h * E + e;
                    ak += ds[(pr + t) * T + j] * q[qo];
                    av += p[(pr + t) * T + j] * dO[qo];
                }
            }
            dk[((long long) s * T + j) * GE + g * E + e] = ak;
            dv[((long long) s * T + j) * GE + g * E + e] = av;
        }
    }
}

// Decode: B sequences, one query each (q (B, H*E)) at position L-1 over a cache of L keys and values
// (k, v (B, L, G*E)); window 0 sees all L. sc (B, H, L) is scratch; o (B, H*E) written.
KERNEL void attn_decode(float* o, float* sc, const float* q, const float* k, const float* v,
                        int B, int L, int H, int G, int E, int window, float scale) {
    __shared__ float sh[MAX_THREADS];
    __shared__ float sq[256];
    __shared__ float kt[KT_FLOATS];
    int HE = H * E, GE = G * E, group = H / G;
    long long rows = (long long) B * H;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        int h = (int) (r % H), b = (int) (r / H), g = h / group;
        int lo = window > 0 ? max(0, L - window) : 0;
        long long kv = (long long) b * L * GE + g * E;
        float* pr = sc + r * L;
        load_shared(sq, q + (long long) b * HE + h * E, E);
        attend_scores(pr, sq, k + kv, GE, lo, L, E, scale, sh, kt);
        attend_values(o + (long long) b * HE + h * E, pr, v + kv, GE, lo, L, E);
    }
}

// ---- Elementwise.
KERNEL void add(float* y, const float* a, const float* b, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) y[i] = a[i] + b[i];
}

// y[n, :] += b for every row (a bias).
KERNEL void add_rows(float* y, const float* b, int N, int O) {
    long long total = (long long) N * O;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) y[i] += b[i % O];
}

// db[o] += sum over rows of dy[n, o].
KERNEL void sum_rows(float* db, const float* dy, int N, int O) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < O; i += gridDim.x * blockDim.x) {
        float s = 0.f;
        for (int n = 0; n < N; n++) s += dy[(long long) n * O + i];
        db[i] += s;
    }
}

// BF16 bit patterns of x, rounded to nearest even (NaN kept a quiet NaN).
DEVICE unsigned short to_bf16(float x) {
    unsigned int u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short) ((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short) (u >> 16);
}

KERNEL void f32_to_bf16(unsigned short* dst, const float* src, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) dst[i] = to_bf16(src[i]);
}

// ---- Loss and optimizer. acc: doubles accumulated with atomics (zero them first).
// acc[0] += sum (pred - y)^2, acc[1] += sum y^2.
KERNEL void nmse_sums(double* acc, const float* pred, const float* y, long long n) {
    __shared__ float sh[MAX_THREADS];
    float a = 0.f, b = 0.f;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float d = pred[i] - y[i];
        a += d * d;
        b += y[i] * y[i];
    }
    a = block_sum(a, sh);
    b = block_sum(b, sh);
    if (threadIdx.x == 0) {
        atomicAdd(&acc[0], (double) a);
        atomicAdd(&acc[1], (double) b);
    }
}

// dPred = 2 (pred - y) / max(acc[1], 1e-30).
KERNEL void nmse_grad(float* dPred, const float* pred, const float* y, const double* acc, long long n) {
    double den = acc[1] > 1e-30 ? acc[1] : 1e-30;
    float c = (float) (2.0 / den);
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) dPred[i] = c * (pred[i] - y[i]);
}

// acc[0] += sum g^2 (the squared global gradient norm, over every parameter's launch).
KERNEL void sum_squares(double* acc, const float* g, long long n) {
    __shared__ float sh[MAX_THREADS];
    float a = 0.f;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) a += g[i] * g[i];
    a = block_sum(a, sh);
    if (threadIdx.x == 0) atomicAdd(&acc[0], (double) a);
}

// AdamW with the gradient clipped first to a global norm of maxNorm (sumsq[0] = its square); decoupled decay
// when `decay`; w16 (may be null) gets the BF16 copy of the new weights.
KERNEL void adamw(float* w, float* g, float* m, float* v, unsigned short* w16, long long n, const double* sumsq, float maxNorm,
                  float lr, float beta1, float beta2, float bc1, float bc2, float eps, float weightDecay, int decay) {
    double norm = sqrt(sumsq[0]);
    float c = norm > maxNorm ? (float) (maxNorm / norm) : 1.0f;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float gi = c == 1.0f ? g[i] : g[i] * c;
        g[i] = gi;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float update = (mi / bc1) / (sqrtf(vi / bc2) + eps);
        float wi = w[i];
        if (decay) wi -= lr * weightDecay * wi;
        wi -= lr * update;
        w[i] = wi;
        if (w16 != 0) w16[i] = to_bf16(wi);
    }
}

// ---- Fallback GEMM where cuBLAS does not load: C[i, j] = sum_k A(i, k) B(k, j) + beta C[i, j], A(i, k) at
// a[i*sai + k*sak], B(k, j) at b[k*sbk + j*sbj] (strides express the transposes), FP32 accumulation. 16x16 tiles,
// blockDim (16, 16) required; tiles grid-strided. Operands FP32, or BF16 bit patterns widened as they are loaded.
#define TILE 16
DEVICE float widen(float x) { return x; }
DEVICE float widen(unsigned short x) { return __uint_as_float(((unsigned int) x) << 16); }

template <typename T>
DEVICE void gemm_tiled(int M, int N, int K, const T* a, long long sai, long long sak, const T* b, long long sbk, long long sbj,
                       float* c, int ldc, float beta) {
    __shared__ float ta[TILE][TILE + 1];
    __shared__ float tb[TILE][TILE + 1];
    int tx = threadIdx.x, ty = threadIdx.y;
    for (int i0 = blockIdx.y * TILE; i0 < M; i0 += gridDim.y * TILE) {
        for (int j0 = blockIdx.x * TILE; j0 < N; j0 += gridDim.x * TILE) {
            int i = i0 + ty, j = j0 + tx;
            float acc = 0.f;
            for (int k0 = 0; k0 < K; k0 += TILE) {
                __syncthreads();
                ta[ty][tx] = (i < M && k0 + tx < K) ? widen(a[i * sai + (k0 + tx) * sak]) : 0.f;
                tb[ty][tx] = (k0 + ty < K && j < N) ? widen(b[(k0 + ty) * sbk + j * sbj]) : 0.f;
                __syncthreads();
                for (int kk = 0; kk < TILE; kk++) acc += ta[ty][kk] * tb[kk][tx];
            }
            if (i < M && j < N) {
                long long ci = (long long) i * ldc + j;
                c[ci] = beta == 0.f ? acc : acc + beta * c[ci];
            }
        }
    }
}

KERNEL void gemm_f32(int M, int N, int K, const float* a, long long sai, long long sak, const float* b, long long sbk, long long sbj,
                     float* c, int ldc, float beta) {
    gemm_tiled(M, N, K, a, sai, sak, b, sbk, sbj, c, ldc, beta);
}

KERNEL void gemm_bf16(int M, int N, int K, const unsigned short* a, long long sai, long long sak, const unsigned short* b, long long sbk,
                      long long sbj, float* c, int ldc, float beta) {
    gemm_tiled(M, N, K, a, sai, sak, b, sbk, sbj, c, ldc, beta);
}
