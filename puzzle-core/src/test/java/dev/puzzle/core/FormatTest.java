package dev.puzzle.core;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The F16 GGUF with an untied classifier, sharded safetensors, and every safetensors header check. */
class FormatTest {

    @Test
    void f16GgufWithUntiedClassifierLoadsAndRuns() {
        Checkpoint ck = Checkpoints.load(Shared.require("models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf"));
        assertFalse(ck.config().tiedEmbeddings());
        assertEquals(32000, ck.config().vocabSize());
        assertEquals(8, ck.config().dim());
        assertEquals(DType.F16, ck.storedTypes().get("model.layers.0.self_attn.q_proj.weight"));
        assertEquals(DType.F32, ck.storedTypes().get("model.layers.0.input_layernorm.weight"));
        assertNotNull(ck.tensors().get("lm_head.weight"));
        var tok = ck.tokenizer();
        assertEquals(32000, tok.vocabSize());
        int[] ids = tok.encode("Hello world", true, false);
        // Llama-2's tokenizer: <s> ▁Hello ▁world
        assertArrayEquals(new int[]{1, 15043, 3186}, ids);
        Decoder d = new Decoder(ck);
        float[] logits = d.forward(d.newState(3), ids, 0, 3, true);
        assertEquals(3 * 32000, logits.length);
        for (float f : logits) assertTrue(Float.isFinite(f));
        // The classifier is really the separate output matrix: differs from using the embedding.
        float[] emb = ck.tensors().get("model.embed_tokens.weight").data(), head = ck.tensors().get("lm_head.weight").data();
        assertFalse(java.util.Arrays.equals(emb, head));
    }

    @Test
    void llama2TokenizerBinMatchesGgufVocabulary() {
        var bin = dev.puzzle.core.tokenizer.BpeTokenizer.readLlama2c(Shared.require("models/llama2-tokenizer/tokenizer.bin"), 32000);
        var gguf = Checkpoints.load(Shared.require("models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf")).tokenizer();
        String text = "The quick brown fox jumps over the lazy dog. Ünïcödé 日本語 🙂\n\ttabs";
        assertArrayEquals(bin.encode(text, true, false), gguf.encode(text, true, false));
    }

    static Path writeRaw(Path f, String header, int dataBytes, Long lengthOverride) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer bb = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(lengthOverride != null ? lengthOverride : h.length).put(h);
        Files.write(f, bb.array());
        return f;
    }

    static String msg(Path f) {
        return assertThrows(dev.puzzle.core.PuzzleException.class, () -> Safetensors.open(f).close()).getMessage();
    }

    @Test
    void safetensorsHeaderChecks(@TempDir Path tmp) throws IOException {
        String ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
        try (Safetensors st = Safetensors.open(writeRaw(tmp.resolve("ok.safetensors"), ok, 24, null))) {
            assertArrayEquals(new int[]{2, 3}, st.read("w").shape());
        }
        Path tooShort = tmp.resolve("short.safetensors");
        Files.write(tooShort, new byte[]{1, 2, 3});
        assertTrue(msg(tooShort).contains("too short"), msg(tooShort));
        String m = msg(writeRaw(tmp.resolve("len.safetensors"), ok, 24, 1L << 40));
        assertTrue(m.contains("header length") && m.contains(String.valueOf(1L << 40)), m);
        m = msg(writeRaw(tmp.resolve("past.safetensors"), ok, 24, (long) ok.length() + 100));
        assertTrue(m.contains("runs past the end"), m);
        m = msg(writeRaw(tmp.resolve("trunc.safetensors"), ok, 10, null));
        assertTrue(m.contains("w.data_offsets") && m.contains("[0, 24]"), m);
        m = msg(writeRaw(tmp.resolve("neg.safetensors"), ok.replace("[0,24]", "[30,24]"), 24, null));
        assertTrue(m.contains("w.data_offsets"), m);
        m = msg(writeRaw(tmp.resolve("mismatch.safetensors"), ok.replace("[2,3]", "[2,4]"), 24, null));
        assertTrue(m.contains("needs 32 bytes but data_offsets span 24"), m);
        m = msg(writeRaw(tmp.resolve("dtype.safetensors"), ok.replace("F32", "I64"), 24, null));
        assertTrue(m.contains("w.dtype") && m.contains("I64"), m);
        m = msg(writeRaw(tmp.resolve("json.safetensors"), "{not json", 0, null));
        assertTrue(m.contains("not valid JSON"), m);
    }

    @Test
    void shardedIndexIsRead(@TempDir Path tmp) throws IOException {
        Checkpoint ck = HeterogeneousModelTest.randomModel(HeterogeneousModelTest.sixLayers(false, true), 3);
        Path dir = tmp.resolve("sharded");
        Checkpoints.writeHfDir(ck, dir, DType.F32);
        // Split model.safetensors into two shards with an index, as HF does for large models.
        Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        StringBuilder idx = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        try (Safetensors st = Safetensors.open(dir.resolve("model.safetensors"))) {
            int i = 0;
            for (String name : st.entries().keySet()) {
                (i++ % 2 == 0 ? a : b).put(name, st.read(name));
                types.put(name, DType.F32);
                idx.append(i > 1 ? "," : "").append('"').append(name).append("\":\"model-0000").append(i % 2 == 1 ? 1 : 2).append("-of-00002.safetensors\"");
            }
        }
        Files.delete(dir.resolve("model.safetensors"));
        Safetensors.write(dir.resolve("model-00001-of-00002.safetensors"), a, types, null);
        Safetensors.write(dir.resolve("model-00002-of-00002.safetensors"), b, types, null);
        Files.writeString(dir.resolve("model.safetensors.index.json"), idx.append("}}").toString());
        Checkpoint back = Checkpoints.load(dir);
        assertEquals(ck.tensors().keySet(), back.tensors().keySet());
        for (String n : ck.tensors().keySet()) assertArrayEquals(ck.tensors().get(n).data(), back.tensors().get(n).data(), 0f, n);
    }

    @Test
    void truncatedLlama2cBinIsRejected(@TempDir Path tmp) throws IOException {
        byte[] all = Files.readAllBytes(Shared.require("models/stories260K/stories260K.bin"));
        Path f = tmp.resolve("cut.bin");
        Files.write(f, java.util.Arrays.copyOf(all, all.length - 100));
        String m = assertThrows(dev.puzzle.core.PuzzleException.class, () -> Checkpoints.load(f)).getMessage();
        assertTrue(m.contains("truncated") && m.contains(f.toString()), m);
    }

    @Test
    void unknownArchitectureIsRejected(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("config.json"), "{\"architectures\":[\"GPT2LMHeadModel\"],\"hidden_size\":8}");
        String m = assertThrows(dev.puzzle.core.PuzzleException.class, () -> Checkpoints.load(tmp)).getMessage();
        assertTrue(m.contains("architectures") && m.contains("GPT2LMHeadModel"), m);
    }
}
