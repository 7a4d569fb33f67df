package dev.puzzle.core;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.Gguf;
import dev.puzzle.core.io.GgufWriter;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.puzzle.core.io.TensorNames.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * GGUF export read back by the toolkit's own GGUF reader: the same logits (1e-6 in F32), heterogeneous
 * children as deci, and GGUF → Hugging Face → GGUF round trips that keep every tensor's bytes, including
 * those of the stories260K.gguf that llama.cpp's own converter wrote. (That llama.cpp runs these files
 * is checked in the examples module, against node-llama-cpp.)
 */
class GgufWriterTest {
    static Checkpoint parent() {
        Path bin = Shared.require("models/stories260K/stories260K.bin"), tok = Shared.require("models/stories260K/tok512.bin");
        return Checkpoints.load(bin).withTokenizer(BpeTokenizer.readLlama2c(tok, 512));
    }

    static float[] logits(Checkpoint ck) {
        int[] ids = ck.tokenizer().encode("Once upon a time, there was a little girl named Lily.", true, false);
        Decoder d = new Decoder(ck);
        return d.forward(d.newState(ids.length), ids, 0, ids.length, true);
    }

    static void sameLogits(Checkpoint a, Checkpoint b, double tol) {
        float[] x = logits(a), y = logits(b);
        assertEquals(x.length, y.length);
        double worst = 0;
        for (int i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
        assertTrue(worst <= tol, "largest logit difference " + worst);
    }

    @Test
    void theParentReadsBackToTheSameLogits(@TempDir Path tmp) throws IOException {
        Checkpoint p = parent();
        Path gguf = tmp.resolve("p.gguf");
        GgufWriter.write(p, gguf, DType.F32);
        Checkpoint back = Checkpoints.load(gguf);
        assertTrue(back.config().tiedEmbeddings(), "a tied classifier stays tied (no output.weight, as llama.cpp's converter writes it)");
        assertEquals(p.config().blocks(), back.config().blocks());
        assertArrayEquals(p.tokenizer().encode("The little dog ran.", true, false), back.tokenizer().encode("The little dog ran.", true, false));
        sameLogits(p, back, 3e-5); // float order (heap GEMM vs mapped row blocks, compiled vs interpreted lane reductions): ~1e-6 of logits up to 20
    }

    /** Narrower FFN, pooled KV heads, no attention, no FFN with attention kept, linear attention, nothing at all. */
    static Checkpoint child(Checkpoint parent) {
        ModelConfig c = parent.config();
        Map<String, Tensor> t = new LinkedHashMap<>();
        parent.tensors().forEach((k, v) -> t.put(k, v.copy()));
        int D = c.dim(), F = c.intermediateSize(), keep = 86, E = c.headDim();
        float[] dn = t.get(layer(0, DOWN)).data(), d2 = new float[D * keep];
        for (int i = 0; i < D; i++) System.arraycopy(dn, i * F, d2, i * keep, keep);
        t.put(layer(0, GATE), new Tensor(java.util.Arrays.copyOf(t.get(layer(0, GATE)).data(), keep * D), keep, D));
        t.put(layer(0, UP), new Tensor(java.util.Arrays.copyOf(t.get(layer(0, UP)).data(), keep * D), keep, D));
        t.put(layer(0, DOWN), new Tensor(d2, D, keep));
        for (String s : new String[]{K, V}) { // layer 1: 2 KV heads (the first two of four)
            t.put(layer(1, s), new Tensor(java.util.Arrays.copyOf(t.get(layer(1, s)).data(), 2 * E * D), 2 * E, D));
        }
        for (String s : new String[]{ATTN_NORM, Q, K, V, O}) t.remove(layer(2, s));
        for (String s : new String[]{FFN_NORM, GATE, UP, DOWN}) t.remove(layer(3, s));
        for (String s : new String[]{Q, K, V, O}) t.remove(layer(4, s));
        float[] map = new float[D * D];
        Random r = new Random(7);
        for (int i = 0; i < map.length; i++) map[i] = (float) (0.05 * r.nextGaussian());
        t.put(layer(4, ATTN_LINEAR), new Tensor(map, D, D));
        List<BlockConfig> blocks = new ArrayList<>(List.of(new BlockConfig(new AttentionConfig.Gqa(4), new FfnConfig.Dense(keep)),
                new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(F)),
                new BlockConfig(new AttentionConfig.NoOp(), new FfnConfig.Dense(F)),
                new BlockConfig(new AttentionConfig.Gqa(4), new FfnConfig.NoOp()),
                new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.Dense(F))));
        if (c.numLayers() > 5) throw new IllegalStateException("stories260K has 5 layers");
        return new Checkpoint(c.withBlocks(blocks), t, parent.storedTypes(), parent.tokenizer(), "child");
    }

    @Test
    void aHeterogeneousChildIsWrittenAsDeciAndReadsBackExactly(@TempDir Path tmp) throws IOException {
        Checkpoint ch = child(parent());
        Path gguf = tmp.resolve("c.gguf");
        GgufWriter.write(ch, gguf, DType.F32);
        try (FileChannel fc = FileChannel.open(gguf, StandardOpenOption.READ)) {
            Map<String, Object> m = Gguf.readHeader(gguf, fc).metadata();
            assertEquals("deci", m.get("general.architecture"));
            assertEquals(List.of(4L, 2L, 0L, 4L, 0L), longs(m.get("deci.attention.head_count_kv")));
            long F = ch.config().intermediateSize(), H = ch.config().numHeads();
            assertEquals(List.of(H, H, 0L, H, H), longs(m.get("deci.attention.head_count")));
            assertEquals(List.of(86L, F, F, 1L, F), longs(m.get("deci.feed_forward_length")), "layer 3's stand-in FFN has width 1");
        }
        Checkpoint back = Checkpoints.load(gguf);
        assertEquals(ch.config().blocks(), back.config().blocks(), "the zero stand-in reads back as no FFN");
        sameLogits(ch, back, 1e-6);
    }

    static List<Long> longs(Object o) {
        return ((List<?>) o).stream().map(x -> ((Number) x).longValue()).toList();
    }

    /** Each tensor's raw bytes in a GGUF file, by GGUF name. */
    static Map<String, byte[]> tensorBytes(Path gguf) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (FileChannel fc = FileChannel.open(gguf, StandardOpenOption.READ)) {
            Gguf.Header h = Gguf.readHeader(gguf, fc);
            for (Gguf.TensorInfo t : h.tensors()) {
                DType d = switch (t.ggmlType()) {
                    case 0 -> DType.F32;
                    case 1 -> DType.F16;
                    case 30 -> DType.BF16;
                    case 8 -> DType.Q8_0;
                    case 2 -> DType.Q4_0;
                    case 39 -> DType.MXFP4;
                    default -> throw new AssertionError(t);
                };
                ByteBuffer b = ByteBuffer.allocate((int) d.byteSize(t.shape()));
                fc.read(b, h.dataStart() + t.offset());
                out.put(t.name(), b.array());
            }
        }
        return out;
    }

    @Test
    void ggufToHuggingFaceToGgufKeepsEveryTensorsBytes(@TempDir Path tmp) throws IOException {
        for (DType dt : new DType[]{DType.F32, DType.BF16}) {
            Path first = tmp.resolve(dt + "-1.gguf"), hf = tmp.resolve(dt + "-hf"), second = tmp.resolve(dt + "-2.gguf");
            GgufWriter.write(parent(), first, dt);
            Checkpoints.writeHfDir(Checkpoints.load(first), hf, null);
            GgufWriter.write(Checkpoints.load(hf), second, null);
            Map<String, byte[]> a = tensorBytes(first), b = tensorBytes(second);
            assertEquals(a.keySet(), b.keySet());
            for (String k : a.keySet()) assertArrayEquals(a.get(k), b.get(k), dt + " " + k);
        }
        // The file llama.cpp's own converter wrote: every one of its tensors survives GGUF -> HF -> GGUF bit for bit.
        Path ref = Shared.require("models/stories260K/stories260K.gguf"), hf = tmp.resolve("ref-hf"), again = tmp.resolve("ref.gguf");
        Checkpoints.writeHfDir(Checkpoints.load(ref), hf, null);
        GgufWriter.write(Checkpoints.load(hf), again, null);
        Map<String, byte[]> a = tensorBytes(ref), b = tensorBytes(again);
        assertFalse(a.isEmpty());
        for (String k : a.keySet()) assertArrayEquals(a.get(k), b.get(k), "llama.cpp's " + k);
    }

    /**
     * Quantized weights in files: a GGUF's Q8_0/Q4_0/MXFP4 tensors hold exactly the bytes the quantizer gives
     * (ggml's own, checked in the examples module), survive GGUF → Hugging Face → GGUF bit for bit (the
     * safetensors U8 rows and the q/k row permutations move bytes, never re-quantize), and read back in their
     * stored type; NVFP4 and FP8 round-trip through Hugging Face directories and are refused for GGUF.
     */
    @Test
    void quantizedTensorsKeepTheirBytesThroughEveryFile(@TempDir Path tmp) throws IOException {
        Checkpoint p = parent();
        for (DType dt : new DType[]{DType.Q8_0, DType.Q4_0, DType.MXFP4}) {
            Path first = tmp.resolve(dt + "-1.gguf"), hf = tmp.resolve(dt + "-hf"), second = tmp.resolve(dt + "-2.gguf");
            GgufWriter.write(p, first, dt);
            Map<String, byte[]> a = tensorBytes(first);
            Tensor v = p.tensors().get(layer(2, V));
            assertArrayEquals(dev.puzzle.core.tensor.Quant.quantize(dt, v.data(), v.rows(), v.cols()), a.get("blk.2.attn_v.weight"), dt + " attn_v");
            assertEquals(DType.F32.byteSize(p.tensors().get(layer(2, DOWN)).shape()), a.get("blk.2.ffn_down.weight").length,
                    "rows of 172 are not whole blocks: F32 kept");
            Checkpoint back = Checkpoints.load(first);
            assertEquals(dt, back.tensors().get(layer(0, Q)).dtype());
            assertEquals(DType.F32, back.tensors().get(layer(0, DOWN)).dtype());
            // A small model's F32 matrices are read onto the heap (decode reads them in place); its quantized ones stay
            // mapped, decode reading them through their Rows32 layout (a heap copy beside it went unread).
            assertFalse(back.tensors().get(layer(0, DOWN)).isMapped(), "small F32 matrices are read onto the heap");
            assertTrue(dev.puzzle.core.tensor.Rows32.decodesThrough(back.tensors().get(layer(0, Q))));
            assertNull(back.tensors().get(layer(0, Q)).packedBytes(), "quantized matrices decode reads through their layout stay mapped");
            Checkpoints.writeHfDir(back, hf, null);
            GgufWriter.write(Checkpoints.load(hf), second, null);
            Map<String, byte[]> b = tensorBytes(second);
            assertEquals(a.keySet(), b.keySet());
            for (String k : a.keySet()) assertArrayEquals(a.get(k), b.get(k), dt + " " + k);
            Checkpoint h2 = Checkpoints.load(hf);
            for (String k : new String[]{V, O, GATE, UP, DOWN}) { // rows not permuted for RoPE: the same values
                assertArrayEquals(back.tensors().get(layer(3, k)).data(), h2.tensors().get(layer(3, k)).data(), dt + " " + k);
            }
            // (No logit comparison here: the activations rounded to Q8_0 before each product make the forward
            // discontinuous, so the float-order difference of half-split vs interleaved RoPE may flip a code.)
        }
        for (DType dt : new DType[]{DType.NVFP4, DType.FP8}) {
            Path hf = tmp.resolve(dt + "-hf");
            Checkpoints.writeHfDir(p, hf, dt);
            Checkpoint back = Checkpoints.load(hf);
            for (String s : new String[]{V, O, GATE, UP}) {
                Tensor w = p.tensors().get(layer(1, s)), r = back.tensors().get(layer(1, s));
                assertEquals(dt, r.dtype(), s);
                assertArrayEquals(dev.puzzle.core.tensor.Quant.roundTrip(dt, w.data(), w.rows(), w.cols()), r.data(), dt + " " + s);
            }
            var ex = assertThrows(GgufWriter.Unsupported.class, () -> GgufWriter.write(back, tmp.resolve("x.gguf"), null));
            assertTrue(ex.getMessage().contains(dt.configName()) && ex.getMessage().contains("blk.0."), ex.getMessage());
            assertFalse(java.nio.file.Files.exists(tmp.resolve("x.gguf")));
        }
    }

    @Test
    void variantsLlamaCppCannotRunAreRefusedNamingTheLayer(@TempDir Path tmp) {
        Checkpoint p = parent();
        ModelConfig c = p.config();
        List<BlockConfig> window = new ArrayList<>(c.blocks());
        window.set(2, new BlockConfig(new AttentionConfig.Window(4, 32), new FfnConfig.Dense(c.intermediateSize())));
        List<BlockConfig> linearFfn = new ArrayList<>(c.blocks());
        linearFfn.set(1, new BlockConfig(new AttentionConfig.Gqa(4), new FfnConfig.Linear()));
        List<BlockConfig> fp8 = new ArrayList<>(c.blocks());
        fp8.set(3, new BlockConfig(new AttentionConfig.Gqa(4).withFp8Kv(), new FfnConfig.Dense(c.intermediateSize())));
        Map<List<BlockConfig>, String> cases = Map.of(window, "layer 2", linearFfn, "layer 1", fp8, "layer 3");
        for (var e : cases.entrySet()) {
            Path out = tmp.resolve("x.gguf");
            var ex = assertThrows(GgufWriter.Unsupported.class, () -> GgufWriter.write(new Checkpoint(c.withBlocks(e.getKey()), p.tensors(), p.storedTypes(),
                    p.tokenizer(), "x"), out, null));
            assertTrue(ex.getMessage().startsWith(e.getValue() + " ("), ex.getMessage());
            assertFalse(java.nio.file.Files.exists(out));
        }
    }
}
