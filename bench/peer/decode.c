/* Peer for bench/decode.sh: a plain C forward pass over a llama2.c legacy checkpoint, in the style of
 * karpathy/llama2.c's run.c (FP32, one token at a time through a KV cache, OpenMP over matrix rows),
 * written for this benchmark from the model's math. Prints "prefill TOK/S" and "decode TOK/S" for the same
 * protocol as DecodeBench: PROMPT tokens then GEN tokens, each one position at a time (run.c has no
 * batched prefill), best of REPS after a warm-up.
 * Usage: decode MODEL.bin PROMPT GEN [REPS]     Build: gcc -O3 -march=native -fopenmp decode.c -lm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { int dim, hidden, layers, heads, kv_heads, vocab, seq; } Cfg;

static float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;

static void rmsnorm(float *o, const float *x, const float *w, int n) {
    float ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    ss = 1.0f / sqrtf(ss / n + 1e-5f);
    for (int i = 0; i < n; i++) o[i] = w[i] * (ss * x[i]);
}

/* out[d] = W[d, n] · x[n] */
static void matvec(float *out, const float *x, const float *w, int n, int d) {
    int i;
#pragma omp parallel for private(i)
    for (i = 0; i < d; i++) {
        const float *row = w + (size_t)i * n;
        float s = 0;
        for (int j = 0; j < n; j++) s += row[j] * x[j];
        out[i] = s;
    }
}

static void softmax(float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++) if (x[i] > m) m = x[i];
    float s = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    for (int i = 0; i < n; i++) x[i] /= s;
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s MODEL.bin PROMPT GEN [REPS]\n", argv[0]); return 2; }
    int prompt = atoi(argv[2]), gen = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 3;
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    Cfg c;
    if (fread(&c, sizeof(int), 7, f) != 7) { fprintf(stderr, "bad header\n"); return 1; }
    int shared = c.vocab > 0; c.vocab = abs(c.vocab);
    fseek(f, 0, SEEK_END); long size = ftell(f); fseek(f, 28, SEEK_SET);
    float *all = malloc(size - 28);
    if (fread(all, 1, size - 28, f) != (size_t)(size - 28)) { fprintf(stderr, "short read\n"); return 1; }
    fclose(f);
    int D = c.dim, L = c.layers, H = c.heads, G = c.kv_heads, E = D / H, KV = G * E, F = c.hidden, V = c.vocab, S = c.seq;
    float *p = all;
    emb = p; p += (size_t)V * D;
    rms_att = p; p += (size_t)L * D;
    wq = p; p += (size_t)L * D * D;
    wk = p; p += (size_t)L * D * KV;
    wv = p; p += (size_t)L * D * KV;
    wo = p; p += (size_t)L * D * D;
    rms_ffn = p; p += (size_t)L * D;
    w1 = p; p += (size_t)L * D * F;
    w2 = p; p += (size_t)L * F * D;
    w3 = p; p += (size_t)L * D * F;
    rms_final = p; p += D;
    p += (size_t)S * E; /* freq_cis tables */
    wcls = shared ? emb : p;
    int T = prompt + gen;
    if (T > S) { fprintf(stderr, "prompt+gen %d exceeds seq_len %d\n", T, S); return 1; }
    float *x = malloc(D * 4), *xb = malloc(D * 4), *xb2 = malloc(D * 4), *q = malloc(D * 4), *k = malloc(KV * 4), *v = malloc(KV * 4);
    float *hb = malloc(F * 4), *hb2 = malloc(F * 4), *att = malloc((size_t)H * T * 4), *logits = malloc((size_t)V * 4);
    float *kc = malloc((size_t)L * T * KV * 4), *vc = malloc((size_t)L * T * KV * 4);
    int *toks = malloc(T * sizeof(int));
    unsigned long long rng = 42;
    for (int i = 0; i < T; i++) { rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27; toks[i] = (int)(((rng * 0x2545F4914F6CDD1Dull) >> 32) % V); }
    double bestPre = 0, bestDec = 0;
    for (int rep = 0; rep <= reps; rep++) {
        double t0 = now(), t1 = 0;
        for (int pos = 0; pos < T; pos++) {
            if (pos == prompt) t1 = now();
            memcpy(x, emb + (size_t)toks[pos] * D, D * 4);
            for (int l = 0; l < L; l++) {
                rmsnorm(xb, x, rms_att + l * D, D);
                matvec(q, xb, wq + (size_t)l * D * D, D, D);
                matvec(k, xb, wk + (size_t)l * D * KV, D, KV);
                matvec(v, xb, wv + (size_t)l * D * KV, D, KV);
                for (int i = 0; i < D; i += 2) { /* interleaved-pair RoPE */
                    int hd = i % E;
                    float fr = 1.0f / powf(10000.0f, hd / (float)E), a = pos * fr, co = cosf(a), si = sinf(a);
                    for (int which = 0; which < (i < KV ? 2 : 1); which++) {
                        float *vec = which == 0 ? q : k;
                        float v0 = vec[i], v1 = vec[i + 1];
                        vec[i] = v0 * co - v1 * si; vec[i + 1] = v0 * si + v1 * co;
                    }
                }
                memcpy(kc + ((size_t)l * T + pos) * KV, k, KV * 4);
                memcpy(vc + ((size_t)l * T + pos) * KV, v, KV * 4);
                int h;
#pragma omp parallel for private(h)
                for (h = 0; h < H; h++) {
                    float *qh = q + h * E, *a = att + (size_t)h * T, *o = xb + h * E;
                    int g = h / (H / G);
                    for (int t = 0; t <= pos; t++) {
                        const float *kt = kc + ((size_t)l * T + t) * KV + g * E;
                        float s = 0;
                        for (int i = 0; i < E; i++) s += qh[i] * kt[i];
                        a[t] = s / sqrtf((float)E);
                    }
                    softmax(a, pos + 1);
                    memset(o, 0, E * 4);
                    for (int t = 0; t <= pos; t++) {
                        const float *vt = vc + ((size_t)l * T + t) * KV + g * E;
                        for (int i = 0; i < E; i++) o[i] += a[t] * vt[i];
                    }
                }
                matvec(xb2, xb, wo + (size_t)l * D * D, D, D);
                for (int i = 0; i < D; i++) x[i] += xb2[i];
                rmsnorm(xb, x, rms_ffn + l * D, D);
                matvec(hb, xb, w1 + (size_t)l * D * F, D, F);
                matvec(hb2, xb, w3 + (size_t)l * D * F, D, F);
                for (int i = 0; i < F; i++) { float g1 = hb[i]; hb[i] = g1 / (1.0f + expf(-g1)) * hb2[i]; }
                matvec(xb, hb, w2 + (size_t)l * D * F, F, D);
                for (int i = 0; i < D; i++) x[i] += xb[i];
            }
            rmsnorm(x, x, rms_final, D);
            matvec(logits, x, wcls, D, V);
        }
        double t2 = now();
        if (rep == 0) continue;
        if (prompt / (t1 - t0) > bestPre) bestPre = prompt / (t1 - t0);
        if (gen / (t2 - t1) > bestDec) bestDec = gen / (t2 - t1);
    }
    printf("prefill %.1f\ndecode %.1f\n", bestPre, bestDec);
    fprintf(stderr, "# checksum %f\n", logits[0]);
    return 0;
}
