package dev.puzzle.pipeline;

import dev.puzzle.bld.ActivationCache;
import dev.puzzle.bld.BldJob;
import dev.puzzle.bld.BldSettings;
import dev.puzzle.bld.BldTrainer;
import dev.puzzle.blocklibrary.CandidateInit;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.Tokenizer;

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
 * Makes a hybrid Mamba–Transformer parent out of a Transformer: the attention of each listed layer is replaced by a
 * Mamba-2 mixer of the attention's shape (its heads and head dim, a group per KV head, a state of head-dim size, 4 conv
 * taps), started from the attention as attention-to-SSM distillation does ({@link CandidateInit}) and trained against the
 * attention's output on calibration text (blockwise distillation, each layer on the parent's own activations), then the
 * whole model end to end against the parent. The result is a Hugging Face directory (heterogeneous: DeciLM
 * {@code block_configs} with {@code attention.mamba2}, the tokenizer included) and {@code hybrid.json} with the held-out
 * NLL of the parent and of the hybrid, written atomically.
 */
public final class Hybridize {
    private Hybridize() {}

    /**
     * @param layers    the layers whose attention becomes Mamba-2
     * @param tokens    BLD tokens per layer
     * @param gkdTokens end-to-end distillation tokens afterwards (0: none)
     */
    public record Settings(List<Integer> layers, int seqLen, int sequences, long heldoutOffset, int heldoutSequences, long tokens, double lr,
                           long gkdTokens, long seed) {}

    public record Result(double parentNll, double hybridNll, ModelConfig config) {}

    public static Result run(Backend backend, Checkpoint parent, Tokenizer tok, Path text, Settings s, Path out, IntConsumer progress) throws IOException {
        ModelConfig c = parent.config();
        if (s.layers().isEmpty()) throw new PuzzleException("--mamba-layers: name at least one layer");
        for (int l : s.layers()) {
            if (l < 0 || l >= c.numLayers()) throw new PuzzleException("--mamba-layers: layer " + l + " is outside the parent's layers 0.." + (c.numLayers() - 1));
            AttentionConfig a = c.blocks().get(l).attention();
            if (!(a instanceof AttentionConfig.Gqa)) throw new PuzzleException("--mamba-layers: layer " + l + " has " + a + ", not full GQA attention to replace");
        }
        if (c.qkvBias() || c.qkNorm() || c.extensions().any()) {
            throw new PuzzleException(parent.source() + ": a hybrid is made from a plain Llama (no q/k/v biases, q/k norms or gpt-oss extensions)");
        }
        AttentionConfig.Mamba2 mamba = AttentionConfig.Mamba2.attentionShaped(c);
        int[][] cal = TokenData.sequences(text, tok, 0, s.sequences(), s.seqLen());
        int[][] held = TokenData.sequences(text, tok, s.heldoutOffset(), s.heldoutSequences(), s.seqLen());
        Path tmp = Files.createTempDirectory("puzzle-hybridize");
        try {
            ActivationCache cache = new ActivationCache(tmp);
            cache.build(backend, parent, cal, DType.F32, null);
            List<BlockConfig> blocks = new ArrayList<>(c.blocks());
            Map<String, Tensor> trained = new LinkedHashMap<>();
            BldSettings bld = Moefy.layerDistillation(s.tokens(), s.lr(), s.seed());
            int done = 0;
            for (int l : s.layers()) {
                ActivationCache.Layer a = cache.read(l);
                int N = a.rows(), D = c.dim();
                float[] contribution = new float[N * D];
                for (int i = 0; i < contribution.length; i++) contribution[i] = a.mid()[i] - a.input()[i];
                Map<String, Tensor> init = CandidateInit.attention(backend, c, parent.tensors(), l, mamba, a.input(), contribution, N);
                List<BlockConfig> one = new ArrayList<>(c.blocks());
                one.set(l, new BlockConfig(mamba, c.blocks().get(l).ffn()));
                BldTrainer.Result r = BldTrainer.train(backend, c.withBlocks(one), new BldJob(l, mamba, null), init, a, bld);
                trained.putAll(r.weights());
                blocks.set(l, new BlockConfig(mamba, c.blocks().get(l).ffn()));
                if (progress != null) progress.accept(++done);
            }
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, DType> types = new LinkedHashMap<>();
            parent.tensors().forEach((n, t) -> {
                for (int l : s.layers()) if (TensorNames.inPart(n, l, true)) return;
                tensors.put(n, t);
                types.put(n, DType.F32);
            });
            trained.forEach((n, t) -> {
                tensors.put(n, t);
                types.put(n, DType.F32);
            });
            ModelConfig hc = c.withBlocks(blocks);
            Checkpoint made = Moefy.endToEnd(backend, parent, new Checkpoint(hc, tensors, types, tok, "hybrid of " + parent.source()), cal,
                    s.gkdTokens(), s.lr(), s.seed(), tmp);
            double parentNll = Moefy.nll(new Decoder(parent, backend), held), hybridNll = Moefy.nll(new Decoder(made, backend), held);
            AtomicFiles.writeDirectory(out, dir -> {
                Checkpoints.writeHfDir(made, dir, DType.F32);
                AtomicFiles.writeString(dir.resolve("hybrid.json"), String.format(Locale.ROOT,
                        "{\n  \"parent\": \"%s\",\n  \"mamba_layers\": %s,\n  \"mamba2\": \"%s\",\n  \"calibration_sequences\": %d,\n  \"seq_len\": %d,\n"
                                + "  \"bld_tokens_per_layer\": %d,\n  \"gkd_tokens\": %d,\n  \"heldout_sequences\": %d,\n  \"heldout_nll_parent\": %.6f,\n"
                                + "  \"heldout_nll_hybrid\": %.6f\n}\n",
                        parent.source().replace("\\", "\\\\").replace("\"", "\\\""), s.layers(), mamba, s.sequences(), s.seqLen(), s.tokens(), s.gkdTokens(),
                        s.heldoutSequences(), parentNll, hybridNll));
            });
            return new Result(parentNll, hybridNll, hc);
        } finally {
            AtomicFiles.deleteTree(tmp);
        }
    }
}
