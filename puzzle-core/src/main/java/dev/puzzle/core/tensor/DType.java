package dev.puzzle.core.tensor;

import java.util.Locale;

/**
 * Stored types of weights. Compute is always FP32: 16-bit types are widened in registers, the quantized
 * ones ({@link #isQuantized}) are decoded block by block inside the kernels ({@link Quant}), never widened
 * as a whole tensor.
 * <p>
 * Every type stores a matrix row by row, each row on its own: an optional per-row header, then the row's
 * values in blocks of {@link #blockValues} elements of {@link #blockBytes} bytes each. So a row's bytes
 * are {@link #rowBytes}, rows can be sliced and permuted as bytes, and a row's length must be a multiple of
 * the block. The layouts:
 * <ul>
 * <li>{@code Q8_0} — llama.cpp's: an FP16 scale d, then 32 int8 q; x = d·q.</li>
 * <li>{@code Q4_0} — llama.cpp's: an FP16 scale d, then 16 bytes; element j in the low nibble of byte j,
 *     element j+16 in its high nibble; x = d·(nibble − 8).</li>
 * <li>{@code MXFP4} — llama.cpp's (OCP microscaling, gpt-oss's experts): an E8M0 exponent e, then 16 bytes
 *     of E2M1 codes laid out as Q4_0's; x = 2^(e−127)·e2m1(code).</li>
 * <li>{@code NVFP4} — NVIDIA's: a row header of the tensor's FP32 scale g (the same in every row), then
 *     blocks of 16: an E4M3 scale s, 8 bytes of E2M1 codes (element 2i in the low nibble of byte i);
 *     x = g·s·e2m1(code).</li>
 * <li>{@code FP8} — E4M3 weights with a per-channel (per-row) scale: a row header of the FP32 scale c,
 *     then one E4M3 byte per element; x = c·e4m3(byte).</li>
 * </ul>
 */
public enum DType {
    F32(1, 4, 0), F16(1, 2, 0), BF16(1, 2, 0),
    Q8_0(32, 34, 0), Q4_0(32, 18, 0), MXFP4(32, 17, 0), NVFP4(16, 9, 4), FP8(1, 1, 4);

    /** Elements per block (1 for element types). */
    public final int blockValues;
    /** Bytes per block. */
    public final int blockBytes;
    /** Bytes before each row's blocks (a per-row or per-tensor scale). */
    public final int rowHeader;

    DType(int blockValues, int blockBytes, int rowHeader) {
        this.blockValues = blockValues;
        this.blockBytes = blockBytes;
        this.rowHeader = rowHeader;
    }

    /** Whether values are stored with scales (decoded by {@link Quant}) rather than one float each. */
    public boolean isQuantized() {
        return ordinal() >= Q8_0.ordinal();
    }

    /** Whether a row of {@code cols} elements can be stored in this type (whole blocks). */
    public boolean fits(int cols) {
        return cols > 0 && cols % blockValues == 0;
    }

    /** Bytes of one row of {@code cols} elements (a multiple of {@link #blockValues}). */
    public long rowBytes(long cols) {
        if (cols % blockValues != 0) throw new IllegalArgumentException(this + " stores rows of whole " + blockValues + "-element blocks, not " + cols);
        return rowHeader + cols / blockValues * blockBytes;
    }

    /** Bytes of a tensor of this shape (rows of its last dimension). */
    public long byteSize(int... shape) {
        int cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        long n = Tensor.numel(shape);
        if (cols == 0) return 0;
        return n / cols * rowBytes(cols);
    }

    /** Bits per element of a long row: the type's cost in memory, scales included. */
    public double bitsPerValue() {
        return 8.0 * blockBytes / blockValues;
    }

    /** The lower-case name used in configs, on the command line and in reports ({@code q8_0}, {@code bf16}). */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The type of a config name ({@link #configName}, case-insensitive; {@code float32} etc. too), or null. */
    public static DType fromName(String name) {
        if (name == null) return null;
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "fp32", "float32" -> F32;
            case "f16", "fp16", "float16" -> F16;
            case "bf16", "bfloat16" -> BF16;
            case "q8_0" -> Q8_0;
            case "q4_0" -> Q4_0;
            case "mxfp4" -> MXFP4;
            case "nvfp4" -> NVFP4;
            case "fp8", "fp8_e4m3", "f8_e4m3" -> FP8;
            default -> null;
        };
    }

    /** Every config name, for messages. */
    public static String names() {
        StringBuilder b = new StringBuilder();
        for (DType d : values()) b.append(b.isEmpty() ? "" : ", ").append(d.configName());
        return b.toString();
    }

    /** The safetensors name of an element dtype, or null when unsupported (quantized types are stored as U8 rows). */
    public static DType fromSafetensors(String name) {
        return switch (name) {
            case "F32" -> F32;
            case "F16" -> F16;
            case "BF16" -> BF16;
            default -> null;
        };
    }

    /** The safetensors dtype the data is written as: the element type, or U8 for quantized rows. */
    public String safetensorsName() {
        return isQuantized() ? "U8" : name();
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** Round-to-nearest-even narrowing to BF16 (NaN kept NaN). */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
