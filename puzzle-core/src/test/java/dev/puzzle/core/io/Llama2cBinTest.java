package dev.puzzle.core.io;

import dev.puzzle.core.Shared;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** A llama2.c file past the heap limit: its matrices mapped (one FileChannel.map is at most 2 GiB), its values and logits the heap read's. */
class Llama2cBinTest {

    @Test
    void pastTheHeapLimitTheMatricesAreMappedWithTheSameValues() {
        Path bin = Shared.require("models/stories260K/stories260K.bin");
        Checkpoint heap = Llama2cBin.read(bin), mapped = Llama2cBin.read(bin, 0);
        assertEquals(heap.tensors().keySet(), mapped.tensors().keySet());
        int matrices = 0;
        for (var e : heap.tensors().entrySet()) {
            Tensor h = e.getValue(), m = mapped.tensors().get(e.getKey());
            assertFalse(h.isMapped(), e.getKey() + " of a small file is on the heap");
            assertArrayEquals(h.shape(), m.shape(), e.getKey());
            assertEquals(h.shape().length == 2, m.isMapped(), e.getKey() + ": matrices mapped, norms on the heap");
            if (m.isMapped()) matrices++;
            float[] got = new float[(int) Tensor.numel(m.shape())];
            if (m.isMapped()) m.rows(0, m.rows(), got, 0);
            else got = m.data();
            assertArrayEquals(h.data(), got, 0f, e.getKey());
        }
        assertEquals(1 + 7 * heap.config().numLayers(), matrices, "the embeddings and seven matrices a layer");
        Decoder dh = new Decoder(heap, Backend.cpu());
        float[] a = dh.forward(dh.newState(8), new int[]{1, 42, 7}, 0, 3, false);
        Decoder dm = new Decoder(mapped, Backend.cpu());
        float[] b = dm.forward(dm.newState(8), new int[]{1, 42, 7}, 0, 3, false);
        assertArrayEquals(a, b, 1e-4f, "logits after three tokens");
    }
}
