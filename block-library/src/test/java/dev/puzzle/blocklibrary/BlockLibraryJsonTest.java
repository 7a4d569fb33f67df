package dev.puzzle.blocklibrary;

import dev.puzzle.blocklibrary.BlockLibrary.Replacement;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The typed library, its variant-name codec and its block_library.json adapter. */
class BlockLibraryJsonTest {
    static final ModelConfig PARENT = ModelConfig.builder("LlamaForCausalLM").dim(64).layers(2).heads(8).kvHeads(4).intermediateSize(172).vocabSize(512).maxSeqLen(512).normEps(1e-5f).ropeTheta(1e4f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(true).qkvBias(false).build();

    static List<BlockConfig> everyVariant() {
        List<BlockConfig> out = new ArrayList<>();
        List<AttentionConfig> as = List.of(new AttentionConfig.Gqa(4), new AttentionConfig.Gqa(1), new AttentionConfig.Window(2, 64),
                new AttentionConfig.Linear(), new AttentionConfig.NoOp());
        List<FfnConfig> fs = List.of(new FfnConfig.Dense(172), new FfnConfig.Dense(43), new FfnConfig.Linear(), new FfnConfig.NoOp());
        for (AttentionConfig a : as) for (FfnConfig f : fs) out.add(new BlockConfig(a, f));
        return out;
    }

    @Test
    void everyNameParsesBackToItsBlock() {
        for (BlockConfig b : everyVariant()) {
            String name = BlockNames.library(PARENT, b);
            assertEquals(b, BlockNames.parse(name).orElseThrow(() -> new AssertionError(name)), name);
        }
        assertEquals("attention = gqa 1 kv heads (parent * 25%) && ffn = dense 43 (parent * 25%)",
                BlockNames.library(PARENT, new BlockConfig(new AttentionConfig.Gqa(1), new FfnConfig.Dense(43))));
        // Another tool's names (NVIDIA's Llama-70B library) stay names.
        assertTrue(BlockNames.parse("attention = 8 kv heads (parent * 100%)\t&&\tffn = intermediate size 29e3 (parent * 100%)").isEmpty());
        assertTrue(BlockNames.parse("attention = gqa 0 kv heads (parent * 0%) && ffn = linear").isEmpty());
    }

    @Test
    void roundTripsThroughJsonWithBlocksCostsAndMetrics(@TempDir Path tmp) throws Exception {
        List<Replacement> reps = new ArrayList<>();
        List<BlockConfig> all = everyVariant();
        for (int l = 0; l < 2; l++) {
            for (int i = 0; i < all.size(); i++) {
                reps.add(Replacement.of(PARENT, l, all.get(i), Map.of(LibraryKeys.RUNTIME_MS, 1.5 * i + l, LibraryKeys.KL_DIV, 0.01 * i)));
            }
        }
        reps.add(new Replacement(0, 2, "fused ffn", List.of(), Map.of(LibraryKeys.RUNTIME_MS, 3.0)));
        BlockLibrary lib = new BlockLibrary(2, reps, "test");
        Path f = tmp.resolve("block_library.json");
        BlockLibraryJson.write(lib, f);
        BlockLibrary back = BlockLibraryJson.read(f);
        assertEquals(2, back.numLayers());
        assertEquals(reps.size(), back.replacements().size());
        Replacement r = back.find(1, all.get(5));
        assertNotNull(r);
        assertEquals(List.of(all.get(5)), r.blocks());
        assertEquals(1.5 * 5 + 1, r.stats().get("runtime_ms"));
        assertEquals(0.05, r.metrics().get("kl_div"), 1e-15);
        Replacement span = back.replacements().stream().filter(x -> x.span() == 2).findFirst().orElseThrow();
        assertEquals("layers_0-1", span.layerKey());
        assertTrue(span.blocks().isEmpty());
        assertTrue(Files.readString(f).contains("\"layers_0-1\""));
    }

    @Test
    void badFilesAreNamedWithTheirKey(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("lib.json");
        Files.writeString(f, "{\"layer_0\": {\"a\": {\"stats\": {\"runtime_ms\": 1}}}, \"level_1\": {}}");
        String m = assertThrows(PuzzleException.class, () -> BlockLibraryJson.read(f)).getMessage();
        assertTrue(m.contains(f.toString()) && m.contains("level_1") && m.contains("layer_<i>"), m);
        Files.writeString(f, "{\"layer_0\": {\"a\": {\"stats\": {\"runtime_ms\": 1}}}, \"layer_2\": {\"a\": {\"stats\": {\"runtime_ms\": 1}}}}");
        m = assertThrows(PuzzleException.class, () -> BlockLibraryJson.read(f)).getMessage();
        assertTrue(m.contains("layer_1 has no variant"), m);
    }
}
