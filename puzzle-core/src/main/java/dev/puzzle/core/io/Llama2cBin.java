package dev.puzzle.core.io;

import dev.puzzle.core.tensor.DType;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.puzzle.core.io.TensorNames.*;

/**
 * karpathy/llama2.c checkpoints. Legacy: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size — negative when the classifier is separate —, seq_len), then FP32 weights per kind
 * across layers, then freq_cis tables and the classifier (export.py legacy_export). Version 1: a
 * 256-byte header (magic "ak42", version 1, the 7 params, a shared-classifier byte), norms first and
 * no freq_cis (export.py version1_export). RoPE pairs are interleaved, as run.c rotates them.
 */
public final class Llama2cBin {
    private Llama2cBin() {}

    public static final int MAGIC = 0x616b3432;

    /**
     * Weights up to this many bytes are read into the heap as FP32 (llama2.c's own models are at most 440 MB: training
     * and scoring then run on heap arrays); a larger file's matrices are memory-mapped as a GGUF's F32 tensors are,
     * its norms still read (a mapping of one FileChannel.map call is limited to 2 GiB, and a 7B model would not fit
     * the heap).
     */
    static final long HEAP_BYTES = 1L << 30;

    public static Checkpoint read(Path file) {
        return read(file, HEAP_BYTES);
    }

