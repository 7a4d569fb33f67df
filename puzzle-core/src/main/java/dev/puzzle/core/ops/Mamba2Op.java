package dev.puzzle.core.ops;

import java.util.List;

/**
 * A Mamba-2 mixer in place of attention (Dao &amp; Gu 2024; the published definition of HF's {@code NemotronHMamba2Mixer},
 * its naive recurrence), f(x) for h = rmsnorm(x):
 * <pre>
 *   z ‖ xBC ‖ dt = in_proj(h)                     widths I = H·P, C = I + 2·G·N, H
 *   xBC = silu(conv1d(xBC))                        depthwise, causal, kernel K, with bias
 *   x ‖ B ‖ C = xBC                                widths I, G·N, G·N (head h reads group h / (H/G))
 *   dt = softplus(dt + dt_bias),  A = −exp(A_log)
 *   S_t = exp(dt·A)·S_{t−1} + dt·x_t ⊗ B_t         per head, S (P × N), from S_{−1} = 0
 *   y_t = S_t·C_t + D·x_t
 *   f = out_proj(gated_rmsnorm(y ⊙ silu(z)))       RMS over each of G groups of I/G channels, times the norm's weight
 * </pre>
 * No KV cache: its inference state is the last K−1 conv inputs and S per head — constant in the context. Training runs the
 * recurrence sequentially, keeping every S_t for the backward pass.
 */
public final class Mamba2Op implements BlockOp {
    private final Ops ops;
    private final int D, H, P, N, G, K, I, C, PROJ;
    private final float eps;
    private final Param norm, inProj, convW, convB, dtBias, aLog, dSkip, gateNorm, outProj;

    /** The mixer's shape: model dim D, heads H of P channels, state N, groups G, conv kernel K; the RMSNorm epsilon of both norms. */
    record Shape(int dim, int heads, int headDim, int state, int groups, int conv, float eps) {}

    /** Its tensors: the layer norm (D), in_proj (I + C + H, D), conv1d weight (C, K) and bias (C), dt_bias, A_log, D (H), the gated norm (I), out_proj (D, I). */
    record Weights(Param norm, Param inProj, Param convW, Param convB, Param dtBias, Param aLog, Param d, Param gateNorm, Param outProj) {}

    Mamba2Op(Ops ops, Shape s, Weights w) {
        this.ops = ops;
        this.D = s.dim();
        this.H = s.heads();
        this.P = s.headDim();
        this.N = s.state();
        this.G = s.groups();
        this.K = s.conv();
        this.I = H * P;
        this.C = I + 2 * G * N;
        this.PROJ = I + C + H;
        this.eps = s.eps();
        this.norm = w.norm();
        this.inProj = w.inProj();
        this.convW = w.convW();
        this.convB = w.convB();
        this.dtBias = w.dtBias();
        this.aLog = w.aLog();
        this.dSkip = w.d();
        this.gateNorm = w.gateNorm();
        this.outProj = w.outProj();
    }

    private volatile float[] taps; // the conv weight widened once when it is mapped in a 16-bit or quantized type (inference only)

    private float[] convTaps() {
        if (taps == null) taps = convW.value().data();
        return taps;
    }

    /**
     * Mamba-2's initial dt_bias: softplus⁻¹ of a dt drawn log-uniformly from [dtMin, dtMax] per head (one draw of {@code r}
     * each, in head order).
     */
    public static float[] initialDtBias(java.util.Random r, int heads, double dtMin, double dtMax) {
        float[] out = new float[heads];
        for (int h = 0; h < heads; h++) {
            double dt = Math.exp(Math.log(dtMin) + r.nextDouble() * (Math.log(dtMax) - Math.log(dtMin)));
            out[h] = (float) (dt + Math.log(-Math.expm1(-dt)));
        }
        return out;
    }

    /** Mamba-2's initial A_log: log(1), …, log(heads) (A = −1 … −heads). */
    public static float[] initialALog(int heads) {
        float[] out = new float[heads];
        for (int h = 0; h < heads; h++) out[h] = (float) Math.log(h + 1);
        return out;
    }

    @Override
    public List<Param> params() {
        return List.of(norm, inProj, convW, convB, dtBias, aLog, dSkip, gateNorm, outProj);
    }

    private static float silu(float v) {
        return v / (1f + (float) Math.exp(-v));
    }

