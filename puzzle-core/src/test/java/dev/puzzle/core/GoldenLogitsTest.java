package dev.puzzle.core;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.RopeStyle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** stories260K logits against karpathy/llama2.c run.c's, through prefill and through KV-cache decode, for every input format. */
public class GoldenLogitsTest {
    static final int N = 64, V = 512;

    public record Golden(int[] tokens, float[][] logits) {}

    public static Golden golden() throws IOException {
        Path f = Shared.require("models/stories260K/reference/golden_logits_once_upon_a_time_64.bin");
        ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        int[] toks = new int[N];
        float[][] lg = new float[N][V];
        for (int i = 0; i < N; i++) {
            toks[i] = bb.getInt();
            for (int j = 0; j < V; j++) lg[i][j] = bb.getFloat();
        }
        assertEquals(0, bb.remaining());
        return new Golden(toks, lg);
    }

    static void checkBothPaths(Checkpoint ck) throws IOException {
        Golden g = golden();
        Decoder d = new Decoder(ck);
        float[] all = d.forward(d.newState(N), g.tokens(), 0, N, true);
        Decoder.State st = d.newState(N);
        double maxPre = 0, maxDec = 0;
        for (int t = 0; t < N; t++) {
            float[] one = d.forward(st, g.tokens(), t, 1, false);
            for (int j = 0; j < V; j++) {
                maxPre = Math.max(maxPre, Math.abs(all[t * V + j] - g.logits()[t][j]));
                maxDec = Math.max(maxDec, Math.abs(one[j] - g.logits()[t][j]));
            }
        }
        assertTrue(maxPre < 1e-4, "prefill max |diff| " + maxPre);
        assertTrue(maxDec < 1e-4, "decode max |diff| " + maxDec);
    }

    @Test
    void legacyBinMatchesRunC() throws IOException {
        checkBothPaths(Checkpoints.load(Shared.require("models/stories260K/stories260K.bin")));
    }

    @Test
    void version1BinMatchesRunC() throws IOException {
        checkBothPaths(Checkpoints.load(Shared.require("models/stories260K/stories260K_v1.bin")));
    }

    @Test
    void ggufMatchesRunC() throws IOException {
        Checkpoint ck = Checkpoints.load(Shared.require("models/stories260K/stories260K.gguf"));
        assertNotNull(ck.tokenizer(), "GGUF carries its vocabulary");
        assertEquals(512, ck.tokenizer().vocabSize());
        checkBothPaths(ck);
    }

    @Test
    void hfConversionKeepsLogits(@TempDir Path tmp) throws IOException {
        Checkpoint bin = Checkpoints.load(Shared.require("models/stories260K/stories260K.bin"));
        Checkpoints.writeHfDir(bin, tmp.resolve("hf"), DType.F32);
        assertTrue(Files.exists(tmp.resolve("hf/config.json")));
        Checkpoint hf = Checkpoints.load(tmp.resolve("hf"));
        assertEquals(RopeStyle.HALF_SPLIT, hf.config().ropeStyle());
        assertEquals("LlamaForCausalLM", hf.config().architecture());
        assertTrue(hf.config().tiedEmbeddings());
        // The q rows really were permuted: the stored tensor differs from the llama2.c one.
        assertFalse(java.util.Arrays.equals(bin.tensors().get("model.layers.0.self_attn.q_proj.weight").data(),
                hf.tensors().get("model.layers.0.self_attn.q_proj.weight").data()));
        checkBothPaths(hf);
    }
}
