package dev.puzzle.core.model;

import dev.puzzle.core.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The one codec: every variant's three forms, written as the public Puzzle library writes them and read back. */
class BlockNamesTest {
    static final ModelConfig PARENT = ModelConfig.builder("LlamaForCausalLM").dim(64).layers(5).heads(8).kvHeads(4).intermediateSize(172).vocabSize(512).maxSeqLen(512).normEps(1e-5f).ropeTheta(1e4f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(true).qkvBias(false).build();

    static final List<AttentionConfig> ATTENTION = List.of(new AttentionConfig.Gqa(4), new AttentionConfig.Gqa(1), new AttentionConfig.Gqa(2, true),
            new AttentionConfig.Window(2, 64), new AttentionConfig.Window(4, 16, true), new AttentionConfig.Linear(), new AttentionConfig.NoOp(),
            new AttentionConfig.Quantized(new AttentionConfig.Gqa(2, true), DType.Q4_0), new AttentionConfig.Quantized(new AttentionConfig.Window(4, 16), DType.NVFP4),
            new AttentionConfig.Quantized(new AttentionConfig.Linear(), DType.FP8));
    static final List<FfnConfig> FFN = List.of(new FfnConfig.Dense(172), new FfnConfig.Dense(43), new FfnConfig.Relu2(96), new FfnConfig.Quantized(new FfnConfig.Relu2(64), DType.Q8_0), new FfnConfig.Moe(8, 2, 32, true, 0),
            new FfnConfig.Moe(3, 1, 32, false, 16), new FfnConfig.Linear(), new FfnConfig.NoOp(),
            new FfnConfig.Quantized(new FfnConfig.Dense(43), DType.Q8_0), new FfnConfig.Quantized(new FfnConfig.Moe(3, 1, 32, false, 16), DType.MXFP4),
            new FfnConfig.Quantized(new FfnConfig.Linear(), DType.Q4_0));

    @Test
    void everyVariantRoundTripsThroughItsLibraryName() {
        Set<String> names = new HashSet<>();
        for (AttentionConfig a : ATTENTION) {
            for (FfnConfig f : FFN) {
                BlockConfig b = new BlockConfig(a, f);
                String name = BlockNames.library(PARENT, b);
                assertEquals(b, BlockNames.parse(name).orElseThrow(() -> new AssertionError(name)), name);
                assertTrue(names.add(name), "one name per block: " + name);
            }
        }
    }

    @Test
    void formsAreTheDocumentedOnes() {
        BlockConfig b = new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(86));
        assertEquals("attention = gqa 2 kv heads (parent * 50%) && ffn = dense 86 (parent * 50%)", BlockNames.library(PARENT, b));
        assertEquals("attn=gqa2 ffn=dense86", BlockNames.brief(b));
        assertEquals("attn=gqa2 ffn=dense86", b.toString());
        assertEquals("attn-gqa2", BlockNames.id(b.attention()));
        assertEquals("ffn-dense86", BlockNames.id(b.ffn()));
        BlockConfig w = new BlockConfig(new AttentionConfig.Window(4, 16, true), new FfnConfig.Moe(3, 1, 32, false, 16));
        assertEquals("attention = window 16, 4 kv heads, kv fp8 && ffn = moe 3 experts (parent * 100%), top 1, width 32, shared 16", BlockNames.library(PARENT, w));
        assertEquals("attn=window16_kv4_fp8kv ffn=moe3x32_top1_shared16", BlockNames.brief(w));
        assertEquals("attn-window16-kv4-fp8kv", BlockNames.id(w.attention()));
        assertEquals("ffn-moe3-top1", BlockNames.id(w.ffn()));
        assertEquals("attn=no_op ffn=no_op", BlockConfig.EMPTY.toString());
        BlockConfig q = new BlockConfig(new AttentionConfig.Quantized(new AttentionConfig.Gqa(2, true), DType.Q4_0), new FfnConfig.Quantized(new FfnConfig.Dense(86), DType.NVFP4));
        assertEquals("attention = gqa 2 kv heads (parent * 50%), kv fp8, weights q4_0 && ffn = dense 86 (parent * 50%), weights nvfp4", BlockNames.library(PARENT, q));
        assertEquals("attn=gqa2_fp8kv_q4_0 ffn=dense86_nvfp4", BlockNames.brief(q));
        assertEquals("attn-gqa2-fp8kv-q4_0", BlockNames.id(q.attention()));
        assertEquals("ffn-dense86-nvfp4", BlockNames.id(q.ffn()));
    }

