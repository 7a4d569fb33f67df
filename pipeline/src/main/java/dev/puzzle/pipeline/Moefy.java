package dev.puzzle.pipeline;

import dev.puzzle.bld.ActivationCache;
import dev.puzzle.bld.BldJob;
import dev.puzzle.bld.BldSettings;
import dev.puzzle.bld.BldTrainer;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.Perplexity;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.HfConfig;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.ops.Ops;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.Tokenizer;
import dev.puzzle.expertpruning.Moefication;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Makes a Mixtral-layout mixture-of-experts parent out of a dense one: every layer's SwiGLU FFN is split
 * into experts by co-activation on calibration text ({@link Moefication}), and its router and experts are
 * then trained against the dense FFN's output on the same text by blockwise distillation (each layer on
 * the dense parent's own activations), and optionally the whole model end to end against the dense
 * parent (global distillation). The result is a Hugging Face directory (MixtralForCausalLM, the
 * tokenizer included) and {@code moefication.json} with the held-out NLL of the dense parent and of the
 * MoE model, written atomically.
 */
public final class Moefy {
    private Moefy() {}

    /** @param tokens BLD tokens per layer; @param gkdTokens end-to-end distillation tokens afterwards (0: none) */
    public record Settings(int experts, int topK, int seqLen, int sequences, long heldoutOffset, int heldoutSequences,
                           long tokens, double lr, long gkdTokens, long seed) {}

    public record Result(double denseNll, double moeNll, int layers, ModelConfig config) {}

    public static Result run(Backend backend, Checkpoint parent, Tokenizer tok, Path text, Settings s, Path out,
                             IntConsumer progress) throws IOException {
        ModelConfig c = parent.config();
        if (!c.blocks().stream().allMatch(b -> b.ffn().denseWidth() > 0)) {
            throw new PuzzleException(parent.source() + ": MoEfication needs a parent whose every layer has a dense FFN");
        }
        if (s.topK() < 1 || s.topK() > s.experts()) throw new PuzzleException("top-k must be in [1, experts " + s.experts() + "], got " + s.topK());
        for (int l = 0; l < c.numLayers(); l++) {
            int F = c.blocks().get(l).ffn().denseWidth();
            if (s.experts() < 2 || F % s.experts() != 0) {
                throw new PuzzleException("experts " + s.experts() + ": must be >= 2 and divide layer " + l + "'s FFN width " + F);
            }
        }
        int[][] cal = TokenData.sequences(text, tok, 0, s.sequences(), s.seqLen());
        int[][] held = TokenData.sequences(text, tok, s.heldoutOffset(), s.heldoutSequences(), s.seqLen());
        Path tmp = Files.createTempDirectory("puzzle-moefy");
        try {
            ActivationCache cache = new ActivationCache(tmp);
            cache.build(backend, parent, cal, DType.F32, null);
            List<BlockConfig> blocks = new ArrayList<>();
            Map<String, Tensor> moe = new LinkedHashMap<>();
            BldSettings bld = new BldSettings(false, s.tokens(), 4, s.lr(), 0.1, 0.0, 1.0, s.seed());
            for (int l = 0; l < c.numLayers(); l++) {
                int F = c.blocks().get(l).ffn().denseWidth();
                FfnConfig.Moe m = Moefication.config(F, s.experts(), s.topK());
                ActivationCache.Layer a = cache.read(l);
                int N = a.rows();
                float[] h = new float[N * c.dim()], rstd = new float[N];
                new Ops(backend.kernels()).rmsnormForward(h, rstd, a.mid(), parent.tensors().get(TensorNames.layer(l, TensorNames.FFN_NORM)).data(), N, c.dim(), c.normEps());
                Map<String, Tensor> init = Moefication.split(backend, parent.tensors(), l, h, N, s.experts(), s.topK(), s.seed() + l);
                List<BlockConfig> one = new ArrayList<>(c.blocks());
                one.set(l, new BlockConfig(c.blocks().get(l).attention(), m));
                BldTrainer.Result r = BldTrainer.train(backend, c.withBlocks(one), new BldJob(l, null, m), init, a, bld);
                moe.putAll(r.weights());
                blocks.add(new BlockConfig(c.blocks().get(l).attention(), m));
                if (progress != null) progress.accept(l + 1);
            }
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, DType> types = new LinkedHashMap<>();
            parent.tensors().forEach((n, t) -> {
                if (n.contains(".mlp.") || n.endsWith(TensorNames.FFN_NORM)) return;
                tensors.put(n, t);
                types.put(n, DType.F32);
            });
            moe.forEach((n, t) -> {
                tensors.put(n, t);
                types.put(n, DType.F32);
            });
            int F0 = c.blocks().get(0).ffn().denseWidth();
            ModelConfig mc = new ModelConfig(HfConfig.MIXTRAL, c.dim(), c.numHeads(), c.headDim(), c.numKvHeads(), F0 / s.experts(),
                    c.vocabSize(), c.maxSeqLen(), c.normEps(), c.ropeTheta(), c.ropeStyle(), c.tiedEmbeddings(), c.qkvBias(), blocks);
            Checkpoint child = new Checkpoint(mc, tensors, types, tok, "MoEfied " + parent.source());
            if (s.gkdTokens() > 0) { // end to end against the dense parent: the layers' errors no longer compound
                child = dev.puzzle.bld.Gkd.train(backend, parent, child, cal, new dev.puzzle.bld.Gkd.Settings(s.gkdTokens(), 4, s.lr() / 2, 0.0, 1 << 30, s.seed()),
                        tmp.resolve("gkd.ckpt"), null).child();
            }
            Checkpoint moeModel = child;
            double dense = nll(new Decoder(parent, backend), held), moeNll = nll(new Decoder(moeModel, backend), held);
            AtomicFiles.writeDirectory(out, dir -> {
                Checkpoints.writeHfDir(moeModel, dir, DType.F32);
                AtomicFiles.writeString(dir.resolve("moefication.json"), String.format(Locale.ROOT,
                        "{\n  \"parent\": \"%s\",\n  \"experts\": %d,\n  \"top_k\": %d,\n  \"calibration_sequences\": %d,\n  \"seq_len\": %d,\n"
                                + "  \"bld_tokens_per_layer\": %d,\n  \"gkd_tokens\": %d,\n  \"heldout_sequences\": %d,\n  \"heldout_nll_dense\": %.6f,\n  \"heldout_nll_moe\": %.6f\n}\n",
                        parent.source().replace("\\", "\\\\").replace("\"", "\\\""), s.experts(), s.topK(), s.sequences(), s.seqLen(), s.tokens(),
                        s.gkdTokens(), s.heldoutSequences(), dense, moeNll));
            });
            return new Result(dense, moeNll, c.numLayers(), mc);
        } finally {
            AtomicFiles.deleteTree(tmp);
        }
    }

    /** Mean NLL over the held-out sequences, each from its own first token. */
    static double nll(Decoder d, int[][] seqs) {
        double sum = 0;
        long n = 0;
        for (int[] q : seqs) {
            Perplexity.Result r = Perplexity.evaluate(d, q, 64, null);
            sum += r.meanNll() * r.predicted();
            n += r.predicted();
        }
        return sum / n;
    }
}
