package dev.puzzle.core.io;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.tensor.Tensor;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * gpt-oss's expert layout (HF {@code GptOssForCausalLM}) ↔ the internal per-expert names ({@link TensorNames#expert},
 * {@link TensorNames#expertBias}, {@link TensorNames#ROUTER}, {@link TensorNames#ROUTER_BIAS}). gpt-oss stores, per layer,
 * {@code mlp.router.weight} (E, D) and {@code .bias} (E); {@code mlp.experts.gate_up_proj} (E, D, 2I) — input-major, gate
 * and up interleaved along the output (gate column 2i, up column 2i+1) — with {@code gate_up_proj_bias} (E, 2I);
 * {@code mlp.experts.down_proj} (E, I, D) with {@code down_proj_bias} (E, D). The released checkpoints store the two
 * expert matrices in MXFP4 instead, output-major: {@code *_blocks} (E, rows, cols/32, 16) U8 — two E2M1 codes a byte,
 * element 2j in the low nibble of byte j — and {@code *_scales} (E, rows, cols/32) U8 E8M0 exponents; read, they stay
 * MXFP4 (4.25 bits a value) and in the file: each expert's matrix is a view ({@link Tensor#view}) whose rows are put in
 * llama.cpp's block layout ({@link DType#MXFP4}: the exponent, then the nibbles reordered) as the kernels read them, so a
 * parent larger than the heap still runs (a small one is then copied to the heap once, as other stored tensors are).
 * Element-type experts are transposed and de-interleaved into FP32 on the heap.
 */
public final class GptOssLayout {
    private GptOssLayout() {}

    private static final Pattern NAME = Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.(router\\.(weight|bias)|experts\\.(gate_up_proj|gate_up_proj_bias|down_proj|down_proj_bias))");
    private static final Pattern BYTES = Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.experts\\.(gate_up_proj|down_proj)_(blocks|scales)");

    /** Whether a U8 tensor name is one of gpt-oss's MXFP4 expert halves. */
    public static boolean isMxfp4Part(String name) {
        return BYTES.matcher(name).matches();
    }

    /**
     * Renames and splits gpt-oss's expert tensors into the internal ones, in place; {@code bytes} holds the MXFP4
     * blocks and scales (name → shape and data). Shapes are checked against the config, naming the tensor.
     */
    /** A U8 tensor's shape and data (a view of its file). */
    public record U8(int[] shape, ByteBuffer data) {}

    static void toInternal(ModelConfig cfg, Map<String, Tensor> tensors, Map<String, DType> types, Map<String, U8> bytes, String source) {
        int D = cfg.dim();
        Map<String, Tensor> t = new LinkedHashMap<>();
        Map<String, DType> ty = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) {
            Matcher m = NAME.matcher(e.getKey());
            if (!m.matches()) {
                t.put(e.getKey(), e.getValue());
                ty.put(e.getKey(), types.get(e.getKey()));
                continue;
            }
            int l = Integer.parseInt(m.group(1));
            FfnConfig.Moe moe = moe(cfg, l, e.getKey(), source);
            int E = moe.numExperts(), I = moe.expertIntermediate();
            Tensor w = e.getValue();
            DType stored = types.get(e.getKey());
            String what = m.group(3) != null ? "router." + m.group(3) : m.group(4);
            switch (what) {
                case "router.weight" -> put(t, ty, l, TensorNames.ROUTER, check(source, e.getKey(), w, E, D), stored);
                case "router.bias" -> put(t, ty, l, TensorNames.ROUTER_BIAS, check(source, e.getKey(), w, E), stored);
                case "gate_up_proj" -> {
                    check(source, e.getKey(), w, E, D, 2 * I);
                    float[] buf = new float[D * 2 * I];
                    Tensor rows = w.reshape(E * D, 2 * I);
                    for (int x = 0; x < E; x++) {
                        rows.rows(x * D, D, buf, 0);
                        float[] gate = new float[I * D], up = new float[I * D];
                        for (int d = 0; d < D; d++) {
                            for (int i = 0; i < I; i++) {
                                gate[i * D + d] = buf[d * 2 * I + 2 * i];
                                up[i * D + d] = buf[d * 2 * I + 2 * i + 1];
                            }
                        }
                        put(t, ty, l, TensorNames.expert(x, TensorNames.EXPERT_GATE), new Tensor(gate, I, D), stored);
                        put(t, ty, l, TensorNames.expert(x, TensorNames.EXPERT_UP), new Tensor(up, I, D), stored);
                    }
                }
                case "gate_up_proj_bias" -> {
                    float[] b = check(source, e.getKey(), w, E, 2 * I).copy().data();
                    for (int x = 0; x < E; x++) {
                        float[] gate = new float[I], up = new float[I];
                        for (int i = 0; i < I; i++) {
                            gate[i] = b[x * 2 * I + 2 * i];
                            up[i] = b[x * 2 * I + 2 * i + 1];
                        }
                        put(t, ty, l, TensorNames.expertBias(x, TensorNames.EXPERT_GATE), new Tensor(gate, I), stored);
                        put(t, ty, l, TensorNames.expertBias(x, TensorNames.EXPERT_UP), new Tensor(up, I), stored);
                    }
                }
                case "down_proj" -> {
                    check(source, e.getKey(), w, E, I, D);
                    float[] buf = new float[I * D];
                    Tensor rows = w.reshape(E * I, D);
                    for (int x = 0; x < E; x++) {
                        rows.rows(x * I, I, buf, 0);
                        float[] down = new float[D * I];
                        for (int i = 0; i < I; i++) for (int d = 0; d < D; d++) down[d * I + i] = buf[i * D + d];
                        put(t, ty, l, TensorNames.expert(x, TensorNames.EXPERT_DOWN), new Tensor(down, D, I), stored);
                    }
                }
                case "down_proj_bias" -> {
                    float[] b = check(source, e.getKey(), w, E, D).copy().data();
                    for (int x = 0; x < E; x++) {
                        put(t, ty, l, TensorNames.expertBias(x, TensorNames.EXPERT_DOWN), new Tensor(Arrays.copyOfRange(b, x * D, (x + 1) * D), D), stored);
                    }
                }
                default -> throw new IllegalStateException(what);
            }
        }
        for (var e : bytes.entrySet()) {
            Matcher m = BYTES.matcher(e.getKey());
            if (!m.matches()) throw new PuzzleException(source + ": tensor '" + e.getKey() + "' is U8, which only gpt-oss's MXFP4 expert blocks and scales may be");
            if (m.group(3).equals("scales")) continue; // read with its blocks
            int l = Integer.parseInt(m.group(1));
            boolean gateUp = m.group(2).equals("gate_up_proj");
            FfnConfig.Moe moe = moe(cfg, l, e.getKey(), source);
            String scalesName = e.getKey().replace("_blocks", "_scales");
            U8 scales = bytes.get(scalesName);
            if (scales == null) throw new PuzzleException(source + ": tensor '" + e.getKey() + "' has no '" + scalesName + "' beside it");
            int E = moe.numExperts(), I = moe.expertIntermediate(), rows = gateUp ? 2 * I : D, cols = gateUp ? D : I;
            unpackMxfp4(source, e.getKey(), e.getValue(), scalesName, scales, E, rows, cols, l, gateUp, t, ty);
        }
        for (String name : bytes.keySet()) {
            if (name.endsWith("_scales") && !bytes.containsKey(name.replace("_scales", "_blocks"))) {
                throw new PuzzleException(source + ": tensor '" + name + "' has no '" + name.replace("_scales", "_blocks") + "' beside it");
            }
        }
        tensors.clear();
        tensors.putAll(t);
        types.clear();
        types.putAll(ty);
    }

    private static void unpackMxfp4(String source, String name, U8 blocks, String scalesName, U8 scales, int E, int rows, int cols, int l,
                                    boolean gateUp, Map<String, Tensor> t, Map<String, DType> ty) {
        if (cols % 32 != 0) throw new PuzzleException(source + ": tensor '" + name + "': MXFP4 rows of " + cols + " values are not whole blocks of 32");
        int G = cols / 32;
        int[] wantBlocks = {E, rows, G, 16}, wantScales = {E, rows, G};
        if (!Arrays.equals(blocks.shape(), wantBlocks)) {
            throw new PuzzleException(source + ": tensor '" + name + "' has shape " + Arrays.toString(blocks.shape()) + ", expected " + Arrays.toString(wantBlocks));
        }
        if (!Arrays.equals(scales.shape(), wantScales)) {
            throw new PuzzleException(source + ": tensor '" + scalesName + "' has shape " + Arrays.toString(scales.shape()) + ", expected "
                    + Arrays.toString(wantScales) + " (one E8M0 exponent per 32 values of '" + name + "' " + Arrays.toString(blocks.shape()) + ")");
        }
        int[] halves = gateUp ? new int[]{0, 1} : new int[]{0};
        for (int x = 0; x < E; x++) {
            for (int half : halves) {
                int n = gateUp ? rows / 2 : rows;
                int first = x * rows + half, step = gateUp ? 2 : 1; // gate rows are the even ones, up rows the odd ones
                String proj = gateUp ? (half == 0 ? TensorNames.EXPERT_GATE : TensorNames.EXPERT_UP) : TensorNames.EXPERT_DOWN;
                put(t, ty, l, TensorNames.expert(x, proj), Tensor.view(DType.MXFP4, rowsOf(blocks.data(), scales.data(), G, first, step), n, cols), DType.MXFP4);
            }
        }
    }

    private static final ThreadLocal<byte[]> BLOCK = ThreadLocal.withInitial(() -> new byte[16]);

    /**
     * Row r of a matrix whose rows are gpt-oss rows {@code first + step·r}: per block, the E8M0 exponent as it is, then the
     * 16 bytes of nibbles in llama.cpp's order (element j low, j+16 high) from gpt-oss's (element 2j low, 2j+1 high).
     */
    private static Tensor.RowSource rowsOf(ByteBuffer blocks, ByteBuffer scales, int G, int first, int step) {
        int rb = G * DType.MXFP4.blockBytes;
        return (r0, n, dst, off) -> {
            byte[] b = BLOCK.get();
            for (int r = 0; r < n; r++) {
                long src = first + (long) step * (r0 + r);
                for (int g = 0; g < G; g++) {
                    long s = src * G + g;
                    int o = off + r * rb + g * DType.MXFP4.blockBytes;
                    dst[o] = scales.get((int) s);
                    blocks.get((int) (s * 16), b, 0, 16);
                    for (int j = 0; j < 16; j++) {
                        int lo = code(b, j), hi = code(b, j + 16);
                        dst[o + 1 + j] = (byte) (lo | hi << 4);
                    }
                }
            }
        };
    }

    /** Element k (0..31) of a gpt-oss block: byte k/2, low nibble for even k. */
    private static int code(byte[] b, int k) {
        int v = b[k / 2] & 0xff;
        return (k & 1) == 0 ? v & 0xf : v >>> 4;
    }

    private static FfnConfig.Moe moe(ModelConfig cfg, int l, String name, String source) {
        if (l >= cfg.numLayers() || cfg.blocks().get(l).ffn().numExperts() == 0) {
            throw new PuzzleException(source + ": tensor '" + name + "' belongs to no MoE layer of the config");
        }
        return (FfnConfig.Moe) cfg.blocks().get(l).ffn().unquantized();
    }

    private static Tensor check(String source, String name, Tensor w, int... shape) {
        if (!Arrays.equals(w.shape(), shape)) {
            throw new PuzzleException(source + ": tensor '" + name + "' has shape " + Arrays.toString(w.shape()) + ", expected " + Arrays.toString(shape));
        }
        return w;
    }

    private static void put(Map<String, Tensor> t, Map<String, DType> ty, int l, String suffix, Tensor w, DType stored) {
        t.put(TensorNames.layer(l, suffix), w);
        ty.put(TensorNames.layer(l, suffix), stored);
    }

    /**
     * The inverse of {@link #toInternal}, in place, for writing a gpt-oss child: each MoE layer's router and experts in
     * gpt-oss's names — fused element-type experts where {@code types} says an element type, MXFP4 blocks and scales into
     * {@code bytes} where it says MXFP4 for all of a layer's expert matrices. A layer whose experts are in another quantized
     * type keeps the internal per-expert names (this toolkit reads them back; HF's loader would not).
     */
    static void toGptOss(ModelConfig cfg, Map<String, Tensor> tensors, Map<String, DType> types, Map<String, Safetensors.Bytes> bytes) {
        int D = cfg.dim();
        Map<String, Tensor> t = new LinkedHashMap<>();
        Map<String, DType> ty = new LinkedHashMap<>();
        java.util.Set<Integer> done = new java.util.HashSet<>();
        for (var en : tensors.entrySet()) {
            String name = en.getKey();
            int l = layerOf(name);
            FfnConfig f = l >= 0 && l < cfg.numLayers() ? cfg.blocks().get(l).ffn().unquantized() : null;
            if (!(f instanceof FfnConfig.Moe moe) || !TensorNames.inPart(name, l, false) || name.equals(TensorNames.layer(l, TensorNames.FFN_NORM))) {
                t.put(name, en.getValue());
                ty.put(name, types.get(name));
                continue;
            }
            if (!done.add(l)) continue;
            int E = moe.numExperts(), I = moe.expertIntermediate();
            String pre = TensorNames.layer(l, "mlp.");
            move(tensors, types, t, ty, TensorNames.layer(l, TensorNames.ROUTER), pre + "router.weight");
            move(tensors, types, t, ty, TensorNames.layer(l, TensorNames.ROUTER_BIAS), pre + "router.bias");
            DType gateType = types.get(TensorNames.layer(l, TensorNames.expert(0, TensorNames.EXPERT_GATE)));
            boolean allMx = true, anyQuantized = false;
            for (int x = 0; x < E; x++) {
                for (String proj : new String[]{TensorNames.EXPERT_GATE, TensorNames.EXPERT_UP, TensorNames.EXPERT_DOWN}) {
                    DType d = types.get(TensorNames.layer(l, TensorNames.expert(x, proj)));
                    allMx &= d == DType.MXFP4;
                    anyQuantized |= d.isQuantized();
                }
            }
            if (anyQuantized && !allMx) { // kept per expert, in the internal names
                for (var e2 : tensors.entrySet()) {
                    if (e2.getKey().startsWith(pre + "experts.")) {
                        t.put(e2.getKey(), e2.getValue());
                        ty.put(e2.getKey(), types.get(e2.getKey()));
                    }
                }
                continue;
            }
            Tensor[] gate = new Tensor[E], up = new Tensor[E], down = new Tensor[E];
            for (int x = 0; x < E; x++) {
                gate[x] = tensors.get(TensorNames.layer(l, TensorNames.expert(x, TensorNames.EXPERT_GATE)));
                up[x] = tensors.get(TensorNames.layer(l, TensorNames.expert(x, TensorNames.EXPERT_UP)));
                down[x] = tensors.get(TensorNames.layer(l, TensorNames.expert(x, TensorNames.EXPERT_DOWN)));
            }
            if (allMx) {
                packMxfp4(gate, up, E, 2 * I, D, pre + "experts.gate_up_proj", bytes);
                packMxfp4(down, null, E, D, I, pre + "experts.down_proj", bytes);
            } else {
                float[] gu = new float[E * D * 2 * I], dp = new float[E * I * D], g = new float[I * D], u = new float[I * D], dn = new float[D * I];
                for (int x = 0; x < E; x++) {
                    gate[x].rows(0, I, g, 0);
                    up[x].rows(0, I, u, 0);
                    down[x].rows(0, D, dn, 0);
                    for (int i = 0; i < I; i++) {
                        for (int d = 0; d < D; d++) {
                            gu[(x * D + d) * 2 * I + 2 * i] = g[i * D + d];
                            gu[(x * D + d) * 2 * I + 2 * i + 1] = u[i * D + d];
                            dp[(x * I + i) * D + d] = dn[d * I + i];
                        }
                    }
                }
                t.put(pre + "experts.gate_up_proj", new Tensor(gu, E, D, 2 * I));
                ty.put(pre + "experts.gate_up_proj", gateType);
                t.put(pre + "experts.down_proj", new Tensor(dp, E, I, D));
                ty.put(pre + "experts.down_proj", gateType);
            }
            float[] gub = new float[E * 2 * I], db = new float[E * D];
            DType biasType = null;
            for (int x = 0; x < E; x++) {
                String bg = TensorNames.layer(l, TensorNames.expertBias(x, TensorNames.EXPERT_GATE));
                float[] bgv = tensors.get(bg).copy().data(), buv = tensors.get(TensorNames.layer(l, TensorNames.expertBias(x, TensorNames.EXPERT_UP))).copy().data();
                for (int i = 0; i < I; i++) {
                    gub[x * 2 * I + 2 * i] = bgv[i];
                    gub[x * 2 * I + 2 * i + 1] = buv[i];
                }
                System.arraycopy(tensors.get(TensorNames.layer(l, TensorNames.expertBias(x, TensorNames.EXPERT_DOWN))).copy().data(), 0, db, x * D, D);
                biasType = types.get(bg);
            }
            t.put(pre + "experts.gate_up_proj_bias", new Tensor(gub, E, 2 * I));
            ty.put(pre + "experts.gate_up_proj_bias", biasType);
            t.put(pre + "experts.down_proj_bias", new Tensor(db, E, D));
            ty.put(pre + "experts.down_proj_bias", biasType);
        }
        tensors.clear();
        tensors.putAll(t);
        types.clear();
        types.putAll(ty);
    }

    /** The layer index of a {@code model.layers.N.} name, or −1. */
    private static int layerOf(String name) {
        if (!name.startsWith("model.layers.")) return -1;
        int end = name.indexOf('.', "model.layers.".length());
        return end < 0 ? -1 : Integer.parseInt(name.substring("model.layers.".length(), end));
    }

    private static void move(Map<String, Tensor> from, Map<String, DType> fromTypes, Map<String, Tensor> to, Map<String, DType> toTypes, String name, String as) {
        Tensor w = from.get(name);
        if (w == null) throw new IllegalStateException("missing tensor '" + name + "'");
        to.put(as, w);
        toTypes.put(as, fromTypes.get(name));
    }

    /**
     * Experts' matrices as gpt-oss's MXFP4 blocks and scales: rows (E, rows, cols) — with {@code odd} non-null, row 2r
     * from {@code even[e]} row r and row 2r+1 from {@code odd[e]} row r (gate and up interleaved) — quantized where they are
     * not MXFP4 already, each block's nibbles in gpt-oss's order.
     */
    private static void packMxfp4(Tensor[] even, Tensor[] odd, int E, int rows, int cols, String name, Map<String, Safetensors.Bytes> bytes) {
        int G = cols / 32, rb = G * DType.MXFP4.blockBytes;
        byte[] blocks = new byte[E * rows * G * 16], scales = new byte[E * rows * G], row = new byte[rb];
        float[] f = new float[cols];
        for (int x = 0; x < E; x++) {
            for (int r = 0; r < rows; r++) {
                Tensor src = odd == null ? even[x] : (r % 2 == 0 ? even[x] : odd[x]);
                int sr = odd == null ? r : r / 2;
                if (src.dtype() == DType.MXFP4) {
                    src.rawBytes(sr, 1, row, 0);
                } else {
                    src.rows(sr, 1, f, 0);
                    dev.puzzle.core.tensor.Quant.quantizeRow(DType.MXFP4, f, 0, cols, 0, row, 0);
                }
                for (int g = 0; g < G; g++) {
                    int s = (x * rows + r) * G + g, o = g * DType.MXFP4.blockBytes;
                    scales[s] = row[o];
                    for (int j = 0; j < 16; j++) {
                        int lo = llamaCode(row, o + 1, 2 * j), hi = llamaCode(row, o + 1, 2 * j + 1);
                        blocks[s * 16 + j] = (byte) (lo | hi << 4);
                    }
                }
            }
        }
        bytes.put(name + "_blocks", new Safetensors.Bytes(new int[]{E, rows, G, 16}, blocks));
        bytes.put(name + "_scales", new Safetensors.Bytes(new int[]{E, rows, G}, scales));
    }

    /** Element k (0..31) of a llama.cpp MXFP4 block's 16 code bytes at {@code off}: byte k mod 16, low nibble for k < 16. */
    private static int llamaCode(byte[] b, int off, int k) {
        int v = b[off + (k & 15)] & 0xff;
        return k < 16 ? v & 0xf : v >>> 4;
    }
}
