package dev.puzzle.core.io;

import dev.puzzle.core.tensor.DType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
 * of JSON ({@code name → {dtype, shape, data_offsets: [begin, end]}}, plus optional
 * {@code __metadata__}), then the data. The reader validates everything against the file before
 * touching data (header size limit, offsets inside the data, shape × dtype = byte length) and maps
 * tensors in their stored dtype ({@link #map}) or reads them widened ({@link #read}); the writer writes
 * atomically, copying mapped tensors that keep their dtype byte for byte.
 */
public final class Safetensors implements AutoCloseable {
    /** Headers beyond this are refused (the reference implementation's limit is 100 MB). */
    public static final long MAX_HEADER = 100L * 1024 * 1024;

    /**
     * Metadata key prefix naming a quantized tensor's dtype: the tensor itself is stored as U8 of shape
     * [..., rowBytes] (the rows of its {@link DType} layout), its logical shape has the row's element count last.
     */
    public static final String QUANT_KEY = "puzzle.dtype.";

    /** The metadata key of the data section's CRC-32C (hex), written by {@link #write}. */
    public static final String CRC_KEY = "puzzle.crc32c";

    private static final Map<Path, String> CHECKED = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Whether a run-directory file exists and is intact. One whose data no longer matches its checksum, or
     * that is truncated, is said on stderr and deleted, so that it is rebuilt rather than used. Each file is
     * checked once per process (and again when it changes).
     */
    public static boolean intact(Path f) {
        try {
            if (!java.nio.file.Files.exists(f)) return false;
            String stamp = java.nio.file.Files.getLastModifiedTime(f).toMillis() + ":" + java.nio.file.Files.size(f);
            if (stamp.equals(CHECKED.get(f))) return true;
            String damage = damage(f);
            if (damage == null) {
                CHECKED.put(f, stamp);
                return true;
            }
            dev.puzzle.core.Notices.say(damage + "; removed, to be rebuilt");
            java.nio.file.Files.deleteIfExists(f);
            return false;
        } catch (IOException e) {
            throw new PuzzleException(f + ": cannot check: " + e.getMessage(), e);
        }
    }

    /**
     * Null when {@code file} is a readable safetensors file whose data matches the CRC-32C its header
     * records (or records none), else what is wrong with it: truncated, unreadable, or damaged.
     */
    public static String damage(Path file) {
        try (Safetensors st = open(file)) {
            String want = st.metadata().get(CRC_KEY);
            if (want == null) return null;
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            long pos = st.dataStart, end = st.ch.size();
            while (pos < end) {
                buf.clear();
                int n = st.ch.read(buf, pos);
                if (n <= 0) break;
                buf.flip();
                crc.update(buf);
                pos += n;
            }
            return Long.toHexString(crc.getValue()).equals(want) ? null : file + ": damaged: its data does not match the checksum recorded when it was written";
        } catch (PuzzleException e) {
            return e.getMessage();
        } catch (IOException e) {
            return file + ": unreadable: " + e.getMessage();
        }
    }
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One entry of the header. */
    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {}

    private final Path file;
    private final FileChannel ch;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, Entry> byteEntries;
    private final Map<String, String> metadata;

    private Safetensors(Path file, FileChannel ch, long dataStart, Map<String, Entry> entries, Map<String, Entry> byteEntries, Map<String, String> metadata) {
        this.file = file;
        this.ch = ch;
        this.dataStart = dataStart;
        this.entries = entries;
        this.byteEntries = byteEntries;
        this.metadata = metadata;
    }

    public static Safetensors open(Path file) {
        FileChannel ch = null;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
            long size = ch.size();
            if (size < 8) throw new PuzzleException(file + ": " + size + " bytes is too short for a safetensors file (needs an 8-byte header length)");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n < 2 || n > MAX_HEADER) throw PuzzleException.field(file, "header length", n, "must be between 2 and " + MAX_HEADER + " bytes");
            if (8 + n > size) throw PuzzleException.field(file, "header length", n, "runs past the end of the file (" + size + " bytes; truncated?)");
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            ch.read(hb, 8);
            JsonNode root;
            try {
                root = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8).trim());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new PuzzleException(file + ": header is not valid JSON: " + e.getOriginalMessage());
            }
            if (root == null || !root.isObject()) throw new PuzzleException(file + ": header is not a JSON object");
            long dataLen = size - 8 - n;
            Map<String, Entry> entries = new LinkedHashMap<>(), bytes = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            JsonNode md = root.path("__metadata__");
            if (md.isObject()) md.fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                if (name.equals("__metadata__")) continue;
                if (e.getValue().path("dtype").asText("").equals("U8") && !meta.containsKey(QUANT_KEY + name)) {
                    bytes.put(name, byteEntry(file, name, e.getValue(), dataLen));
                } else {
                    entries.put(name, entry(file, name, e.getValue(), dataLen, meta.get(QUANT_KEY + name)));
                }
            }
            return new Safetensors(file, ch, 8 + n, entries, bytes, meta);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new PuzzleException(file + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) try {
            ch.close();
        } catch (IOException ignored) {
            // already failing
        }
    }

    private static Entry entry(Path file, String name, JsonNode v, long dataLen, String quant) {
        String dtName = v.path("dtype").asText(null);
        if (dtName == null) throw PuzzleException.field(file, name + ".dtype", "(missing)", "every tensor needs a dtype");
        DType dt = DType.fromSafetensors(dtName);
        if (quant != null) {
            dt = DType.fromName(quant);
            if (dt == null || !dt.isQuantized()) throw PuzzleException.field(file, "__metadata__." + QUANT_KEY + name, quant, "unknown quantized dtype (" + DType.names() + ")");
            if (!dtName.equals("U8")) throw PuzzleException.field(file, name + ".dtype", dtName, "a " + quant + " tensor is stored as U8 rows");
        }
        if (dt == null) throw PuzzleException.field(file, name + ".dtype", dtName, "unsupported dtype (supported: F32, F16, BF16, and U8 rows of a quantized dtype named in the metadata)");
        int[] shape = shape(file, name, v);
        long[] span = span(file, name, v, dataLen);
        long b = span[0], e = span[1];
        if (dt.isQuantized()) { // stored rows of rowBytes: the last dimension becomes the row's element count
            int rb = shape.length == 0 ? 0 : shape[shape.length - 1];
            int blocks = (rb - dt.rowHeader) / dt.blockBytes;
            if (shape.length == 0 || rb <= dt.rowHeader || (rb - dt.rowHeader) % dt.blockBytes != 0 || (long) blocks * dt.blockValues > Integer.MAX_VALUE) {
                throw PuzzleException.field(file, name + ".shape", Arrays.toString(shape), "rows of " + rb + " bytes are not whole " + dt.configName() + " blocks ("
                        + (dt.rowHeader > 0 ? dt.rowHeader + " header bytes, then " : "") + dt.blockBytes + " bytes a block)");
            }
            shape[shape.length - 1] = blocks * dt.blockValues;
        }
        long numel = 1;
        for (int d : shape) {
            numel *= d;
            if (numel > Integer.MAX_VALUE - 16) throw PuzzleException.field(file, name + ".shape", Arrays.toString(shape), "too large for one tensor");
        }
        long need = dt.byteSize(shape);
        if (need != e - b) {
            throw PuzzleException.field(file, name, dtName + " " + Arrays.toString(shape), "needs " + need + " bytes but data_offsets span " + (e - b));
        }
        return new Entry(name, dt, shape, b, e);
    }

    /** A tensor's {@code shape}: non-negative integers, checked. */
    private static int[] shape(Path file, String name, JsonNode v) {
        JsonNode sh = v.path("shape");
        if (!sh.isArray()) throw PuzzleException.field(file, name + ".shape", sh, "must be an array of non-negative integers");
        int[] shape = new int[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || d.asLong() < 0 || d.asLong() > Integer.MAX_VALUE) {
                throw PuzzleException.field(file, name + ".shape", sh, "must be an array of non-negative integers");
            }
            shape[i] = (int) d.asLong();
        }
        return shape;
    }

    /** A tensor's {@code data_offsets} [begin, end], checked to lie in the data section. */
    private static long[] span(Path file, String name, JsonNode v, long dataLen) {
        JsonNode off = v.path("data_offsets");
        if (!off.isArray() || off.size() != 2 || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw PuzzleException.field(file, name + ".data_offsets", off, "must be [begin, end]");
        }
        long b = off.get(0).asLong(), e = off.get(1).asLong();
        if (b < 0 || e < b || e > dataLen) {
            throw PuzzleException.field(file, name + ".data_offsets", "[" + b + ", " + e + "]", "outside the data section of " + dataLen + " bytes");
        }
        return new long[]{b, e};
    }

    /** A U8 tensor that is not a quantized dtype of this toolkit (gpt-oss's MXFP4 blocks and scales): its shape and bytes. */
    private static Entry byteEntry(Path file, String name, JsonNode v, long dataLen) {
        int[] shape = shape(file, name, v);
        long[] span = span(file, name, v, dataLen);
        long numel = Tensor.numel(shape), b = span[0], e = span[1];
        if (numel != e - b || numel > Integer.MAX_VALUE - 16) throw PuzzleException.field(file, name, "U8 " + Arrays.toString(shape), "needs " + numel + " bytes but data_offsets span " + (e - b));
        return new Entry(name, null, shape, b, e);
    }

    /** The U8 tensors that are not in {@link #entries} (dtype null): raw bytes for a layout reader to decode ({@link #mapBytes}). */
    public Map<String, Entry> byteEntries() {
        return byteEntries;
    }

    /** A U8 tensor of {@link #byteEntries} as a read-only view of the file (valid after it is closed), little endian. */
    public ByteBuffer mapBytes(String name) {
        Entry e = byteEntries.get(name);
        if (e == null) throw new PuzzleException(file + ": no U8 tensor '" + name + "'");
        try {
            return ch.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), e.end() - e.begin()).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException ex) {
            throw new PuzzleException(file + ": cannot map tensor '" + name + "': " + ex.getMessage(), ex);
        }
    }

    public Path file() {
        return file;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * One tensor as a read-only view of the file in its stored dtype, not widened (see {@link Tensor}); it
     * stays valid after this file is closed.
     */
    public Tensor map(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new PuzzleException(file + ": no tensor '" + name + "'");
        try {
            Tensor t = Tensor.mapped(ch, dataStart + e.begin(), e.dtype(), e.shape());
            String bad = e.dtype().isQuantized() ? dev.puzzle.core.tensor.Quant.badScale(t) : null;
            if (bad != null) throw PuzzleException.field(file, name, e.dtype().configName() + " " + Arrays.toString(e.shape()), bad);
            return t;
        } catch (IOException ex) {
            throw new PuzzleException(file + ": cannot map tensor '" + name + "': " + ex.getMessage(), ex);
        }
    }

    /** Reads one tensor, widened to FP32 on the heap. */
    public Tensor read(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new PuzzleException(file + ": no tensor '" + name + "'");
        try {
            if (e.dtype().isQuantized()) return map(name).copy();
            ByteBuffer bb = ch.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), e.end() - e.begin()).order(ByteOrder.LITTLE_ENDIAN);
            return new Tensor(widen(bb, e.dtype(), (int) Tensor.numel(e.shape())), e.shape());
        } catch (IOException ex) {
            throw new PuzzleException(file + ": cannot read tensor '" + name + "': " + ex.getMessage(), ex);
        }
    }

    /** n elements of dtype from bb (little endian) as FP32. */
    static float[] widen(ByteBuffer bb, DType dt, int n) {
        float[] out = new float[n];
        switch (dt) {
            case F32 -> bb.asFloatBuffer().get(out);
            case F16 -> {
                var sb = bb.asShortBuffer();
                for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(sb.get(i));
            }
            case BF16 -> {
                var sb = bb.asShortBuffer();
                for (int i = 0; i < n; i++) out[i] = DType.bf16ToFloat(sb.get(i));
            }
            default -> throw new IllegalArgumentException(dt + " is not an element dtype");
        }
        return out;
    }

    @Override
    public void close() {
        closeQuietly(ch);
    }

    /**
     * Writes tensors in {@code dtype} (narrowed from FP32), header keys in the given order, header padded
     * with spaces to a multiple of 8 bytes. Atomic.
     */
    public static void write(Path target, Map<String, Tensor> tensors, Map<String, DType> dtypes, Map<String, String> metadata) throws IOException {
        write(target, tensors, dtypes, metadata, Map.of());
    }

    /** A U8 tensor that is no dtype of this toolkit (gpt-oss's MXFP4 blocks and scales): its shape and data. */
    public record Bytes(int[] shape, byte[] data) {
        public Bytes {
            if (Tensor.numel(shape) != data.length) throw new IllegalArgumentException("U8 " + Arrays.toString(shape) + " needs " + Tensor.numel(shape) + " bytes, not " + data.length);
        }
    }

    /** {@link #write}, then {@code bytes} as U8 tensors after the others. */
    public static void write(Path target, Map<String, Tensor> tensors, Map<String, DType> dtypes, Map<String, String> metadata,
                             Map<String, Bytes> bytes) throws IOException {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        tensors.forEach((name, t) -> shapes.put(name, t.shape()));
        // The data's CRC-32C goes into the header (one pass over the data before writing it), so that a file
        // damaged after it was written is told from a finished one (damage, intact).
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        java.io.OutputStream sum = new java.io.OutputStream() {
            @Override
            public void write(int b) {
                crc.update(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                crc.update(b, off, len);
            }
        };
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) writeData(sum, e.getValue(), dtypes.get(e.getKey()));
        for (Bytes b : bytes.values()) sum.write(b.data(), 0, b.data().length);
        Map<String, String> meta = new LinkedHashMap<>(metadata == null ? Map.of() : metadata);
        meta.put(CRC_KEY, Long.toHexString(crc.getValue()));
        byte[] head = header(shapes, dtypes, meta, bytes);
        AtomicFiles.write(target, out -> {
            out.write(head);
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) writeData(out, e.getValue(), dtypes.get(e.getKey()));
            for (Bytes b : bytes.values()) out.write(b.data());
        });
    }

    /**
     * A tensor's data in {@code dt}, row-major, little endian: a block of rows at a time, so a mapped tensor
     * is never widened whole, and copied byte for byte when it is stored in {@code dt} already.
     */
    static void writeData(java.io.OutputStream out, Tensor t, DType dt) throws IOException {
        if (dt.isQuantized()) {
            writeQuantized(out, t, dt);
            return;
        }
        int cols = Math.max(1, t.cols()), rows = t.size() / cols, block = Math.max(1, (1 << 16) / cols);
        ByteBuffer buf = ByteBuffer.allocate(block * cols * 4).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[block * cols];
        for (int r0 = 0; r0 < rows; r0 += block) {
            int n = Math.min(block, rows - r0), len = n * cols;
            buf.clear();
            if (t.isMapped() && t.dtype() == dt) {
                t.rawRows(r0, n, buf);
            } else {
                t.rows(r0, n, f, 0);
                for (int i = 0; i < len; i++) {
                    switch (dt) {
                        case F32 -> buf.putFloat(f[i]);
                        case F16 -> buf.putShort(Float.floatToFloat16(f[i]));
                        case BF16 -> buf.putShort(DType.floatToBf16(f[i]));
                        default -> throw new IllegalStateException("quantized above");
                    }
                }
            }
            out.write(buf.array(), 0, buf.position());
        }
    }

    /**
     * A tensor's rows in a quantized dtype: copied when stored so, else quantized a block of rows at a time
     * (NVFP4's tensor scale from a first pass over all rows).
     */
    private static void writeQuantized(java.io.OutputStream out, Tensor t, DType dt) throws IOException {
        int cols = t.cols(), rows = t.rows(), rb = (int) dt.rowBytes(cols), block = Math.max(1, (1 << 16) / cols);
        byte[] b = new byte[block * rb];
        float[] f = new float[block * cols];
        boolean same = t.isMapped() && t.dtype() == dt;
        float g = 0;
        if (!same && dt == DType.NVFP4) {
            float amax = 0;
            for (int r0 = 0; r0 < rows; r0 += block) {
                int n = Math.min(block, rows - r0);
                t.rows(r0, n, f, 0);
                for (int i = 0; i < n * cols; i++) amax = Math.max(amax, Math.abs(f[i]));
            }
            g = dev.puzzle.core.tensor.Quant.nvfp4Scale(amax);
        }
        for (int r0 = 0; r0 < rows; r0 += block) {
            int n = Math.min(block, rows - r0);
            if (same) {
                t.rawBytes(r0, n, b, 0);
            } else {
                t.rows(r0, n, f, 0);
                for (int r = 0; r < n; r++) dev.puzzle.core.tensor.Quant.quantizeRow(dt, f, r * cols, cols, g, b, r * rb);
            }
            out.write(b, 0, n * rb);
        }
    }

    /**
     * The bytes before the data of a file holding {@code shapes} in {@code dtypes}, in this order: the
     * 8-byte length and the JSON header, padded with spaces to a multiple of 8. The data follows, tensor
     * after tensor, row-major, little endian — for writers that stream tensors too large to hold.
     */
    public static byte[] header(Map<String, int[]> shapes, Map<String, DType> dtypes, Map<String, String> metadata) throws IOException {
        return header(shapes, dtypes, metadata, Map.of());
    }

    private static byte[] header(Map<String, int[]> shapes, Map<String, DType> dtypes, Map<String, String> metadata, Map<String, Bytes> bytes) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        Map<String, String> meta = new LinkedHashMap<>(metadata == null ? Map.of() : metadata);
        shapes.forEach((name, shape) -> {
            if (dtypes.get(name).isQuantized()) meta.put(QUANT_KEY + name, dtypes.get(name).configName());
        });
        if (!meta.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            meta.forEach(m::put);
        }
        long off = 0;
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            DType dt = dtypes.get(e.getKey());
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", dt.safetensorsName());
            var shape = t.putArray("shape");
            int[] sh = e.getValue();
            for (int i = 0; i < sh.length; i++) shape.add(dt.isQuantized() && i == sh.length - 1 ? dt.rowBytes(sh[i]) : sh[i]);
            long len = dt.byteSize(sh);
            t.putArray("data_offsets").add(off).add(off + len);
            off += len;
        }
        for (Map.Entry<String, Bytes> e : bytes.entrySet()) {
            if (shapes.containsKey(e.getKey())) throw new IllegalArgumentException("tensor '" + e.getKey() + "' given twice");
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "U8");
            var shape = t.putArray("shape");
            for (int d : e.getValue().shape()) shape.add(d);
            t.putArray("data_offsets").add(off).add(off + e.getValue().data().length);
            off += e.getValue().data().length;
        }
        byte[] hj = JSON.writeValueAsBytes(header);
        int padded = (hj.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).put(hj);
        while (b.hasRemaining()) b.put((byte) ' ');
        return b.array();
    }
}
