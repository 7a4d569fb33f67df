package dev.puzzle.bld;

import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;

import java.util.List;
import java.util.Random;

/** A small random parent and token sequences for the stage tests of this module. */
final class BldFixtures {
    private BldFixtures() {}

    /** d 32, 4 heads of 8, 2 KV heads, FFN 64, vocabulary 61; {@code last} is the last layer's block. */
    static ModelConfig parent(int layers, BlockConfig last) {
        BlockConfig p = new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(64));
        List<BlockConfig> blocks = new java.util.ArrayList<>(java.util.Collections.nCopies(layers - 1, p));
        blocks.add(last == null ? p : last);
        return new ModelConfig("LlamaForCausalLM", 32, 4, 8, 2, 64, 61, 64, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, true, false, blocks);
    }

    static int[][] sequences(int S, int T, int vocab, long seed) {
        Random r = new Random(seed);
        int[][] s = new int[S][T];
        for (int[] row : s) for (int t = 0; t < T; t++) row[t] = r.nextInt(vocab);
        return s;
    }
}