    @Test
    void quantizedPartsAreCheckedAndAnswerAsTheirBase() {
        assertThrows(IllegalArgumentException.class, () -> new AttentionConfig.Quantized(new AttentionConfig.NoOp(), DType.Q4_0));
        assertThrows(IllegalArgumentException.class, () -> new FfnConfig.Quantized(new FfnConfig.Dense(8), DType.BF16));
        assertThrows(IllegalArgumentException.class, () -> new FfnConfig.Quantized(new FfnConfig.Quantized(new FfnConfig.Dense(8), DType.Q8_0), DType.Q4_0));
        AttentionConfig a = new AttentionConfig.Window(2, 64).withWeights(DType.Q8_0);
        assertEquals(new AttentionConfig.Quantized(new AttentionConfig.Window(2, 64), DType.Q8_0), a);
        assertEquals(new AttentionConfig.Quantized(new AttentionConfig.Window(2, 64, true), DType.Q8_0), a.withFp8Kv());
        assertEquals(new AttentionConfig.Window(2, 64), a.withWeights(DType.BF16), "an element type: the unquantized variant");
        assertEquals(DType.Q4_0, a.withWeights(DType.Q4_0).quantizedWeights(), "re-quantized, not wrapped twice");
        assertNull(new FfnConfig.Dense(8).quantizedWeights());
        assertTrue(BlockNames.parse("attention = no_op, weights q4_0 && ffn = linear").isEmpty(), "a no-op has no weights to quantize");
        assertTrue(BlockNames.parse("attention = linear, weights bf16 && ffn = linear").isEmpty(), "bf16 is no quantized format");
    }

    @Test
    void storeIdsAreFileSafeAndDistinct() {
        Set<String> ids = new HashSet<>();
        for (AttentionConfig a : ATTENTION) assertTrue(ids.add(BlockNames.id(a)), BlockNames.id(a));
        for (FfnConfig f : FFN) assertTrue(ids.add(BlockNames.id(f)), BlockNames.id(f));
        for (String id : ids) assertTrue(id.matches("[a-z0-9_-]+"), id);
    }

    @Test
    void fusedRunsRoundTripAndForeignNamesStayNames() {
        String name = BlockNames.fused(PARENT, 1, 3, new AttentionConfig.Gqa(2), 516);
        assertEquals("fused ffn of layers 1-3, width 516 && attention = gqa 2 kv heads (parent * 50%)", name);
        assertEquals(List.of(new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(516)), BlockConfig.EMPTY, BlockConfig.EMPTY),
                BlockNames.parseFused(name));
        // NVIDIA's Llama-70B library names its variants its own way: they parse to no block.
        assertTrue(BlockNames.parse("attention = 8 kv heads (parent * 100%)\t&&\tffn = intermediate size 29e3 (parent * 100%)").isEmpty());
        assertTrue(BlockNames.parse("attention = gqa 0 kv heads (parent * 0%) && ffn = linear").isEmpty(), "numbers out of range are no block");
        assertTrue(BlockNames.parseFused("fused ffn of layers 3-1, width 5 && attention = no_op").isEmpty(), "a run that ends before it starts");
    }

    @Test
    void typedQueriesAnswerForEveryVariant() {
        assertEquals(List.of(4, 1, 2, 2, 4, 0, 0, 2, 4, 0), ATTENTION.stream().map(AttentionConfig::kvHeads).toList());
        assertEquals(List.of(0, 0, 0, 64, 16, 0, 0, 0, 16, 0), ATTENTION.stream().map(AttentionConfig::window).toList());
        assertEquals(List.of(false, false, true, false, true, false, false, true, false, false), ATTENTION.stream().map(AttentionConfig::fp8Kv).toList());
        assertEquals(List.of(true, true, true, true, true, true, false, true, true, true), ATTENTION.stream().map(AttentionConfig::hasWeights).toList());
        assertEquals(List.of(172, 43, 0, 0, 0, 0, 0, 0, 43, 0, 0), FFN.stream().map(FfnConfig::denseWidth).toList());
        assertEquals(List.of(0, 0, 96, 64, 0, 0, 0, 0, 0, 0, 0), FFN.stream().map(FfnConfig::relu2Width).toList());
        assertEquals(List.of(0, 0, 0, 0, 8, 3, 0, 0, 0, 3, 0), FFN.stream().map(FfnConfig::numExperts).toList());
        assertEquals(List.of(true, true, true, true, true, true, true, false, true, true, true), FFN.stream().map(FfnConfig::hasWeights).toList());
        assertTrue(BlockConfig.EMPTY.empty());
        assertFalse(new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Linear()).empty());
    }
}
