package dev.puzzle.hardware;

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
        m.put("stats.memory_mib", memoryMib());
        m.put("stats.runtime_ms", runtimeMs());
        m.put("stats.prefill_ms", prefillMs);
        m.put("stats.decode_ms", decodeMs);
        m.put("stats.num_params", (double) params);
        m.put("stats.weight_mib", weightBytes / (1024.0 * 1024.0));
        m.put("stats.kv_cache_mib", kvCacheBytes / (1024.0 * 1024.0));
        m.put("stats.num_kv_heads", (double) kvHeads);
        return m;
    }
}