    private static float sigmoid(float v) {
        return 1f / (1f + (float) Math.exp(-v));
    }

    private static float softplus(float v) {
        return v > 20f ? v : (float) Math.log1p(Math.exp(v));
    }

    /** Everything backward needs of one forward over S sequences of T tokens. */
    private record Saved_(float[] x, float[] h, float[] rstd, float[] proj, float[] u, float[] a, float[] dt, float[] states, float[] y,
                          float[] g, float[] grstd, float[] n, float[] out, int S, int T) implements Saved {}

    @Override
    public Saved forward(float[] x, int S, int T) {
        int R = S * T;
        float[] h = new float[R * D], rstd = new float[R];
        ops.rmsnormForward(h, rstd, x, norm.w, R, D, eps);
        float[] proj = new float[R * PROJ];
        ops.linearForward(proj, h, inProj.value(), null, R, D, PROJ);
        float[] u = new float[R * C], a = new float[R * C], dt = new float[R * H], states = new float[R * H * P * N], y = new float[R * I];
        for (int s = 0; s < S; s++) {
            conv(proj, s * T, T, null, u, a);
            scan(proj, a, s * T, T, dt, states, y, null);
        }
        float[] g = new float[R * I], grstd = new float[R * G], nrm = new float[R * I], out = new float[R * D];
        gatedNorm(proj, y, R, g, grstd, nrm);
        ops.linearForward(out, nrm, outProj.value(), null, R, I, D);
        return new Saved_(x, h, rstd, proj, u, a, dt, states, y, g, grstd, nrm, out, S, T);
    }

    /**
     * Each head's share of the output on {@code R} rows of input x (run as one sequence): the mean over rows of
     * ‖out_proj[:, head] · n_head‖, n the gated, normalized scan output — what a narrower mixer loses by dropping the head.
     */
    public double[] headScores(float[] x, int R) {
        Saved_ st = (Saved_) forward(x, 1, R);
        float[] n = st.n(), w = outProj.value().data();
        double[] score = new double[H];
        float[] v = new float[D];
        for (int r = 0; r < R; r++) {
            for (int h = 0; h < H; h++) {
                java.util.Arrays.fill(v, 0f);
                for (int d = 0; d < D; d++) {
                    float acc = 0;
                    for (int p = 0; p < P; p++) acc += w[d * I + h * P + p] * n[r * I + h * P + p];
                    v[d] = acc;
                }
                double ss = 0;
                for (float e : v) ss += (double) e * e;
                score[h] += Math.sqrt(ss) / R;
            }
        }
        return score;
    }

    /**
     * The causal depthwise conv over rows [r0, r0+T) of proj's xBC part, with {@code window} (K−1 earlier inputs per
     * channel, oldest first; null: zeros) before them: u = conv + bias, a = silu(u).
     */
    private void conv(float[] proj, int r0, int T, float[] window, float[] u, float[] a) {
        float[] w = convW.w != null ? convW.w : convTaps(), b = convB.w;
        for (int t = 0; t < T; t++) {
            int r = r0 + t;
            for (int c = 0; c < C; c++) {
                float acc = b[c];
                for (int k = 0; k < K; k++) {
                    int src = t + k - (K - 1); // the input k − (K−1) steps from t
                    float in = src >= 0 ? proj[(r0 + src) * PROJ + I + c] : window == null ? 0f : window[(K - 1 + src) * C + c];
                    acc += w[c * K + k] * in;
                }
                u[r * C + c] = acc;
                a[r * C + c] = silu(acc);
            }
        }
    }

    /**
     * The recurrence over rows [r0, r0+T): dt, the state after each row (when {@code states} is non-null) and y, from
     * {@code state} (H·P·N; null: zeros), which it leaves at the last row's.
     */
    private void scan(float[] proj, float[] a, int r0, int T, float[] dt, float[] states, float[] y, float[] state) {
        float[] S = state != null ? state : new float[H * P * N];
        int hpg = H / G;
        for (int t = 0; t < T; t++) {
            int r = r0 + t;
            for (int hh = 0; hh < H; hh++) {
                int grp = hh / hpg;
                float d = softplus(proj[r * PROJ + I + C + hh] + dtBias.w[hh]);
                dt[r * H + hh] = d;
                float decay = (float) Math.exp(-d * Math.exp(aLog.w[hh]));
                int xo = r * C + hh * P, bo = r * C + I + grp * N, co = r * C + I + G * N + grp * N, so = hh * P * N;
                for (int p = 0; p < P; p++) {
                    float xv = a[xo + p], dx = d * xv, acc = 0f;
                    int sp = so + p * N;
                    for (int n = 0; n < N; n++) {
                        float sv = decay * S[sp + n] + dx * a[bo + n];
                        S[sp + n] = sv;
                        acc += sv * a[co + n];
                    }
                    y[r * I + hh * P + p] = acc + dSkip.w[hh] * xv;
                }
            }
            if (states != null) System.arraycopy(S, 0, states, r * H * P * N, H * P * N);
        }
    }

