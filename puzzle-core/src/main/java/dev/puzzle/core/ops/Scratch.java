package dev.puzzle.core.ops;

import java.util.Arrays;

/**
 * Per-thread float buffers that the inference steps reuse from token to token instead of allocating: a JFR
 * allocation profile of the 110M shape's decode (2026-12-05, two threads) showed ~0.1 GB a second of the steps' own
 * arrays (norms, projections, one score row per head, the FFN's hidden rows) and a young collection every ~40 tokens.
 * Each use site has its own {@link Slot}, so a step may hold several at once and call another that holds its own; a
 * buffer holds whatever its last use left ({@link #zeroed} where a step adds into it). Requests past
 * {@link #MAX_FLOATS} (prefill of long prompts) get a new array, not kept.
 */
final class Scratch {
    private Scratch() {}

    /** The largest buffer a thread keeps per slot (1 MiB). */
    static final int MAX_FLOATS = 1 << 18;

    /** Where a buffer is used: one slot per array of a step. */
    enum Slot { ATTN_H, ATTN_RSTD, ATTN_Q, ATTN_K, ATTN_V, ATTN_OUT, ATTN_SCORES, ATTN_WINDOW_K, ATTN_WINDOW_V, ROPE, FFN_H, FFN_RSTD, FFN_UP, FFN_GATE }

    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[Slot.values().length][]);

    /** This thread's buffer for {@code slot}, at least {@code n} floats, holding what its last use left. */
    static float[] floats(Slot slot, int n) {
        if (n > MAX_FLOATS) return new float[n];
        float[][] b = BUFFERS.get();
        float[] a = b[slot.ordinal()];
        if (a == null || a.length < n) b[slot.ordinal()] = a = new float[Math.min(MAX_FLOATS, Math.max(n, a == null ? 0 : 2 * a.length))]; // doubling: a score row grows a key a token
        return a;
    }

    /** {@link #floats} with its first {@code n} floats zeroed. */
    static float[] zeroed(Slot slot, int n) {
        float[] a = floats(slot, n);
        Arrays.fill(a, 0, n, 0f);
        return a;
    }
}
