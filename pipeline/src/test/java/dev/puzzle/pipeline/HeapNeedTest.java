package dev.puzzle.pipeline;

import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The heap a stage needs is stated from the shape and settings: a 1.1B parent fits 2 GiB with small data, not with large. */
class HeapNeedTest {
    static final ModelConfig TINYLLAMA = ModelConfig.builder("LlamaForCausalLM").dim(2048).layers(22).heads(32).kvHeads(4).intermediateSize(5632).vocabSize(32000).maxSeqLen(2048).normEps(1e-5f).ropeTheta(1e4f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(false).qkvBias(false).build();
    static final long GIB = 1L << 30;

    @Test
    void aBigParentWithSmallDataFitsTwoGibibytes() {
        // bench/big_parent.sh's settings: 4 calibration and 2 held-out sequences of 64 tokens, batch 2, 2 jobs at once.
        HeapNeed.Settings s = new HeapNeed.Settings(64, 64, 4, 2, 2, 2);
        for (HeapNeed.Stage st : HeapNeed.Stage.values()) {
            long b = HeapNeed.bytes(TINYLLAMA, s, st);
            assertTrue(b > HeapNeed.BASE + (100L << 20), st + ": one layer of a 1.1B model is more than 100 MiB in FP32, got " + b);
            assertTrue(b < 2 * GIB, st + " needs " + HeapNeed.gib(b));
        }
        assertEquals(HeapNeed.bytes(TINYLLAMA, s, HeapNeed.Stage.DISTILL), HeapNeed.bytes(TINYLLAMA, s, HeapNeed.Stage.COMPRESS),
                "compress needs its largest stage");
    }

    @Test
    void needGrowsWithTheDataAndIsRefusedWithTheFix() {
        HeapNeed.Settings small = new HeapNeed.Settings(64, 64, 4, 2, 2, 2), big = new HeapNeed.Settings(2048, 2048, 256, 64, 8, 2);
        for (HeapNeed.Stage st : HeapNeed.Stage.values()) {
            assertTrue(HeapNeed.bytes(TINYLLAMA, big, st) > HeapNeed.bytes(TINYLLAMA, small, st), st.toString());
        }
        long need = HeapNeed.bytes(TINYLLAMA, big, HeapNeed.Stage.LIBRARY);
        assertTrue(need > 8 * GIB, "256 sequences of 2048 tokens keep a layer's activations of several GiB: " + HeapNeed.gib(need));
        String m = HeapNeed.refusal("big.yaml", HeapNeed.Stage.LIBRARY, need, 2 * GIB);
        assertTrue(m.startsWith("big.yaml: library needs about ") && m.contains("this JVM has 2.00 GiB")
                && m.contains("PUZZLE_JAVA_OPTS=-Xmx" + ((need >> 20) + 1) + "m"), m);
    }
}
