package dev.puzzle.core.train;

import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.Ops;
import dev.puzzle.core.ops.Param;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * A whole heterogeneous decoder with forward and backward: embedding, every layer's block ops
 * ({@link BlockOps}, the ops inference runs; x += f(x), no-ops skipped), final RMSNorm and classifier (the embedding when tied). Trains
 * the checkpoint's tensors in place. Used for golden checks of the backward passes and for GKD.
 */
public final class TrainableModel {
    private final ModelConfig cfg;
    private final Ops ops;
    private final Losses losses;
    private final Param embedding, finalNorm, classifier;
    private final List<BlockOp> blocks = new ArrayList<>(); // attention, ffn, attention, ffn, ...

    /** Trains {@code ck}'s heap tensors in place; mapped ones are widened into heap copies first. */
    public TrainableModel(Checkpoint ck, Backend backend) {
        cfg = ck.config();
        ops = new Ops(backend.kernels());
        losses = new Losses(backend.kernels());
        Map<String, Tensor> w = new java.util.LinkedHashMap<>();
        ck.tensors().forEach((name, t) -> w.put(name, t.onHeap()));
        ck = new Checkpoint(cfg, w, ck.storedTypes(), ck.tokenizer(), ck.source());
        embedding = new Param(EMBED, ck.require(EMBED, cfg.vocabSize(), cfg.dim()));
        finalNorm = new Param(FINAL_NORM, ck.require(FINAL_NORM, cfg.dim()));
        classifier = cfg.tiedEmbeddings() ? embedding : new Param(LM_HEAD, ck.require(LM_HEAD, cfg.vocabSize(), cfg.dim()));
        BlockOps factory = new BlockOps(cfg, w, ck.source(), ops);
        for (int l = 0; l < cfg.numLayers(); l++) {
            BlockOps.Layer layer = factory.layer(l, cfg.blocks().get(l));
            blocks.add(layer.attention());
            blocks.add(layer.ffn());
        }
    }

    /** Every parameter once (a tied classifier is the embedding). */
    public List<Param> params() {
        Map<String, Param> m = new LinkedHashMap<>();
        m.put(embedding.name, embedding);
        for (BlockOp b : blocks) for (Param p : b.params()) m.put(p.name, p);
        m.put(finalNorm.name, finalNorm);
        m.put(classifier.name, classifier);
        return new ArrayList<>(m.values());
    }

    public void zeroGrad() {
        for (Param p : params()) p.zeroGrad();
    }

    /** What backward needs. */
    public record Saved(int[] tokens, int S, int T, List<BlockOp.Saved> blocks, float[] x, float[] xn, float[] rstd, float[] logits) {}

    /** Forward over S sequences of T tokens (tokens[s·T + t]); logits (S·T, V). */
    public Saved forward(int[] tokens, int S, int T) {
        int N = S * T, D = cfg.dim(), V = cfg.vocabSize();
        float[] x = new float[N * D];
        for (int n = 0; n < N; n++) System.arraycopy(embedding.w, tokens[n] * D, x, n * D, D);
        List<BlockOp.Saved> saved = new ArrayList<>();
        for (BlockOp b : blocks) {
            if (b.identity()) {
                saved.add(null);
                continue;
            }
            BlockOp.Saved s = b.forward(x.clone(), S, T);
            saved.add(s);
            float[] out = s.out();
            for (int i = 0; i < x.length; i++) x[i] += out[i];
        }
        float[] xn = new float[N * D], rstd = new float[N], logits = new float[N * V];
        ops.rmsnormForward(xn, rstd, x, finalNorm.w, N, D, cfg.normEps());
        ops.linearForward(logits, xn, classifier.value(), null, N, D, V);
        return new Saved(tokens, S, T, saved, x, xn, rstd, logits);
    }

    /** Mean cross-entropy of logits row n predicting targets[n]; writes d loss / d logits into dLogits. */
    public float crossEntropy(float[] logits, int[] targets, int V, float[] dLogits) {
        int N = targets.length;
        double loss = 0;
        for (int n = 0; n < N; n++) {
            loss += losses.crossEntropy(logits, n * V, V, targets[n]);
            losses.crossEntropyBackward(logits, n * V, V, targets[n], dLogits, n * V, 1f / N);
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
        ops.linearBackward(dxn, false, classifier.grad(), null, dLogits, s.xn(), classifier.w, N, D, V);
        float[] dx = new float[N * D];
        Ops.rmsnormBackward(dx, finalNorm.grad(), dxn, s.x(), s.rstd(), finalNorm.w, N, D);
        if (dHidden != null) for (int i = 0; i < dx.length; i++) dx[i] += dHidden[i];
        // x_out = x_in + f(x_in): dx_in = dx_out + f'(x_in)ᵀ dx_out, layer by layer from the top.
        for (int i = blocks.size() - 1; i >= 0; i--) {
            BlockOp b = blocks.get(i);
            if (b.identity()) continue;
            float[] d = b.backward(s.blocks().get(i), dx);
            for (int j = 0; j < dx.length; j++) dx[j] += d[j];
        }
        for (int n = 0; n < N; n++) {
            int tok = s.tokens()[n];
            for (int i = 0; i < D; i++) embedding.grad()[tok * D + i] += dx[n * D + i];
        }
    }
}
