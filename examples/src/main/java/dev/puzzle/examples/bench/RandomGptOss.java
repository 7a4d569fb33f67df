package dev.puzzle.examples.bench;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.HfConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.model.Yarn;
import dev.puzzle.core.tensor.DType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a random-weight gpt-oss (GptOssForCausalLM: sinks, biases, YaRN with truncate true so llama.cpp computes the same,
 * sliding and full layers alternating, clamped-SwiGLU experts) as a Hugging Face directory, its experts in BF16 or
 * MXFP4 (the released layout's blocks and scales) and everything else in BF16.
 * Usage: RandomGptOss OUT_DIR DIM LAYERS HEADS KV_HEADS HEAD_DIM EXPERTS TOP_K WIDTH VOCAB CONTEXT WINDOW bf16|mxfp4
 */
public final class RandomGptOss {
    public static void main(String[] a) throws Exception {
        Path out = Path.of(a[0]);
        int dim = Integer.parseInt(a[1]), layers = Integer.parseInt(a[2]), heads = Integer.parseInt(a[3]), kv = Integer.parseInt(a[4]),
                headDim = Integer.parseInt(a[5]), experts = Integer.parseInt(a[6]), topK = Integer.parseInt(a[7]), width = Integer.parseInt(a[8]),
                vocab = Integer.parseInt(a[9]), ctx = Integer.parseInt(a[10]), window = Integer.parseInt(a[11]);
        DType expertType = DType.fromName(a[12]);
        FfnConfig moe = new FfnConfig.Moe(experts, topK, width, true, 0);
        if (expertType.isQuantized()) moe = moe.withWeights(expertType);
        List<BlockConfig> blocks = new ArrayList<>();
        for (int l = 0; l < layers; l++) blocks.add(new BlockConfig(l % 2 == 0 ? new AttentionConfig.Window(kv, window) : new AttentionConfig.Gqa(kv), moe));
        var ext = new ModelConfig.Extensions(true, true, new Yarn(32f, 4096, 32f, 1f, true, 0f), new ModelConfig.ClampedSwiGlu(7f, 1.702f));
        ModelConfig c = new ModelConfig(HfConfig.GPT_OSS, dim, heads, headDim, kv, width, vocab, ctx, 1e-5f, 150000f, RopeStyle.HALF_SPLIT, false, true, blocks,
                false, ext);
        Checkpoint ck = RandomWeights.of(c, 1);
        Map<String, DType> types = new LinkedHashMap<>();
        ck.storedTypes().forEach((n, t) -> types.put(n, t.isQuantized() ? t : DType.BF16)); // written in BF16, quantized experts as they are
        Checkpoints.writeHfDir(new Checkpoint(c, ck.tensors(), types, null, "random gpt-oss"), out, null);
    }
}
