package dev.puzzle.expertpruning;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.ops.Ops;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * MoEfication (Zhang et al., 2022) of one dense SwiGLU FFN into E experts of F/E neurons each:
 * <ol>
 *   <li>the neurons are clustered by co-activation on calibration tokens — each neuron's profile is its
 *       |silu(w1 h)·(w3 h)| over the tokens, unit-normalized; balanced k-means (cosine) puts F/E neurons
 *       in each cluster;</li>
 *   <li>expert e takes its neurons' gate and up rows and down columns, so the sum of all experts is the
 *       dense FFN exactly; its down projection is scaled by k, since the top-k mixing weights
 *       (renormalized, Mixtral-style) start near 1/k;</li>
 *   <li>the router is fit by ridge least squares to each token's standardized expert-output norms
 *       ‖expert_e(h)‖, so that the top-k experts are the ones that matter for that token, and scaled down
 *       so that the mixing weights start near uniform.</li>
 * </ol>
 * Training the router and the experts against the dense FFN's output (blockwise distillation) is the
 * caller's next step.
 */
public final class Moefication {
    private Moefication() {}

    /**
     * The tensors (HF names of layer l) of the MoE layer split from the dense FFN tensors {@code pw} of
     * layer l, given its normalized inputs h (N, D).
     */
    public static Map<String, Tensor> split(Backend backend, Map<String, Tensor> pw, int l, float[] h, int N, int experts, int topK, long seed) {
        Tensor w1 = pw.get(layer(l, GATE)), w3 = pw.get(layer(l, UP)), w2 = pw.get(layer(l, DOWN));
        if (w1 == null || w3 == null || w2 == null) throw new PuzzleException("layer " + l + ": MoEfication needs a dense SwiGLU FFN");
        int F = w1.dim(0), D = w1.dim(1);
        if (F % experts != 0) throw new PuzzleException("layer " + l + ": FFN width " + F + " is not a multiple of " + experts + " experts");
        Ops ops = new Ops(backend.kernels());
        float[] a = new float[N * F], b = new float[N * F], act = new float[N * F];
        ops.linearForward(a, h, w1, null, N, D, F);
        ops.linearForward(b, h, w3, null, N, D, F);
        Ops.swigluForward(act, a, b, N * F);
        int[][] groups = cluster(act, N, F, experts, seed);
        float[] g = w1.data(), u = w3.data(), d = w2.data();
        int I = F / experts;
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(layer(l, FFN_NORM), pw.get(layer(l, FFN_NORM)).copy());
        float[][] norms = new float[experts][];
        List<Map.Entry<String, Tensor>> expertTensors = new ArrayList<>();
        for (int e = 0; e < experts; e++) {
            float[] ge = new float[I * D], ue = new float[I * D], de = new float[D * I];
            for (int j = 0; j < I; j++) {
                int n = groups[e][j];
                System.arraycopy(g, n * D, ge, j * D, D);
                System.arraycopy(u, n * D, ue, j * D, D);
                for (int i = 0; i < D; i++) de[i * I + j] = d[i * F + n];
            }
            // ‖expert_e(h_n)‖ before the scaling, for the router's targets
            float[] y = new float[N * D], ae = new float[N * I];
            for (int t = 0; t < N; t++) for (int j = 0; j < I; j++) ae[t * I + j] = act[t * F + groups[e][j]];
            ops.linearForward(y, ae, new Tensor(de, D, I), null, N, I, D);
            norms[e] = new float[N];
            for (int t = 0; t < N; t++) {
                double s = 0;
                for (int i = 0; i < D; i++) s += (double) y[t * D + i] * y[t * D + i];
                norms[e][t] = (float) Math.sqrt(s);
            }
            for (int i = 0; i < de.length; i++) de[i] *= topK;
            expertTensors.add(Map.entry(layer(l, expert(e, EXPERT_GATE)), new Tensor(ge, I, D)));
            expertTensors.add(Map.entry(layer(l, expert(e, EXPERT_UP)), new Tensor(ue, I, D)));
            expertTensors.add(Map.entry(layer(l, expert(e, EXPERT_DOWN)), new Tensor(de, D, I)));
        }
        out.put(layer(l, ROUTER), new Tensor(router(h, N, D, norms), experts, D));
        for (var e : expertTensors) out.put(e.getKey(), e.getValue());
        return out;
    }

    /** The MoE config of the split: E experts of F/E, top-k renormalized (Mixtral's routing), no shared expert. */
    public static FfnConfig.Moe config(int F, int experts, int topK) {
        return new FfnConfig.Moe(experts, topK, F / experts, true, 0);
    }