    /** g = y ⊙ silu(z); n = weight ⊙ g·r per group of I/G channels, r = 1/√(mean(g²) + eps) saved in grstd. */
    private void gatedNorm(float[] proj, float[] y, int R, float[] g, float[] grstd, float[] out) {
        int M = I / G;
        for (int r = 0; r < R; r++) {
            for (int i = 0; i < I; i++) g[r * I + i] = y[r * I + i] * silu(proj[r * PROJ + i]);
            for (int q = 0; q < G; q++) {
                int o = r * I + q * M;
                double ss = 0;
                for (int i = 0; i < M; i++) ss += (double) g[o + i] * g[o + i];
                float rs = (float) (1.0 / Math.sqrt(ss / M + eps));
                grstd[r * G + q] = rs;
                for (int i = 0; i < M; i++) out[o + i] = gateNorm.w[q * M + i] * g[o + i] * rs;
            }
        }
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        Saved_ st = (Saved_) saved;
        int S = st.S(), T = st.T(), R = S * T, M = I / G, hpg = H / G, HPN = H * P * N;
        float[] proj = st.proj(), a = st.a(), dt = st.dt();
        // out_proj, then the gated group norm
        float[] dn = new float[R * I];
        ops.linearBackward(dn, false, outProj.grad(), null, dOut, st.n(), outProj.w, R, I, D);
        float[] dg = new float[R * I], dgw = gateNorm.grad();
        for (int r = 0; r < R; r++) {
            for (int q = 0; q < G; q++) {
                int o = r * I + q * M;
                float rs = st.grstd()[r * G + q];
                double dot = 0;
                for (int i = 0; i < M; i++) {
                    float wdn = gateNorm.w[q * M + i] * dn[o + i];
                    dot += (double) wdn * st.g()[o + i];
                    dgw[q * M + i] += dn[o + i] * st.g()[o + i] * rs;
                }
                float c = (float) (dot * rs * rs * rs / M);
                for (int i = 0; i < M; i++) dg[o + i] = rs * gateNorm.w[q * M + i] * dn[o + i] - c * st.g()[o + i];
            }
        }
        // g = y ⊙ silu(z)
        float[] dproj = new float[R * PROJ], dy = new float[R * I];
        for (int r = 0; r < R; r++) {
            for (int i = 0; i < I; i++) {
                float z = proj[r * PROJ + i], sg = sigmoid(z), yv = st.y()[r * I + i], d = dg[r * I + i];
                dy[r * I + i] = d * z * sg;
                dproj[r * PROJ + i] = d * yv * sg * (1f + z * (1f - sg));
            }
        }
        // the recurrence, backwards in time per sequence and head
        float[] da = new float[R * C], ddt = new float[R * H];
        float[] dD = dSkip.grad(), dALog = aLog.grad();
        float[] dS = new float[P * N];
        for (int s = 0; s < S; s++) {
            for (int hh = 0; hh < H; hh++) {
                int grp = hh / hpg;
                float A = (float) -Math.exp(aLog.w[hh]);
                java.util.Arrays.fill(dS, 0f);
                double dA = 0;
                for (int t = T - 1; t >= 0; t--) {
                    int r = s * T + t;
                    int xo = r * C + hh * P, bo = r * C + I + grp * N, co = r * C + I + G * N + grp * N, so = r * HPN + hh * P * N;
                    float d = dt[r * H + hh], decay = (float) Math.exp(d * A);
                    double dDecay = 0, dDt = 0;
                    for (int p = 0; p < P; p++) {
                        float dyv = dy[r * I + hh * P + p], xv = a[xo + p];
                        dD[hh] += dyv * xv;
                        da[xo + p] += dSkip.w[hh] * dyv;
                        double dxs = 0;
                        for (int n = 0; n < N; n++) {
                            int k = p * N + n;
                            float sv = st.states()[so + k];
                            da[co + n] += dyv * sv;                        // y = S·C
                            float dsv = dS[k] + dyv * a[co + n];
                            float prev = t > 0 ? st.states()[(r - 1) * HPN + hh * P * N + k] : 0f;
                            dDecay += (double) dsv * prev;                 // S_t = decay·S_{t−1} + dt·x⊗B
                            dDt += (double) dsv * xv * a[bo + n];
                            dxs += (double) dsv * a[bo + n];
                            da[bo + n] += dsv * d * xv;
                            dS[k] = dsv * decay;                           // to S_{t−1}
                        }
                        da[xo + p] += (float) (dxs * d);
                    }
                    dDt += dDecay * decay * A;
                    dA += dDecay * decay * d;
                    ddt[r * H + hh] += (float) dDt;
                }
                dALog[hh] += (float) (dA * A); // A = −exp(A_log)
            }
        }
        // dt = softplus(raw + bias)
        float[] dBias = dtBias.grad();
        for (int r = 0; r < R; r++) {
            for (int hh = 0; hh < H; hh++) {
                float v = sigmoid(proj[r * PROJ + I + C + hh] + dtBias.w[hh]) * ddt[r * H + hh];
                dproj[r * PROJ + I + C + hh] = v;
                dBias[hh] += v;
            }
        }
        // a = silu(u), u = conv(xBC) + bias
        float[] dW = convW.grad(), dB = convB.grad();
        for (int s = 0; s < S; s++) {
            for (int t = 0; t < T; t++) {
                int r = s * T + t;
                for (int c = 0; c < C; c++) {
                    float uv = st.u()[r * C + c], sg = sigmoid(uv), du = da[r * C + c] * sg * (1f + uv * (1f - sg));
                    dB[c] += du;
                    for (int k = 0; k < K; k++) {
                        int src = t + k - (K - 1);
                        if (src < 0) continue;
                        int rs = s * T + src;
                        dW[c * K + k] += du * proj[rs * PROJ + I + c];
                        dproj[rs * PROJ + I + c] += du * convW.w[c * K + k];
                    }
                }
            }
        }
        float[] dh = new float[R * D], dx = new float[R * D];
        ops.linearBackward(dh, false, inProj.grad(), null, dproj, st.h(), inProj.w, R, D, PROJ);
        Ops.rmsnormBackward(dx, norm.grad(), dh, st.x(), st.rstd(), norm.w, R, D);
        return dx;
    }

