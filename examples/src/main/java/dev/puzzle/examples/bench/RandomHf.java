package dev.puzzle.examples.bench;

import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.HfConfig;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * Writes a random-weight Llama of a given shape as a Hugging Face directory (config.json,
 * model.safetensors) in F32, F16 or BF16, one tensor row block at a time: a parent larger than the heap
 * is written with a small one. Matrices are uniform with std 1/√fan-in, the embedding std 0.5, norms
 * near 1; each tensor has its own seeded stream. For benchmarks of big parents — never a model.
 * Usage: RandomHf OUT_DIR DIM LAYERS HEADS KV_HEADS HIDDEN VOCAB SEQ DTYPE   (e.g. TinyLlama-1.1B:
 * 2048 22 32 4 5632 32000 2048 bf16)
 */
public final class RandomHf {
    public static void main(String[] a) throws Exception {
        Path out = Path.of(a[0]);
        int dim = Integer.parseInt(a[1]), layers = Integer.parseInt(a[2]), heads = Integer.parseInt(a[3]), kv = Integer.parseInt(a[4]),
                hidden = Integer.parseInt(a[5]), vocab = Integer.parseInt(a[6]), seq = Integer.parseInt(a[7]);
        DType dt = DType.valueOf(a[8].toUpperCase(Locale.ROOT));
        ModelConfig c = ModelConfig.builder("LlamaForCausalLM").dim(dim).layers(layers).heads(heads).kvHeads(kv).intermediateSize(hidden).vocabSize(vocab).maxSeqLen(seq).normEps(1e-5f).ropeTheta(10000f).ropeStyle(RopeStyle.HALF_SPLIT).tiedEmbeddings(false).qkvBias(false).build();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        int E = dim / heads;
        shapes.put(EMBED, new int[]{vocab, dim});
        for (int l = 0; l < layers; l++) {
            shapes.put(layer(l, ATTN_NORM), new int[]{dim});
            shapes.put(layer(l, Q), new int[]{heads * E, dim});
            shapes.put(layer(l, K), new int[]{kv * E, dim});
            shapes.put(layer(l, V), new int[]{kv * E, dim});
            shapes.put(layer(l, O), new int[]{dim, heads * E});
            shapes.put(layer(l, FFN_NORM), new int[]{dim});
            shapes.put(layer(l, GATE), new int[]{hidden, dim});
            shapes.put(layer(l, UP), new int[]{hidden, dim});
            shapes.put(layer(l, DOWN), new int[]{dim, hidden});
        }
        shapes.put(FINAL_NORM, new int[]{dim});
        shapes.put(LM_HEAD, new int[]{vocab, dim});
        Map<String, DType> types = new LinkedHashMap<>();
        shapes.forEach((n, s) -> types.put(n, s.length == 1 ? DType.F32 : dt));
        Files.createDirectories(out);
        byte[] header = Safetensors.header(shapes, types, Map.of("format", "pt"));
        AtomicFiles.write(out.resolve("model.safetensors"), os -> {
            os.write(header);
            for (var e : shapes.entrySet()) {
                int[] s = e.getValue();
                DType t = types.get(e.getKey());
                SplittableRandom r = new SplittableRandom(e.getKey().hashCode());
                boolean norm = s.length == 1;
                double std = norm ? 0.1 : e.getKey().equals(EMBED) ? 0.5 : 1 / Math.sqrt(s[1]);
                double half = std * Math.sqrt(3); // uniform(−h, h) has std h/√3
                long n = (long) s[0] * (norm ? 1 : s[1]);
                ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (long i = 0; i < n; i++) {
                    float v = (float) ((norm ? 1 : 0) + (2 * r.nextDouble() - 1) * half);
                    switch (t) {
                        case F32 -> buf.putFloat(v);
                        case F16 -> buf.putShort(Float.floatToFloat16(v));
                        case BF16 -> buf.putShort(DType.floatToBf16(v));
                    }
                    if (buf.remaining() < 4) {
                        os.write(buf.array(), 0, buf.position());
                        buf.clear();
                    }
                }
                os.write(buf.array(), 0, buf.position());
            }
        });
        AtomicFiles.writeString(out.resolve("config.json"), HfConfig.toJsonString(c));
    }
}
