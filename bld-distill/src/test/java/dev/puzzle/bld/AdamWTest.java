package dev.puzzle.bld;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.tensor.Tensor;
import dev.puzzle.core.ops.Param;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** AdamW against PyTorch's own torch.optim.AdamW: the fixture and the script that wrote it are in src/test/resources/golden. */
class AdamWTest {
    static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }

    @Test
    void threeStepsEqualPyTorch() throws Exception {
        JsonNode f;
        try (InputStream in = AdamWTest.class.getResourceAsStream("/golden/adamw_fixture.json")) {
            f = new ObjectMapper().readTree(in);
        }
        Param w = new Param("w", new Tensor(floats(f.get("init").get("w")), 3, 4)); // a matrix: weight-decayed
        Param b = new Param("b", new Tensor(floats(f.get("init").get("b")), 4));    // a vector: not decayed
        AdamW opt = new AdamW(List.of(w, b), 0.9, 0.95, f.get("weight_decay").asDouble());
        for (JsonNode s : f.get("steps")) {
            System.arraycopy(floats(s.get("grad_w")), 0, w.grad(), 0, 12);
            System.arraycopy(floats(s.get("grad_b")), 0, b.grad(), 0, 4);
            opt.step(s.get("lr").asDouble());
            float[] ww = floats(s.get("w")), bb = floats(s.get("b"));
            for (int i = 0; i < 12; i++) assertEquals(ww[i], w.w[i], 1e-6, "w[" + i + "] after step " + opt.steps());
            for (int i = 0; i < 4; i++) assertEquals(bb[i], b.w[i], 1e-6, "b[" + i + "] after step " + opt.steps());
        }
        assertEquals(3, opt.steps());
    }

    @Test
    void clippingScalesTheGlobalNorm() {
        Param a = new Param("a", new Tensor(new float[]{0, 0}, 2)), c = new Param("c", new Tensor(new float[]{0}, 1));
        a.grad()[0] = 3;
        a.grad()[1] = 0;
        c.grad()[0] = 4; // global norm 5
        AdamW opt = new AdamW(List.of(a, c), 0.9, 0.95, 0);
        assertEquals(5.0, opt.clip(1.0), 1e-12);
        assertArrayEquals(new float[]{0.6f, 0f}, a.grad(), 1e-7f);
        assertArrayEquals(new float[]{0.8f}, c.grad(), 1e-7f);
        assertEquals(1.0, opt.clip(2.0), 1e-6, "under the limit: unchanged");
        assertArrayEquals(new float[]{0.6f, 0f}, a.grad(), 1e-7f);
    }
}
