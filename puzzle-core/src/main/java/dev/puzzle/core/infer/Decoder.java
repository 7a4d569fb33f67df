package dev.puzzle.core.infer;

import dev.puzzle.core.model.ModelConfig;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Kernels;
import dev.puzzle.core.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * The heterogeneous Llama-family decoder for inference: every layer runs its own attention op and
 * FFN op ({@link BlockOp}, built by {@link BlockOps} — the same ops training runs). {@link #forward}
 * appends a run of tokens to a {@link State}: many tokens at once is batched prefill (every
 * projection one GEMM), one token is incremental decode; both read and write the same KV caches, so
 * the two paths give the same logits.
 *
 * Dimension letters: T tokens in this call, D model dim, V vocabulary.
 */
public final class Decoder {
    private final ModelConfig cfg;
    private final Backend backend;
    private final Kernels k;
    private final Tensor embedding;   // (V, D)
    private final float[] finalNorm; // (D)
    private final Tensor classifier;  // (V, D), the embedding when tied
    private final List<BlockOp> ops = new ArrayList<>(); // attention, ffn, attention, ffn, ...

    /** On the CPU backend chosen by {@code puzzle.kernels}. */
    public Decoder(Checkpoint ckpt) {
        this(ckpt, Backend.cpu());
    }

    public Decoder(Checkpoint ckpt, Backend backend) {
        this.cfg = ckpt.config();
        this.backend = backend;
        this.k = backend.kernels();
        int D = cfg.dim(), V = cfg.vocabSize();
        embedding = ckpt.require(EMBED, V, D);
        finalNorm = ckpt.require(FINAL_NORM, D).data();
        classifier = cfg.tiedEmbeddings() ? embedding : ckpt.require(LM_HEAD, V, D);
        BlockOps factory = new BlockOps(cfg, ckpt.tensors(), ckpt.source(), backend);
        for (int l = 0; l < cfg.numLayers(); l++) {
            BlockOps.Layer layer = factory.layer(l, cfg.blocks().get(l));
            ops.add(layer.attention());
            ops.add(layer.ffn());
        }
    }

    public ModelConfig config() {
        return cfg;
    }

    public Backend backend() {
        return backend;
    }

    /** A fresh generation state (KV caches) for up to {@code capacity} positions. */
    public State newState(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        return new State(capacity);
    }

    /** Every op's state (the attention layers' KV caches; window layers keep a ring) and the next position. */
    public final class State {
        private final int capacity;
        private final BlockOp.State[] states;
        private int pos;

        private State(int capacity) {
            this.capacity = capacity;
            states = new BlockOp.State[ops.size()];
            for (int i = 0; i < ops.size(); i++) states[i] = ops.get(i).newState(capacity);
        }

        public int position() {
            return pos;
        }

        public int capacity() {
            return capacity;
        }
    }

    /**
     * Runs tokens[off, off+len) at positions state.pos.. and advances the state. Returns logits
     * (len, V) when {@code allLogits}, else the last position's (1, V).
     */
    public float[] forward(State st, int[] tokens, int off, int len, boolean allLogits) {
        float[] h = hidden(st, tokens, off, len);
        return logits(h, len, allLogits);
    }

    /** The final hidden states before the last norm: (len, D); advances the state. */
    public float[] hidden(State st, int[] tokens, int off, int len) {
        if (len < 1) throw new IllegalArgumentException("need at least one token, got " + len);
        if (st.pos + len > st.capacity) {
            throw new PuzzleException("sequence of " + (st.pos + len) + " positions exceeds the state's capacity " + st.capacity);
        }
        final int T = len;
        float[] x = embed(tokens, off, len);
        for (int i = 0; i < ops.size(); i++) {
            BlockOp op = ops.get(i);
            if (!op.identity()) op.step(st.states[i], x, T, st.pos);
        }
        st.pos += T;
        return x;
    }

    /** The token embeddings of tokens[off, off+len): the residual stream entering layer 0, (len, D). */
    public float[] embed(int[] tokens, int off, int len) {
        int D = cfg.dim(), V = cfg.vocabSize();
        float[] x = new float[len * D];
        for (int t = 0; t < len; t++) {
            int tok = tokens[off + t];
            if (tok < 0 || tok >= V) throw new PuzzleException("token id " + tok + " outside the vocabulary [0, " + V + ")");
            embedding.rows(tok, 1, x, t * D);
        }
        return x;
    }

    /**
     * Runs layers [from, to) over a whole sequence's residual stream x (T, D), in place, from position 0, each layer
     * on a fresh state that is not kept: what {@link #hidden} computes for those layers of a new sequence, bit for bit.
     * Replace-1-block scoring starts a child at its replaced layer from the parent's stream entering it.
     */
    public void layers(float[] x, int T, int from, int to) {
        if (from < 0 || to > cfg.numLayers() || from > to) throw new IllegalArgumentException("layers [" + from + ", " + to + ") of " + cfg.numLayers());
        for (int i = 2 * from; i < 2 * to; i++) {
            BlockOp op = ops.get(i);
            if (!op.identity()) op.step(op.newState(T), x, T, 0);
        }
    }

    /** Final RMSNorm and classifier over hidden states (T, D). */
    public float[] logits(float[] x, int T, boolean allLogits) {
        return logits(x, allLogits ? 0 : T - 1, T);
    }

    /** The logits of positions [from, T) of the final hidden states x (T, D): (T − from, V). */
    public float[] logits(float[] x, int from, int T) {
        int D = cfg.dim(), V = cfg.vocabSize();
        int n = T - from;
        float[] xn = new float[n * D];
        for (int t = 0; t < n; t++) k.rmsnorm(xn, t * D, x, (from + t) * D, finalNorm, D, cfg.normEps());
        float[] out = new float[n * V];
        k.linear(xn, 0, n, D, classifier, out, 0, false);
        return out;
    }
}
