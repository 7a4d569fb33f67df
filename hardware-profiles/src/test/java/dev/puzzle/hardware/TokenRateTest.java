package dev.puzzle.hardware;

import dev.puzzle.core.PuzzleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The tokens/s ↔ runtime translation of Puzzle's throughput budgets. */
class TokenRateTest {
    @Test
    void throughputTargetsBecomeRuntimesAndBack() {
        // NVIDIA's 70B library: 6,000 tokens/s at batch 256 generating 1,200 tokens each = 51,200 ms.
        assertEquals(51_200, TokenRate.runtimeMs(6000, 256, 1200), 1e-9);
        Workload w = new Workload(64, 256, 256, "bf16", "bf16");
        assertEquals(1000.0 * 64 * 256 / 2.6e5, TokenRate.runtimeMs(2.6e5, w), 1e-12);
        assertEquals(2.6e5, TokenRate.tokensPerSecond(TokenRate.runtimeMs(2.6e5, w), w), 1e-6);
        assertThrows(PuzzleException.class, () -> TokenRate.runtimeMs(0, w));
        assertEquals("1.5", TokenRate.format(1.5));
        assertEquals("2", TokenRate.format(2.0));
        assertEquals("1.25", TokenRate.format(1.25));
    }
}
