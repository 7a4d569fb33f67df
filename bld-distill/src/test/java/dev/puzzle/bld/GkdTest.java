package dev.puzzle.bld;

import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** GKD on stories260K with its last FFN removed: held-out KL to the parent falls, and a crashed run resumes to the same child. */
class GkdTest {
    static Path shared(String rel) {
        Path p = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize().resolve(rel);
        Assumptions.assumeTrue(Files.exists(p), "skipped: reference file " + p + " is absent (../shared not laid out beside the repository)");
        return p;
    }

    static double heldoutKl(Checkpoint parent, Checkpoint child, int[][] held) {
        Map<String, Double> m = Scorer.metrics(Backend.cpu(), Scorer.run(Backend.cpu(), parent, held), Scorer.run(Backend.cpu(), child, held), held, parent.config().vocabSize(), parent.config().dim());
        return m.get("metrics.kl_div");
    }

    @Test
    void gkdRecoversADamagedChildAndResumes(@TempDir Path tmp) throws Exception {
        Checkpoint parent = Checkpoints.load(shared("models/stories260K/stories260K.bin"));
        BpeTokenizer tok = BpeTokenizer.readLlama2c(shared("models/stories260K/tok512.bin"), 512);
        Path text = shared("models/tinystories-val-text/tinystories_val.txt");
        int[][] cal = TokenData.sequences(text, tok, 0, 16, 64), held = TokenData.sequences(text, tok, 300000, 4, 64);
        // The child: layer 4 without its FFN.
        List<BlockConfig> blocks = new ArrayList<>(parent.config().blocks());
        blocks.set(4, new BlockConfig(blocks.get(4).attention(), new FfnConfig.NoOp()));
        Map<String, Tensor> t = new LinkedHashMap<>(parent.tensors());
        t.keySet().removeIf(k -> k.startsWith("model.layers.4.mlp.") || k.equals("model.layers.4.post_attention_layernorm.weight"));
        Map<String, DType> types = new LinkedHashMap<>();
        t.keySet().forEach(k -> types.put(k, DType.F32));
        Checkpoint child = new Checkpoint(parent.config().withBlocks(blocks), t, types, null, "damaged");
        double before = heldoutKl(parent, child, held);

        Gkd.Settings st = new Gkd.Settings(24 * 64 * 2, 2, 3e-4, 1.0, 4, 7);
        Gkd.Result full = Gkd.train(Backend.cpu(), parent, child, cal, st, tmp.resolve("a.safetensors"), null);
        assertEquals(24, full.steps());
        double after = heldoutKl(parent, full.child(), held);
        System.out.printf("GKD: held-out KL to the parent %.4f -> %.4f%n", before, after);
        assertTrue(after < 0.9 * before, before + " -> " + after);
        // The child passed in is untouched.
        assertArrayEquals(parent.tensors().get("model.layers.0.self_attn.q_proj.weight").data(), child.tensors().get("model.layers.0.self_attn.q_proj.weight").data());

        // A crash after step 10 (the checkpoint holds step 8), then a rerun: it resumes at 8 and ends where the full run ended.
        Path ck = tmp.resolve("b.safetensors");
        assertThrows(IllegalStateException.class, () -> Gkd.train(Backend.cpu(), parent, child, cal, st, ck, s -> {
            if (s == 10) throw new IllegalStateException("simulated crash");
        }));
        Gkd.Result resumed = Gkd.train(Backend.cpu(), parent, child, cal, st, ck, null);
        assertEquals(8, resumed.resumedAt());
        for (String k : full.child().tensors().keySet()) {
            float[] a = full.child().tensors().get(k).data(), b = resumed.child().tensors().get(k).data();
            for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-4f * Math.max(1f, Math.abs(a[i])), k + "[" + i + "]");
        }
        assertTrue(full.child().config().blocks().get(4).ffn() instanceof FfnConfig.NoOp);
        assertTrue(full.child().config().blocks().get(0).attention() instanceof AttentionConfig.Gqa);
    }
}
