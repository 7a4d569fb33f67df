package dev.puzzle.bld;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.backend.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The parent's cached activations chain layer to layer and end where the inference decoder ends. */
class ActivationCacheTest {
    static final Backend B = Backend.cpu();

    @Test
    void layersChainFromTheEmbeddingToTheDecodersHiddenState(@TempDir Path tmp) throws Exception {
        // The last layer has no FFN, so its output is its mid state.
        ModelConfig c = BldFixtures.parent(3, new BlockConfig(new AttentionConfig.Window(1, 4), new FfnConfig.NoOp()));
        Checkpoint ck = RandomWeights.of(c, 3);
        int S = 3, T = 9, D = c.dim();
        int[][] seqs = BldFixtures.sequences(S, T, c.vocabSize(), 1);
        ActivationCache cache = new ActivationCache(tmp);
        List<Integer> progress = new ArrayList<>();
        cache.build(B, ck, seqs, DType.F32, progress::add);
        assertEquals(List.of(1, 2, 3), progress);

        float[] emb = ck.tensors().get(TensorNames.EMBED).data();
        ActivationCache.Layer first = cache.read(0);
        assertEquals(S, first.S());
        assertEquals(T, first.T());
        for (int s = 0; s < S; s++) {
            for (int t = 0; t < T; t++) {
                for (int i = 0; i < D; i++) assertEquals(emb[seqs[s][t] * D + i], first.input()[(s * T + t) * D + i]);
            }
        }
        for (int l = 0; l + 1 < c.numLayers(); l++) {
            assertArrayEquals(cache.read(l).output(), cache.read(l + 1).input(), "layer " + l + " output is layer " + (l + 1) + " input");
            assertFalse(java.util.Arrays.equals(cache.read(l).input(), cache.read(l).mid()), "attention changes the stream");
        }
        ActivationCache.Layer last = cache.read(c.numLayers() - 1);
        assertArrayEquals(last.mid(), last.output(), "a no-op FFN adds nothing");
        Decoder d = new Decoder(ck, B);
        for (int s = 0; s < S; s++) {
            float[] h = d.hidden(d.newState(T), seqs[s], 0, T);
            for (int i = 0; i < T * D; i++) {
                assertEquals(h[i], last.output()[s * T * D + i], 1e-5 * (1 + Math.abs(h[i])), "sequence " + s + " value " + i);
            }
        }
    }

    @Test
    void aLayerCachedForTheSameTokensIsKeptAndOtherTokensRebuildIt(@TempDir Path tmp) throws Exception {
        ModelConfig c = BldFixtures.parent(2, null);
        Checkpoint ck = RandomWeights.of(c, 4);
        int[][] seqs = BldFixtures.sequences(2, 6, c.vocabSize(), 2);
        ActivationCache cache = new ActivationCache(tmp);
        cache.build(B, ck, seqs, DType.F32, null);
        FileTime old = FileTime.fromMillis(1_000_000L);
        for (int l = 0; l < 2; l++) Files.setLastModifiedTime(cache.file(l), old);
        cache.build(B, ck, seqs, DType.F32, null);
        for (int l = 0; l < 2; l++) assertEquals(old, Files.getLastModifiedTime(cache.file(l)), "layer " + l + " kept");
        float[] before = cache.read(1).output();
        int[][] other = BldFixtures.sequences(2, 6, c.vocabSize(), 3);
        cache.build(B, ck, other, DType.F32, null);
        assertNotEquals(old, Files.getLastModifiedTime(cache.file(1)));
        assertFalse(java.util.Arrays.equals(before, cache.read(1).output()));
    }

    @Test
    void bf16CacheHoldsTheF32ValuesRounded(@TempDir Path tmp) throws Exception {
        ModelConfig c = BldFixtures.parent(2, null);
        Checkpoint ck = RandomWeights.of(c, 5);
        int[][] seqs = BldFixtures.sequences(2, 5, c.vocabSize(), 4);
        ActivationCache f32 = new ActivationCache(tmp.resolve("f32")), bf16 = new ActivationCache(tmp.resolve("bf16"));
        f32.build(B, ck, seqs, DType.F32, null);
        bf16.build(B, ck, seqs, DType.BF16, null);
        float[] a = f32.read(1).output(), b = bf16.read(1).output();
        boolean rounded = false;
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], Math.abs(a[i]) * 0x1p-8 + 1e-30, "value " + i); // BF16 keeps 8 significant bits
            rounded |= a[i] != b[i];
        }
        assertTrue(rounded, "BF16 storage rounds");
    }
}
