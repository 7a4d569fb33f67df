package dev.puzzle.hardware;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.Throughput;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.GgufWriter;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Costs timed in real llama.cpp ({@code hardware: llamacpp-cpu}): the runtime a GGUF child is deployed on, one thread.
 * A block's cost is isolated by GGUFs of the model's dimensions (random weights, written as {@link GgufWriter} writes a
 * child, in the workload's weight dtype): one whose first layer is an anchor and whose {@code K} others are all that
 * block, less the same with {@code K} empty layers, divided by {@code K} — the difference of two measurements of
 * {@code K} blocks, so the noise on one block is a {@code K}th ({@code K} = {@value #COPIES}). The anchor — attention with one KV head, no FFN — is there because llama.cpp cannot make a
 * context for a model without a KV cache; the embeddings' and head's cost is the empty model's less the anchor's
 * (timed as any block). Each model: the workload's prompt as one batch and its generation token by token, median of
 * {@code reps} repeats; llama.cpp runs one sequence at a time here, so batch costs are the one-sequence times × batch.
 * Memory and parameters are counted as the roofline counts them. A block llama.cpp cannot run (no GGUF encoding) is
 * refused with the writer's reason.
 */
public final class LlamaCppCostModel implements CostModel, AutoCloseable {
    /** The copies of a block one timing model holds. */
    static final int COPIES = 8;

    private final LlamaCpp llama;
    private final Tokenizer tokenizer;
    private final int reps;
    private final RooflineCostModel counts = new RooflineCostModel(new HardwareProfile("count-only", Map.of("fp32", 1.0), 1, 1, 0, 1, 1, 1));
    private final Map<String, double[]> cache = new HashMap<>();
    private Path scratch;
    private boolean warm;

    /**
     * @param llama     the llama.cpp that times (its threads are the profile's)
     * @param tokenizer the parent's (written into each timing GGUF when it is SentencePiece-style BPE of the model's
     *                  vocabulary; otherwise a stand-in of the same size: the ids timed do not depend on it)
     * @param reps      timed repeats per model (median)
     */
    public LlamaCppCostModel(LlamaCpp llama, Tokenizer tokenizer, int reps) {
        if (reps < 1) throw new IllegalArgumentException("reps must be >= 1, got " + reps);
        this.llama = llama;
        this.tokenizer = tokenizer;
        this.reps = reps;
    }

    @Override
    public BlockCost block(ModelConfig m, BlockConfig b, Workload w) {
        String why = GgufWriter.refusal(m, b);
        if (why != null) throw new PuzzleException("llamacpp-cpu: llama.cpp cannot run " + b + ": " + why);
        BlockCost c = counts.block(m, b, w);
        double[] t = perBlock(m, b, w);
        return new BlockCost(c.params(), c.weightBytes(), c.kvCacheBytes(), t[0] * w.batch(), t[1] * w.batch(), c.kvHeads());
    }

    @Override
    public BlockCost embeddingsAndHead(ModelConfig m, Workload w) {
        BlockCost c = counts.embeddingsAndHead(m, w);
        double[] base = time(m, timingModel(m, empty()), w), anchor = perBlock(m, anchor(), w);
        return new BlockCost(c.params(), c.weightBytes(), 0, Math.max(0, base[0] - anchor[0]) * w.batch(), Math.max(0, base[1] - anchor[1]) * w.batch(), 0);
    }

    /** {prefill ms, decode ms} of one block in one sequence: (anchor + K blocks) − (anchor + K empty layers), over K. */
    private double[] perBlock(ModelConfig m, BlockConfig b, Workload w) {
        int k = copies(m);
        double[] t = time(m, timingModel(m, b), w), base = time(m, timingModel(m, empty()), w);
        return new double[]{Math.max(0, t[0] - base[0]) / k, Math.max(0, t[1] - base[1]) / k};
    }

    /** The anchor, then K copies of {@code b}. */
    private static List<BlockConfig> timingModel(ModelConfig m, BlockConfig b) {
        List<BlockConfig> blocks = new java.util.ArrayList<>();
        blocks.add(anchor());
        blocks.addAll(Collections.nCopies(copies(m), b));
        return blocks;
    }

    /** The layer every timing model starts with: llama.cpp makes no context for a model without a KV cache. */
    private static BlockConfig anchor() {
        return new BlockConfig(new AttentionConfig.Gqa(1, false), new FfnConfig.NoOp());
    }

    /**
     * A whole model of these blocks (random weights) in llama.cpp: the workload's one sequence, {@code reps} repeats;
     * its refusal when llama.cpp cannot run one of them.
     */
    public LlamaCpp.Times whole(ModelConfig m, List<BlockConfig> blocks, Workload w, int reps) {
        for (int l = 0; l < blocks.size(); l++) {
            String why = GgufWriter.refusal(m, blocks.get(l));
            if (why != null) throw new PuzzleException("llamacpp-cpu: llama.cpp cannot run layer " + l + " (" + blocks.get(l) + "): " + why);
        }
        settle(m, w);
        return run(m.withBlocks(blocks), w, reps);
    }

    private static BlockConfig empty() {
        return new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.NoOp());
    }

    private static int copies(ModelConfig m) {
        return COPIES;
    }

    /** {prefill ms, decode ms}, medians, of one sequence through a model of these blocks. */
    private double[] time(ModelConfig m, List<BlockConfig> blocks, Workload w) {
        String key = blocks + "|" + w;
        double[] hit = cache.get(key);
        if (hit != null) return hit;
        settle(m, w);
        LlamaCpp.Times t = run(m.withBlocks(blocks), w, reps);
        double[] out = {t.prefill().median(), t.decode().median()};
        cache.put(key, out);
        return out;
    }

    /** The first timings would include node's compiling and the caches filling: the empty model until its time settles. */
    private void settle(ModelConfig m, Workload w) {
        if (warm) return;
        warm = true;
        ModelConfig c = m.withBlocks(timingModel(m, empty()));
        Throughput.settle(() -> run(c, w, 1), 10_000_000_000L, System::nanoTime);
    }

    private LlamaCpp.Times run(ModelConfig c, Workload w, int reps) {
        try {
            if (scratch == null) scratch = Files.createTempDirectory("puzzle-llamacpp-cost");
            Path gguf = scratch.resolve("model.gguf");
            Checkpoint ck = RandomWeights.of(c, 7).withTokenizer(tokenizerFor(c.vocabSize()));
            GgufWriter.write(ck, gguf, dtype(w.weightDtype()));
            try {
                return llama.time(gguf, w.prefillLength(), w.generationLength(), reps, c.vocabSize());
            } finally {
                Files.deleteIfExists(gguf);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The GGUF type of the workload's weights: llama.cpp has no FP8 weights. */
    public static DType dtype(String weightDtype) {
        return switch (weightDtype.toLowerCase(Locale.ROOT)) {
            case "fp32", "f32", "float32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            case "fp16", "f16", "float16" -> DType.F16;
            default -> throw new PuzzleException("llamacpp-cpu: llama.cpp has no " + weightDtype + " weights (workload.weight_dtype: fp32, bf16 or fp16;"
                    + " 8- and 4-bit blocks come from search_space.precision)");
        };
    }

    private Tokenizer tokenizerFor(int vocab) {
        return tokenizer instanceof BpeTokenizer b && b.vocabSize() == vocab ? b : BpeTokenizer.byteLevel(vocab);
    }

    @Override
    public void close() {
        llama.close();
        if (scratch != null) {
            try {
                Files.deleteIfExists(scratch.resolve("model.gguf"));
                Files.deleteIfExists(scratch);
            } catch (IOException ignored) {
                // a temporary directory: the OS cleans it
            }
        }
    }
}