    /** Balanced k-means (cosine) of the F neurons' activation profiles into E groups of F/E, each sorted. */
    static int[][] cluster(float[] act, int N, int F, int E, long seed) {
        float[][] prof = new float[F][N];
        for (int j = 0; j < F; j++) {
            double s = 0;
            for (int t = 0; t < N; t++) {
                prof[j][t] = Math.abs(act[t * F + j]);
                s += (double) prof[j][t] * prof[j][t];
            }
            float inv = s > 0 ? (float) (1 / Math.sqrt(s)) : 0;
            for (int t = 0; t < N; t++) prof[j][t] *= inv;
        }
        Random r = new Random(seed);
        float[][] cent = new float[E][];
        int[] start = r.ints(0, F).distinct().limit(E).toArray();
        for (int e = 0; e < E; e++) cent[e] = prof[start[e]].clone();
        int cap = F / E;
        int[] assign = new int[F];
        for (int iter = 0; iter < 20; iter++) {
            double[][] sim = new double[F][E];
            Integer[] pairs = new Integer[F * E];
            for (int j = 0; j < F; j++) {
                for (int e = 0; e < E; e++) {
                    double s = 0;
                    for (int t = 0; t < N; t++) s += (double) prof[j][t] * cent[e][t];
                    sim[j][e] = s;
                    pairs[j * E + e] = j * E + e;
                }
            }
            Arrays.sort(pairs, (p, q) -> Double.compare(sim[q / E][q % E], sim[p / E][p % E]));
            int[] fill = new int[E];
            int[] next = new int[F];
            Arrays.fill(next, -1);
            for (int p : pairs) {
                int j = p / E, e = p % E;
                if (next[j] >= 0 || fill[e] == cap) continue;
                next[j] = e;
                fill[e]++;
            }
            boolean same = Arrays.equals(next, assign) && iter > 0;
            assign = next;
            for (int e = 0; e < E; e++) {
                float[] c = new float[N];
                for (int j = 0; j < F; j++) if (assign[j] == e) for (int t = 0; t < N; t++) c[t] += prof[j][t];
                double s = 0;
                for (float v : c) s += (double) v * v;
                float inv = s > 0 ? (float) (1 / Math.sqrt(s)) : 0;
                for (int t = 0; t < N; t++) c[t] *= inv;
                cent[e] = c;
            }
            if (same) break;
        }
        int[][] groups = new int[E][cap];
        int[] fill = new int[E];
        for (int j = 0; j < F; j++) groups[assign[j]][fill[assign[j]]++] = j;
        return groups;
    }

    /**
     * Router rows fit by ridge least squares: h · Wrᵀ ≈ z, z the per-token standardized expert-output norms,
     * scaled down by {@link #ROUTER_SCALE}: the ranking (which experts a token gets) is the fit's, the mixing
     * weights start near 1/k, where the experts' k-scaled down projections sum to the dense FFN.
     */
    static final double ROUTER_SCALE = 0.1;

    static float[] router(float[] h, int N, int D, float[][] norms) {
        int E = norms.length;
        double[][] hth = new double[D][D];
        double[][] htz = new double[D][E];
        for (int t = 0; t < N; t++) {
            double mean = 0, var = 0;
            for (int e = 0; e < E; e++) mean += norms[e][t];
            mean /= E;
            for (int e = 0; e < E; e++) var += (norms[e][t] - mean) * (norms[e][t] - mean);
            double sd = Math.sqrt(var / E) + 1e-6;
            for (int i = 0; i < D; i++) {
                double hi = h[t * D + i];
                for (int j = 0; j < D; j++) hth[i][j] += hi * h[t * D + j];
                for (int e = 0; e < E; e++) htz[i][e] += hi * (norms[e][t] - mean) / sd;
            }
        }
        double ridge = 1e-3 * java.util.stream.IntStream.range(0, D).mapToDouble(i -> hth[i][i]).sum() / D + 1e-9;
        for (int i = 0; i < D; i++) hth[i][i] += ridge;
        double[][] x = solve(hth, htz);
        float[] w = new float[E * D];
        for (int e = 0; e < E; e++) for (int i = 0; i < D; i++) w[e * D + i] = (float) (ROUTER_SCALE * x[i][e]);
        return w;
    }

    /** Solves A X = B (A symmetric positive definite, D×D) by Cholesky. */
    private static double[][] solve(double[][] a, double[][] b) {
        int n = a.length, m = b[0].length;
        double[][] l = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = a[i][j];
                for (int k = 0; k < j; k++) s -= l[i][k] * l[j][k];
                l[i][j] = i == j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j][j];
            }
        }
        double[][] x = new double[n][m];
        for (int c = 0; c < m; c++) {
            double[] y = new double[n];
            for (int i = 0; i < n; i++) {
                double s = b[i][c];
                for (int k = 0; k < i; k++) s -= l[i][k] * y[k];
                y[i] = s / l[i][i];
            }
            for (int i = n - 1; i >= 0; i--) {
                double s = y[i];
                for (int k = i + 1; k < n; k++) s -= l[k][i] * x[k][c];
                x[i][c] = s / l[i][i];
            }
        }
        return x;
    }
}
