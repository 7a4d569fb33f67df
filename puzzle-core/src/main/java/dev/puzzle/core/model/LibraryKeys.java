package dev.puzzle.core.model;

/**
 * The keys of a block library entry, as dotted paths into {@code {stats: {...}, metrics: {...}}} of the
 * public Puzzle {@code block_library.json} layout: costs under {@code stats.}, quality under
 * {@code metrics.}. Every stage that writes or reads one names it here.
 */
public final class LibraryKeys {
    private LibraryKeys() {}

    /** The section of costs and the section of scores. */
    public static final String STATS_PREFIX = "stats.";
    public static final String METRICS_PREFIX = "metrics.";

    // Costs (hardware-profiles writes them, the MIP budgets them).
    public static final String MEMORY_MIB = "stats.memory_mib";
    public static final String RUNTIME_MS = "stats.runtime_ms";
    public static final String PREFILL_MS = "stats.prefill_ms";
    public static final String DECODE_MS = "stats.decode_ms";
    public static final String NUM_PARAMS = "stats.num_params";
    public static final String WEIGHT_MIB = "stats.weight_mib";
    public static final String KV_CACHE_MIB = "stats.kv_cache_mib";
    public static final String NUM_KV_HEADS = "stats.num_kv_heads";
    public static final String FFN_INTERMEDIATE_SIZE = "stats.ffn_intermediate_size";
    /** A MoE block's experts expected active in one decode step at the workload's batch (measured routing, else uniform). */
    public static final String MOE_ACTIVE_EXPERTS = "stats.moe_active_experts";
    public static final String ATTENTION_MEMORY_MIB = "stats.attention_memory_mib";
    public static final String ATTENTION_RUNTIME_MS = "stats.attention_runtime_ms";
    public static final String ATTENTION_NUM_PARAMS = "stats.attention_num_params";
    public static final String FFN_MEMORY_MIB = "stats.ffn_memory_mib";
    public static final String FFN_RUNTIME_MS = "stats.ffn_runtime_ms";
    public static final String FFN_NUM_PARAMS = "stats.ffn_num_params";

    // Quality (replace-1-block scoring writes them, the MIP minimizes one).
    public static final String KL_DIV = "metrics.kl_div";
    public static final String LM_LOSS = "metrics.lm_loss";
    public static final String TOP1_AGREEMENT = "metrics.top1_agreement";
    public static final String HIDDEN_COSINE = "metrics.hidden_cosine";
    /** Suffix of a metric measured on the candidate's initialization, before BLD. */
    public static final String INIT_SUFFIX = "_init";

    /** The stats key without its section, as model_costs.json writes it: {@code stats.memory_mib → memory_mib}. */
    public static String bare(String key) {
        int dot = key.indexOf('.');
        return dot < 0 ? key : key.substring(dot + 1);
    }
}