    /** One sequence's state: the last K−1 conv inputs (oldest first, C each) and S per head (H·P·N). */
    public record MambaState(float[] window, float[] ssm) implements State {}

    @Override
    public State newState(int capacity) {
        return new MambaState(new float[(K - 1) * C], new float[H * P * N]);
    }

    @Override
    public void step(State state, float[] x, int T, int pos0) {
        MambaState ms = (MambaState) state;
        float[] h = new float[T * D], rstd = new float[T];
        ops.rmsnormForward(h, rstd, x, norm.w, T, D, eps);
        float[] proj = new float[T * PROJ];
        ops.kernels().linear(h, 0, T, D, inProj.value(), proj, 0, false);
        float[] u = new float[T * C], a = new float[T * C], dt = new float[T * H], y = new float[T * I];
        conv(proj, 0, T, pos0 == 0 ? null : ms.window(), u, a);
        if (pos0 == 0) java.util.Arrays.fill(ms.ssm(), 0f);
        scan(proj, a, 0, T, dt, null, y, ms.ssm());
        // the window keeps the last K−1 conv inputs (before this call's, where T < K−1)
        float[] win = ms.window(), next = new float[(K - 1) * C];
        for (int j = 0; j < K - 1; j++) {
            int src = T - (K - 1) + j; // row of this call, or (negative) of the old window
            for (int c = 0; c < C; c++) next[j * C + c] = src >= 0 ? proj[src * PROJ + I + c] : pos0 == 0 ? 0f : win[(K - 1 + src) * C + c];
        }
        System.arraycopy(next, 0, win, 0, next.length);
        float[] g = new float[T * I], grstd = new float[T * G], nrm = new float[T * I];
        gatedNorm(proj, y, T, g, grstd, nrm);
        ops.kernels().linear(nrm, 0, T, I, outProj.value(), x, 0, true);
    }
}