    /** {@link #read}, mapping the matrices when the weights exceed {@code heapBytes} (tests use small limits). */
    static Checkpoint read(Path file, long heapBytes) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 28) throw new PuzzleException(file + ": not a llama2.c checkpoint (" + size + " bytes, shorter than its 28-byte header)");
            ByteBuffer head = ByteBuffer.allocate((int) Math.min(256, size)).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(head, 0);
            head.flip();
            boolean v1 = head.getInt(0) == MAGIC;
            int off;
            if (v1) {
                int version = head.getInt(4);
                if (version != 1) {
                    throw PuzzleException.field(file, "version", version, "only llama2.c version 1 (FP32) exports are supported");
                }
                if (size < 256) throw new PuzzleException(file + ": truncated version-1 header");
                off = 8;
            } else {
                off = 0;
            }
            int dim = head.getInt(off), hidden = head.getInt(off + 4), layers = head.getInt(off + 8), heads = head.getInt(off + 12),
                    kvHeads = head.getInt(off + 16), vocab = head.getInt(off + 20), seq = head.getInt(off + 24);
            boolean shared;
            if (v1) {
                shared = head.get(off + 28) != 0;
            } else {
                shared = vocab > 0;
                vocab = Math.abs(vocab);
            }
            if (!v1 && !plausible(dim, hidden, layers, heads, kvHeads, vocab, seq)) { // legacy files have no magic: sniff the header
                throw new PuzzleException(file + ": not a llama2.c checkpoint (" + (text(head) ? "it reads as text" : "its first 28 bytes are no llama2.c header: dim "
                        + dim + ", hidden " + hidden + ", layers " + layers + ", heads " + heads + ", kv heads " + kvHeads + ", vocab " + vocab + ", seq " + seq)
                        + "); a model is a Hugging Face directory, a .safetensors file beside its config.json, a llama2.c .bin or a .gguf");
            }
            checkPositive(file, "dim", dim);
            checkPositive(file, "hidden_dim", hidden);
            checkPositive(file, "n_layers", layers);
            checkPositive(file, "n_heads", heads);
            checkPositive(file, "n_kv_heads", kvHeads);
            checkPositive(file, "vocab_size", vocab);
            checkPositive(file, "seq_len", seq);
            if (dim % heads != 0) throw PuzzleException.field(file, "n_heads", heads, "does not divide dim " + dim);
            if (heads % kvHeads != 0) throw PuzzleException.field(file, "n_kv_heads", kvHeads, "does not divide n_heads " + heads);
            int E = dim / heads, kvDim = kvHeads * E;
            long floats = (long) vocab * dim + 2L * layers * dim + dim
                    + (long) layers * ((long) dim * dim * 2 + 2L * dim * kvDim + 3L * dim * hidden)
                    + (v1 ? 0 : (long) seq * E) + (shared ? 0 : (long) vocab * dim);
            long expected = (v1 ? 256 : 28) + floats * 4;
            if (size != expected) {
                throw new PuzzleException(file + ": " + size + " bytes, but a llama2.c " + (v1 ? "version-1" : "legacy")
                        + " checkpoint with header (dim " + dim + ", hidden " + hidden + ", layers " + layers + ", heads " + heads
                        + ", kv_heads " + kvHeads + ", vocab " + vocab + ", seq " + seq + ") is " + expected + " bytes"
                        + (size < expected ? " (truncated?)" : ""));
            }
            Reader r = new Reader(ch, v1 ? 256 : 28, floats * 4 > heapBytes);
            Map<String, Tensor> t = new LinkedHashMap<>();
            if (v1) {
                r.perLayer(t, layers, ATTN_NORM, dim);
                r.perLayer(t, layers, FFN_NORM, dim);
                t.put(FINAL_NORM, r.next(dim));
                t.put(EMBED, r.next(vocab, dim));
            } else {
                t.put(EMBED, r.next(vocab, dim));
                r.perLayer(t, layers, ATTN_NORM, dim);
            }
            r.perLayer(t, layers, Q, dim, dim);
            r.perLayer(t, layers, K, kvDim, dim);
            r.perLayer(t, layers, V, kvDim, dim);
            r.perLayer(t, layers, O, dim, dim);
            if (!v1) r.perLayer(t, layers, FFN_NORM, dim);
            r.perLayer(t, layers, GATE, hidden, dim);
            r.perLayer(t, layers, DOWN, dim, hidden);
            r.perLayer(t, layers, UP, hidden, dim);
            if (!v1) {
                t.put(FINAL_NORM, r.next(dim));
                r.skip((long) seq * E); // freq_cis_real and freq_cis_imag, (seq, E/2) each
            }
            if (!shared) t.put(LM_HEAD, r.next(vocab, dim));
            ModelConfig cfg = ModelConfig.builder("LlamaForCausalLM").dim(dim).layers(layers).heads(heads).kvHeads(kvHeads).intermediateSize(hidden).vocabSize(vocab).maxSeqLen(seq).normEps(1e-5f).ropeTheta(10000f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(shared).qkvBias(false).build();
            Map<String, DType> types = new LinkedHashMap<>();
            t.keySet().forEach(n -> types.put(n, DType.F32));
            return new Checkpoint(cfg, t, types, null, file.toString());
        } catch (IOException e) {
            throw new PuzzleException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Whether a legacy header's seven numbers describe a model at all (positive, heads dividing dim and KV heads dividing heads, sane sizes). */
    static boolean plausible(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seq) {
        return dim > 0 && hidden > 0 && layers > 0 && heads > 0 && kvHeads > 0 && vocab > 0 && seq > 0 && dim % heads == 0 && heads % kvHeads == 0
                && (dim / heads) % 2 == 0 && dim <= 1 << 16 && hidden <= 1 << 20 && layers <= 1 << 12 && vocab <= 1 << 24 && seq <= 1 << 24;
    }

    /** Whether the header bytes are printable text (a text file named .bin). */
    private static boolean text(ByteBuffer head) {
        for (int i = 0; i < Math.min(28, head.limit()); i++) {
            int b = head.get(i) & 0xff;
            if (b < 0x09 || (b > 0x0d && b < 0x20) || b > 0x7e) return false;
        }
        return true;
    }

    private static void checkPositive(Path file, String field, int v) {
        if (v <= 0) throw PuzzleException.field(file, field, v, "must be positive; is this a llama2.c checkpoint?");
    }

    /** The weights in file order: each into the heap, or each matrix mapped where {@code map} (norms still into the heap). */
    private static final class Reader {
        private final FileChannel ch;
        private final long start;
        private final ByteBuffer all; // the weights, mapped whole, when they go into the heap (then under HEAP_BYTES)
        private long at;

        Reader(FileChannel ch, long start, boolean map) throws IOException {
            this.ch = ch;
            this.start = start;
            this.at = start;
            this.all = map ? null : ch.map(FileChannel.MapMode.READ_ONLY, start, ch.size() - start).order(ByteOrder.LITTLE_ENDIAN);
        }

        Tensor next(int... shape) throws IOException {
            long n = Tensor.numel(shape), from = at;
            at += 4 * n;
            if (all == null && shape.length == 2) return Tensor.mapped(ch, from, DType.F32, shape);
            float[] a = new float[Math.toIntExact(n)];
            if (all != null) {
                all.slice(Math.toIntExact(from - start), Math.toIntExact(4 * n)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(a);
            } else {
                ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(4 * n)).order(ByteOrder.LITTLE_ENDIAN);
                while (b.hasRemaining()) {
                    if (ch.read(b, from + b.position()) < 0) throw new IOException("unexpected end of file");
                }
                b.flip().asFloatBuffer().get(a);
            }
            return new Tensor(a, shape);
        }

        void perLayer(Map<String, Tensor> t, int layers, String suffix, int... shape) throws IOException {
            for (int i = 0; i < layers; i++) t.put(layer(i, suffix), next(shape));
        }

        void skip(long n) {
            at += 4 * n;
        }
    }

    /**
     * Writes a uniform FP32 model in the legacy format (what run.c reads), interleaved RoPE. Benchmarks
     * use it to hand the same weights to any llama2.c-compatible runner.
     */
    public static void writeLegacy(Path file, Checkpoint ck) throws IOException {
        ModelConfig c = ck.config();
        if (!c.isUniformParent() || c.qkvBias() || c.qkNorm() || c.extensions().any()) {
            throw new PuzzleException(file + ": the llama2.c format holds only uniform Llama models without biases, q/k norms, sinks or YaRN");
        }
        if (c.ropeStyle() != RopeStyle.INTERLEAVED) throw new PuzzleException(file + ": the llama2.c format needs interleaved RoPE weights");
        if (c.headDim() * c.numHeads() != c.dim()) throw new PuzzleException(file + ": llama2.c needs headDim * numHeads == dim");
        int L = c.numLayers(), D = c.dim(), E = c.headDim();
        long floats = (long) c.vocabSize() * D * (c.tiedEmbeddings() ? 1 : 2) + (long) L * (2L * D + 2L * D * D
                + 2L * D * c.numKvHeads() * E + 3L * D * c.intermediateSize()) + D + (long) c.maxSeqLen() * E;
        AtomicFiles.write(file, out -> {
            ByteBuffer h = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(D).putInt(c.intermediateSize()).putInt(L).putInt(c.numHeads()).putInt(c.numKvHeads())
                    .putInt(c.tiedEmbeddings() ? c.vocabSize() : -c.vocabSize()).putInt(c.maxSeqLen());
            out.write(h.array());
            FloatWriter w = new FloatWriter(out);
            w.put(ck.tensors().get(EMBED));
            for (String s : new String[]{ATTN_NORM, Q, K, V, O, FFN_NORM, GATE, DOWN, UP}) {
                for (int i = 0; i < L; i++) w.put(ck.tensors().get(layer(i, s)));
            }
            w.put(ck.tensors().get(FINAL_NORM));
            float[] fr = new float[c.maxSeqLen() * E / 2], fi = new float[c.maxSeqLen() * E / 2];
            for (int p = 0; p < c.maxSeqLen(); p++) {
                for (int i = 0; i < E / 2; i++) {
                    double f = p / Math.pow(c.ropeTheta(), 2.0 * i / E);
                    fr[p * E / 2 + i] = (float) Math.cos(f);
                    fi[p * E / 2 + i] = (float) Math.sin(f);
                }
            }
            w.put(new Tensor(fr, fr.length));
            w.put(new Tensor(fi, fi.length));
            if (!c.tiedEmbeddings()) w.put(ck.tensors().get(LM_HEAD));
            w.flush();
            if (w.count != floats) throw new IllegalStateException("wrote " + w.count + " floats, expected " + floats);
        });
    }

    private static final class FloatWriter {
        private final java.io.OutputStream out;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        long count;

        FloatWriter(java.io.OutputStream out) {
            this.out = out;
        }

        void put(Tensor t) throws IOException {
            for (float f : t.data()) {
                if (buf.remaining() < 4) flush();
                buf.putFloat(f);
                count++;
            }
        }

        void flush() throws IOException {
            out.write(buf.array(), 0, buf.position());
            buf.clear();
        }
    }
}
