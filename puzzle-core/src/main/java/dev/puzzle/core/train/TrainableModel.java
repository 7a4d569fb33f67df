package dev.puzzle.core.train;

import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * A whole heterogeneous decoder with forward and backward: embedding, every layer's sub-blocks
 * (x += f(x), no-op sub-blocks skipped), final RMSNorm and classifier (the embedding when tied). Trains
 * the checkpoint's tensors in place. Used for golden checks of the backward passes and for GKD.
 */
public final class TrainableModel {
    private final ModelConfig cfg;
    private final Param embedding, finalNorm, classifier;
    private final List<SubBlock> blocks = new ArrayList<>(); // attention, ffn, attention, ffn, ... (null = no-op)

    public TrainableModel(Checkpoint ck) {
        cfg = ck.config();
        Map<String, Tensor> w = ck.tensors();
        embedding = new Param(EMBED, w.get(EMBED));
        finalNorm = new Param(FINAL_NORM, w.get(FINAL_NORM));
        classifier = cfg.tiedEmbeddings() ? embedding : new Param(LM_HEAD, w.get(LM_HEAD));
        for (int l = 0; l < cfg.numLayers(); l++) {
            BlockConfig b = cfg.blocks().get(l);
            blocks.add(subBlock(cfg, l, b.attention(), w));
            blocks.add(subBlock(cfg, l, b.ffn(), w));
        }
    }

    /** The trainable form of one attention variant of layer {@code l} (null for no-op). */
    public static SubBlock subBlock(ModelConfig cfg, int l, AttentionConfig a, Map<String, Tensor> w) {
        return switch (a) {
            case AttentionConfig.Gqa g -> new AttentionBlock(cfg, l, g.numKvHeads(), 0, w);
            case AttentionConfig.Window win -> new AttentionBlock(cfg, l, win.numKvHeads(), win.window(), w);
            case AttentionConfig.Linear lin -> new LinearBlock(cfg, l, true, w);
            case AttentionConfig.NoOp n -> null;
        };
    }

    /** The trainable form of one FFN variant of layer {@code l} (null for no-op). */
    public static SubBlock subBlock(ModelConfig cfg, int l, FfnConfig f, Map<String, Tensor> w) {
        return switch (f) {
            case FfnConfig.Dense d -> new FfnBlock(cfg, l, w);
            case FfnConfig.Linear lin -> new LinearBlock(cfg, l, false, w);
            case FfnConfig.NoOp n -> null;
        };
    }

    /** Every parameter once (a tied classifier is the embedding). */
    public List<Param> params() {
        Map<String, Param> m = new LinkedHashMap<>();
        m.put(embedding.name, embedding);
        for (SubBlock b : blocks) if (b != null) for (Param p : b.params()) m.put(p.name, p);
        m.put(finalNorm.name, finalNorm);
        m.put(classifier.name, classifier);
        return new ArrayList<>(m.values());
    }

    public void zeroGrad() {
        for (Param p : params()) p.zeroGrad();
    }

    /** What backward needs. */
    public record Saved(int[] tokens, int S, int T, List<SubBlock.Saved> blocks, float[] x, float[] xn, float[] rstd, float[] logits) {}

    /** Forward over S sequences of T tokens (tokens[s·T + t]); logits (S·T, V). */
    public Saved forward(int[] tokens, int S, int T) {
        int N = S * T, D = cfg.dim(), V = cfg.vocabSize();
        float[] x = new float[N * D];
        for (int n = 0; n < N; n++) System.arraycopy(embedding.w, tokens[n] * D, x, n * D, D);
        List<SubBlock.Saved> saved = new ArrayList<>();
        for (SubBlock b : blocks) {
            if (b == null) {
                saved.add(null);
                continue;
            }
            SubBlock.Saved s = b.forward(x.clone(), S, T);
            saved.add(s);
            float[] out = s.out();
            for (int i = 0; i < x.length; i++) x[i] += out[i];
        }
        float[] xn = new float[N * D], rstd = new float[N], logits = new float[N * V];
        Ops.rmsnormForward(xn, rstd, x, finalNorm.w, N, D, cfg.normEps());
        Ops.linearForward(logits, xn, classifier.w, null, N, D, V);
        return new Saved(tokens, S, T, saved, x, xn, rstd, logits);
    }

    /** Mean cross-entropy of logits row n predicting targets[n]; writes d loss / d logits into dLogits. */
    public static float crossEntropy(float[] logits, int[] targets, int V, float[] dLogits) {
        int N = targets.length;
        double loss = 0;
        for (int n = 0; n < N; n++) {
            loss += Losses.crossEntropy(logits, n * V, V, targets[n]);
            Losses.crossEntropyBackward(logits, n * V, V, targets[n], dLogits, n * V, 1f / N);
        }
        return (float) (loss / N);
    }

    /** Backward from d loss / d logits; accumulates every parameter's gradient. */
    public void backward(Saved s, float[] dLogits) {
        backward(s, dLogits, null);
    }

    /**
     * Backward from d loss / d logits and, when not null, d loss / d (final hidden states before the last
     * norm) — for losses on hidden states, as GKD's cosine term.
     */
    public void backward(Saved s, float[] dLogits, float[] dHidden) {
        int N = s.S() * s.T(), D = cfg.dim(), V = cfg.vocabSize();
        float[] dxn = new float[N * D];
        Ops.linearBackward(dxn, false, classifier.g, null, dLogits, s.xn(), classifier.w, N, D, V);
        float[] dx = new float[N * D];
        Ops.rmsnormBackward(dx, finalNorm.g, dxn, s.x(), s.rstd(), finalNorm.w, N, D);
        if (dHidden != null) for (int i = 0; i < dx.length; i++) dx[i] += dHidden[i];
        // x_out = x_in + f(x_in): dx_in = dx_out + f'(x_in)ᵀ dx_out, layer by layer from the top.
        for (int i = blocks.size() - 1; i >= 0; i--) {
            SubBlock b = blocks.get(i);
            if (b == null) continue;
            float[] d = b.backward(s.blocks().get(i), dx);
            for (int j = 0; j < dx.length; j++) dx[j] += d[j];
        }
        for (int n = 0; n < N; n++) {
            int tok = s.tokens()[n];
            for (int i = 0; i < D; i++) embedding.g[tok * D + i] += dx[n * D + i];
        }
    }
}
