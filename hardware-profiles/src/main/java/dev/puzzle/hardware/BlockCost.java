package dev.puzzle.hardware;

import dev.puzzle.core.model.LibraryKeys;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The cost of one block (or of the model's embeddings and head) under a workload.
 *
 * @param params       parameters
 * @param weightBytes  weight memory in the workload's weight dtype
 * @param kvCacheBytes KV-cache memory for the whole batch at the full sequence length (window-bounded)
 * @param prefillMs    time to run the prompts of the whole batch
 * @param decodeMs     time to generate every token of the whole batch
 * @param kvHeads      KV heads cached (0 for no-op and linear attention)
 */
public record BlockCost(long params, long weightBytes, long kvCacheBytes, double prefillMs, double decodeMs, int kvHeads) {
    public static final BlockCost ZERO = new BlockCost(0, 0, 0, 0, 0, 0);

    public double memoryMib() {
        return (weightBytes + kvCacheBytes) / (1024.0 * 1024.0);
    }

    public double runtimeMs() {
        return prefillMs + decodeMs;
    }

    public BlockCost plus(BlockCost o) {
        return new BlockCost(params + o.params, weightBytes + o.weightBytes, kvCacheBytes + o.kvCacheBytes,
                prefillMs + o.prefillMs, decodeMs + o.decodeMs, kvHeads + o.kvHeads);
    }

    /** The stats of a block_library.json entry (dotted keys under {@code stats.}). */
    public Map<String, Double> stats() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(LibraryKeys.MEMORY_MIB, memoryMib());
        m.put(LibraryKeys.RUNTIME_MS, runtimeMs());
        m.put(LibraryKeys.PREFILL_MS, prefillMs);
        m.put(LibraryKeys.DECODE_MS, decodeMs);
        m.put(LibraryKeys.NUM_PARAMS, (double) params);
        m.put(LibraryKeys.WEIGHT_MIB, weightBytes / (1024.0 * 1024.0));
        m.put(LibraryKeys.KV_CACHE_MIB, kvCacheBytes / (1024.0 * 1024.0));
        m.put(LibraryKeys.NUM_KV_HEADS, (double) kvHeads);
        return m;
    }
}
