package dev.puzzle.core;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.ops.BlockOp;
import dev.puzzle.core.ops.BlockOps;
import dev.puzzle.core.ops.Param;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.train.TrainableModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Forward and backward of every sub-block and of a whole heterogeneous mini-model against PyTorch autograd
 * (fixture written by src/test/resources/golden/make_bld_fixture.py), within 1e-4 relative.
 */
class GoldenBackwardTest {
    static BlockOps ops(Checkpoint ck) {
        return new BlockOps(ck.config(), ck.tensors(), ck.source(), Backend.cpu());
    }

    static Map<String, float[]> fx = new LinkedHashMap<>();
    static Map<String, int[]> shapes = new LinkedHashMap<>();
    static final int D = 16, H = 4, E = 4, F = 24, V = 11, S = 2, T = 5;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = GoldenBackwardTest.class.getResourceAsStream("/golden/bld_fixture.bin")) {
            ByteBuffer bb = ByteBuffer.wrap(in.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
            byte[] magic = new byte[4];
            bb.get(magic);
            assertEquals("PZGF", new String(magic, StandardCharsets.US_ASCII));
            assertEquals(1, bb.getInt(), "fixture version");
            int n = bb.getInt();
            for (int r = 0; r < n; r++) {
                byte[] name = new byte[bb.getInt()];
                bb.get(name);
                int[] shape = new int[bb.getInt()];
                int count = 1;
                for (int i = 0; i < shape.length; i++) count *= shape[i] = bb.getInt();
                float[] data = new float[count];
                bb.asFloatBuffer().get(data);
                bb.position(bb.position() + 4 * count);
                fx.put(new String(name, StandardCharsets.UTF_8), data);
                shapes.put(new String(name, StandardCharsets.UTF_8), shape);
            }
        }
    }

    /** A fresh checkpoint of the fixture's parameters (copied: training mutates them). */
    static Checkpoint model() {
        List<BlockConfig> blocks = List.of(new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.Dense(F)),
                new BlockConfig(new AttentionConfig.Window(1, 3), new FfnConfig.Linear()),
                new BlockConfig(new AttentionConfig.Linear(), new FfnConfig.NoOp()));
        ModelConfig c = new ModelConfig("LlamaForCausalLM", D, H, E, 2, F, V, 64, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, false, true, blocks);
        Map<String, Tensor> t = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        fx.forEach((k, v) -> {
            if (k.startsWith("param.")) {
                t.put(k.substring(6), new Tensor(v.clone(), shapes.get(k)));
                types.put(k.substring(6), DType.F32);
            }
        });
        return new Checkpoint(c, t, types, null, "fixture");
    }

    static void close(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        double scale = 0;
        for (float w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= 1e-4 * Math.max(scale, 1e-3) + 1e-6,
                    what + "[" + i + "]: torch " + want[i] + " vs " + got[i] + " (scale " + scale + ")");
        }
    }

    void checkBlock(String name, java.util.function.Function<Checkpoint, BlockOp> make) {
        Checkpoint ck = model();
        BlockOp b = make.apply(ck);
        BlockOp.Saved s = b.forward(fx.get(name + ".x").clone(), S, T);
        close(fx.get(name + ".out"), s.out(), name + ".out");
        float[] dx = b.backward(s, fx.get(name + ".r"));
        close(fx.get(name + ".dx"), dx, name + ".dx");
        int checked = 0;
        for (Param p : b.params()) {
            float[] want = fx.get(name + ".grad." + p.name);
            assertNotNull(want, name + ": torch has a gradient for " + p.name);
            close(want, p.grad(), name + ".grad." + p.name);
            checked++;
        }
        assertTrue(checked >= 2);
    }

    @Test
    void gqaAttentionWithBias() {
        checkBlock("attn0", ck -> ops(ck).attention(0, new AttentionConfig.Gqa(2)));
    }

    @Test
    void windowAttention() {
        checkBlock("attn1", ck -> ops(ck).attention(1, new AttentionConfig.Window(1, 3)));
    }

    @Test
    void swigluFfn() {
        checkBlock("ffn0", ck -> ops(ck).ffn(0, new FfnConfig.Dense(F)));
    }

    @Test
    void linearReplacements() {
        checkBlock("ffn1", ck -> ops(ck).ffn(1, new FfnConfig.Linear()));
        checkBlock("attn2", ck -> ops(ck).attention(2, new AttentionConfig.Linear()));
    }

    @Test
    void wholeModelLossAndGradients() {
        Checkpoint ck = model();
        TrainableModel m = new TrainableModel(ck, Backend.cpu());
        float[] tok = fx.get("tokens");
        int[] in = new int[S * T], target = new int[S * T];
        for (int s = 0; s < S; s++) {
            for (int t = 0; t < T; t++) {
                in[s * T + t] = (int) tok[s * (T + 1) + t];
                target[s * T + t] = (int) tok[s * (T + 1) + t + 1];
            }
        }
        TrainableModel.Saved sv = m.forward(in, S, T);
        close(fx.get("model.logits"), sv.logits(), "logits");
        float[] dl = new float[S * T * V];
        float loss = m.crossEntropy(sv.logits(), target, V, dl);
        assertEquals(fx.get("model.loss")[0], loss, 1e-5);
        m.backward(sv, dl);
        for (Param p : m.params()) close(fx.get("model.grad." + p.name), p.grad(), "grad " + p.name);
        // The inference decoder computes the same logits.
        Decoder d = new Decoder(model());
        for (int s = 0; s < S; s++) {
            float[] lg = d.forward(d.newState(T), in, s * T, T, true);
            for (int i = 0; i < T * V; i++) assertEquals(sv.logits()[s * T * V + i], lg[i], 1e-4);
        }
    }
}
