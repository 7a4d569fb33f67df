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
import dev.puzzle.core.model.AttentionConfig;
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

    /**
     * @param tokens    BLD tokens per layer
     * @param gkdTokens end-to-end distillation tokens afterwards (0: none)
     * @param gptOss    null: a Mixtral; else a gpt-oss parent (see {@link GptOss})
     */
    public record Settings(int experts, int topK, int seqLen, int sequences, long heldoutOffset, int heldoutSequences,
                           long tokens, double lr, long gkdTokens, long seed, GptOss gptOss) {
        public Settings(int experts, int topK, int seqLen, int sequences, long heldoutOffset, int heldoutSequences, long tokens, double lr,
                        long gkdTokens, long seed) {
            this(experts, topK, seqLen, sequences, heldoutOffset, heldoutSequences, tokens, lr, gkdTokens, seed, null);
        }
    }

    /**
     * A gpt-oss-shaped parent (GptOssForCausalLM): the experts are gpt-oss's (clamped SwiGLU with biases, a biased
     * router; biases start at zero), the attention gets q/k/v/o biases (zero) and one sink logit per head (zero: each
     * query's softmax then gives the sink its share, which the end-to-end distillation tunes), and the layers alternate
     * sliding ({@code window}) and full attention as gpt-oss's do (sliding at even layers). RoPE stays the parent's.
     */
    public record GptOss(int window) {
        public GptOss {
            if (window < 1) throw new PuzzleException("--window must be >= 1, got " + window);
        }
    }

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
            BldSettings bld = layerDistillation(s.tokens(), s.lr(), s.seed());
            for (int l = 0; l < c.numLayers(); l++) {
                int F = c.blocks().get(l).ffn().denseWidth();
                FfnConfig.Moe m = Moefication.config(F, s.experts(), s.topK());
                ActivationCache.Layer a = cache.read(l);
                int N = a.rows();
                float[] h = new float[N * c.dim()], rstd = new float[N];
                new Ops(backend.kernels()).rmsnormForward(h, rstd, a.mid(), parent.tensors().get(TensorNames.layer(l, TensorNames.FFN_NORM)).data(), N, c.dim(), c.normEps());
                Map<String, Tensor> init = Moefication.split(backend, parent.tensors(), l, h, N, s.experts(), s.topK(), s.seed() + l);
                if (s.gptOss() != null) init.putAll(zeroExpertBiases(l, m, c.dim()));
                List<BlockConfig> one = new ArrayList<>(c.blocks());
                one.set(l, new BlockConfig(c.blocks().get(l).attention(), m));
                ModelConfig trained = c.withBlocks(one);
                if (s.gptOss() != null) trained = trained.withExtensions(new ModelConfig.Extensions(false, false, null, GPT_OSS_EXPERTS));
                BldTrainer.Result r = BldTrainer.train(backend, trained, new BldJob(l, null, m), init, a, bld);
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
            if (s.gptOss() != null) {
                if (c.qkvBias() || c.qkNorm() || c.extensions().any()) throw new PuzzleException(parent.source() + ": a gpt-oss parent is made from a plain Llama");
                List<BlockConfig> alternating = new ArrayList<>();
                for (int l = 0; l < c.numLayers(); l++) {
                    int kv = blocks.get(l).attention().kvHeads();
                    alternating.add(new BlockConfig(l % 2 == 0 ? new AttentionConfig.Window(kv, s.gptOss().window()) : new AttentionConfig.Gqa(kv), blocks.get(l).ffn()));
                    int GE = kv * c.headDim();
                    tensors.put(TensorNames.layer(l, TensorNames.Q_BIAS), Tensor.zeros(c.qDim()));
                    tensors.put(TensorNames.layer(l, TensorNames.K_BIAS), Tensor.zeros(GE));
                    tensors.put(TensorNames.layer(l, TensorNames.V_BIAS), Tensor.zeros(GE));
                    tensors.put(TensorNames.layer(l, TensorNames.O_BIAS), Tensor.zeros(c.dim()));
                    tensors.put(TensorNames.layer(l, TensorNames.SINKS), Tensor.zeros(c.numHeads()));
                }
                tensors.keySet().forEach(n -> types.putIfAbsent(n, DType.F32));
                mc = new ModelConfig(HfConfig.GPT_OSS, c.dim(), c.numHeads(), c.headDim(), c.numKvHeads(), F0 / s.experts(), c.vocabSize(), c.maxSeqLen(),
                        c.normEps(), c.ropeTheta(), c.ropeStyle(), c.tiedEmbeddings(), true, alternating, false,
                        new ModelConfig.Extensions(true, true, null, GPT_OSS_EXPERTS));
            }
            final ModelConfig made = mc;
            Checkpoint moeModel = endToEnd(backend, parent, new Checkpoint(mc, tensors, types, tok, "MoEfied " + parent.source()), cal,
                    s.gkdTokens(), s.lr(), s.seed(), tmp);
            double dense = nll(new Decoder(parent, backend), held), moeNll = nll(new Decoder(moeModel, backend), held);
            AtomicFiles.writeDirectory(out, dir -> {
                Checkpoints.writeHfDir(moeModel, dir, DType.F32);
                AtomicFiles.writeString(dir.resolve("moefication.json"), String.format(Locale.ROOT,
                        "{\n  \"parent\": \"%s\",\n  \"layout\": \"%s\",\n  \"experts\": %d,\n  \"top_k\": %d,\n  \"calibration_sequences\": %d,\n  \"seq_len\": %d,\n"
                                + "  \"bld_tokens_per_layer\": %d,\n  \"gkd_tokens\": %d,\n  \"heldout_sequences\": %d,\n  \"heldout_nll_dense\": %.6f,\n  \"heldout_nll_moe\": %.6f\n}\n",
                        parent.source().replace("\\", "\\\\").replace("\"", "\\\""), made.architecture(), s.experts(), s.topK(), s.sequences(), s.seqLen(), s.tokens(),
                        s.gkdTokens(), s.heldoutSequences(), dense, moeNll));
            });
            return new Result(dense, moeNll, c.numLayers(), mc);
        } finally {
            AtomicFiles.deleteTree(tmp);
        }
    }

    /** gpt-oss's experts: limit 7, alpha 1.702 (its published constants). */
    static final ModelConfig.ClampedSwiGlu GPT_OSS_EXPERTS = new ModelConfig.ClampedSwiGlu(7f, ModelConfig.ClampedSwiGlu.GPT_OSS_ALPHA);

    /** gpt-oss's router and expert biases of layer l, zero. */
    private static Map<String, Tensor> zeroExpertBiases(int l, FfnConfig.Moe m, int D) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(TensorNames.layer(l, TensorNames.ROUTER_BIAS), Tensor.zeros(m.numExperts()));
        for (int e = 0; e < m.numExperts(); e++) {
            out.put(TensorNames.layer(l, TensorNames.expertBias(e, TensorNames.EXPERT_GATE)), Tensor.zeros(m.expertIntermediate()));
            out.put(TensorNames.layer(l, TensorNames.expertBias(e, TensorNames.EXPERT_UP)), Tensor.zeros(m.expertIntermediate()));
            out.put(TensorNames.layer(l, TensorNames.expertBias(e, TensorNames.EXPERT_DOWN)), Tensor.zeros(D));
        }
        return out;
    }

    /** The blockwise distillation of each changed layer of a made parent (decoupled, 4 sequences a step, 10% warm-up). */
    static BldSettings layerDistillation(long tokens, double lr, long seed) {
        return new BldSettings(false, tokens, 4, lr, 0.1, 0.0, 1.0, seed);
    }

    /**
     * A made parent distilled end to end against the one it was made from ({@code tokens} of GKD at half the layers'
     * learning rate; none: as it is), so that the layers' errors no longer compound; its checkpoint in {@code tmp}.
     */
    static Checkpoint endToEnd(Backend backend, Checkpoint parent, Checkpoint made, int[][] cal, long tokens, double lr, long seed, Path tmp) throws IOException {
        if (tokens <= 0) return made;
        return dev.puzzle.bld.Gkd.train(backend, parent, made, cal, new dev.puzzle.bld.Gkd.Settings(tokens, 4, lr / 2, 0.0, 1 << 30, seed),
                tmp.resolve("gkd.ckpt"), null).child();
    }

    /** Mean NLL over the held-out sequences, each from its own first token. */
    static double nll(Decoder d, int[][] seqs) {
        return Perplexity.meanNll(d, seqs, 64);
    }
}
