package dev.puzzle.expertpruning;

import dev.puzzle.blocklibrary.CandidateInit;
import dev.puzzle.blocklibrary.ExpertScoring;
import dev.puzzle.core.ops.MoeOp;

import java.util.Arrays;
import java.util.Locale;

/**
 * How much each expert of one MoE layer matters, measured on calibration tokens (the layer's inputs, the
 * residual stream before its FFN norm). Every score is "higher = keep"; {@link #keep} picks the experts a
 * candidate with fewer experts keeps. The methods are named by {@link ExpertScoring}:
 * <ul>
 *   <li>{@link ExpertScoring#FREQUENCY}: the fraction of tokens that route to the expert (in their top-k);</li>
 *   <li>{@link ExpertScoring#REAP} (Cerebras, 2025): the mean over the tokens routed to the expert of its mixing
 *       weight × ‖expert output‖₂, 0 for an expert no token reaches;</li>
 *   <li>{@link ExpertScoring#RANKED_CHOICE} (Puzzletron's method for gpt-oss): each token casts k votes for its
 *       k most probable experts still standing; the expert with the fewest votes is dropped and its
 *       voters move to their next preference, until one is left; the score is the round an expert
 *       survives to;</li>
 *   <li>{@link ExpertScoring#REROUTE}: mask the expert, re-route the tokens among the others, and measure the
 *       layer output's change, Σ‖f′ − f‖² / Σ‖f‖².</li>
 * </ul>
 */
public final class ExpertScores {
    private ExpertScores() {}

    /** Scores of the experts of {@code op} on N calibration rows x (N, D). */
    public static double[] score(MoeOp op, ExpertScoring method, float[] x, int N) {
        float[] h = op.normed(x, new float[N], N);
        MoeOp.Routing r = op.route(h, N);
        int E = op.numExperts(), K = op.topK();
        return switch (method) {
            case FREQUENCY -> {
                double[] s = new double[E];
                for (int i = 0; i < N * K; i++) s[r.experts()[i]] += 1.0 / N;
                yield s;
            }
            case REAP -> reap(op, h, r, N);
            case RANKED_CHOICE -> rankedChoice(r.probs(), N, E, K);
            case REROUTE -> reroute(op, h, r, N);
        };
    }

    private static double[] reap(MoeOp op, float[] h, MoeOp.Routing r, int N) {
        int E = op.numExperts(), K = op.topK(), D = h.length / N;
        double[] sum = new double[E];
        int[] count = new int[E];
        for (int e = 0; e < E; e++) {
            int n = 0;
            for (int i = 0; i < N * K; i++) if (r.experts()[i] == e) n++;
            if (n == 0) continue;
            int[] slots = new int[n];
            float[] he = new float[n * D];
            for (int i = 0, j = 0; i < N * K; i++) {
                if (r.experts()[i] != e) continue;
                slots[j] = i;
                System.arraycopy(h, (i / K) * D, he, j * D, D);
                j++;
            }
            float[] y = op.expertOutput(e, he, n);
            for (int j = 0; j < n; j++) {
                double norm = 0;
                for (int d = 0; d < D; d++) norm += (double) y[j * D + d] * y[j * D + d];
                sum[e] += r.weights()[slots[j]] * Math.sqrt(norm);
            }
            count[e] = n;
        }
        double[] s = new double[E];
        for (int e = 0; e < E; e++) s[e] = count[e] == 0 ? 0 : sum[e] / count[e];
        return s;
    }

    static double[] rankedChoice(float[] probs, int N, int E, int K) {
        boolean[] out = new boolean[E];
        double[] score = new double[E];
        double[] mass = new double[E];
        for (int n = 0; n < N; n++) for (int e = 0; e < E; e++) mass[e] += probs[n * E + e];
        for (int round = 0; round < E; round++) {
            int standing = E - round;
            int votesPerToken = Math.min(K, standing);
            long[] votes = new long[E];
            for (int n = 0; n < N; n++) {
                for (int v = 0; v < votesPerToken; v++) votes[preference(probs, n * E, E, out, v)]++;
            }
            int drop = -1;
            for (int e = 0; e < E; e++) {
                if (out[e]) continue;
                if (drop < 0 || votes[e] < votes[drop] || (votes[e] == votes[drop] && mass[e] < mass[drop])) drop = e;
            }
            out[drop] = true;
            score[drop] = round + 1;
        }
        return score;
    }

    /** The token's (v+1)-th most probable expert still standing (ties: the lower index). */
    private static int preference(float[] probs, int off, int E, boolean[] out, int v) {
        boolean[] taken = new boolean[E];
        int best = -1;
        for (int j = 0; j <= v; j++) {
            best = -1;
            for (int e = 0; e < E; e++) {
                if (out[e] || taken[e]) continue;
                if (best < 0 || probs[off + e] > probs[off + best]) best = e;
            }
            taken[best] = true;
        }
        return best;
    }

    private static double[] reroute(MoeOp op, float[] h, MoeOp.Routing r, int N) {
        int E = op.numExperts();
        float[] f = op.mixture(h, r, N);
        double base = 0;
        for (float v : f) base += (double) v * v;
        double[] s = new double[E];
        if (E <= op.topK()) { // no expert can go without leaving fewer than k
            Arrays.fill(s, Double.POSITIVE_INFINITY);
            return s;
        }
        for (int e = 0; e < E; e++) {
            boolean[] removed = new boolean[E];
            removed[e] = true;
            float[] g = op.mixture(h, op.route(h, N, removed), N);
            double d = 0;
            for (int i = 0; i < g.length; i++) d += (double) (g[i] - f[i]) * (g[i] - f[i]);
            s[e] = base > 0 ? d / base : d;
        }
        return s;
    }

    /** The {@code n} experts of highest score, in their original order (ties: the lower index). */
    public static int[] keep(double[] scores, int n) {
        return CandidateInit.topExperts(scores, n);
    }

    /** The library stage's scorer for {@code method}. */
    public static ExpertScoring.Scorer scorer(ExpertScoring method) {
        return (op, x, N) -> score(op, method, x, N);
    }
}
