package dev.puzzle.core.tensor;

/** The per-thread buffers {@link Kernels#linear} reads blocks of stored weight rows into. */
final class LinearBlocks {
    private LinearBlocks() {}

    /**
     * Floats per block for m input rows: 64 KiB of FP32 for decode (a GEMV streams the block once), 512 KiB
     * when many rows reuse it (prefill, training): enough columns for the GEMM's panels.
     */
    static int blockFloats(int m) {
        return m <= 4 ? 1 << 14 : 1 << 17;
    }

    private static final ThreadLocal<float[]> BUF = ThreadLocal.withInitial(() -> new float[1 << 14]);

    private static final ThreadLocal<short[]> SHORTS = ThreadLocal.withInitial(() -> new short[1 << 14]);

    private static final ThreadLocal<byte[]> BYTES = ThreadLocal.withInitial(() -> new byte[1 << 14]);

    private static final ThreadLocal<float[]> PAIR = ThreadLocal.withInitial(() -> new float[2]);

    /** This thread's two results of a product of two rows ({@link Kernels#dotBf16Pair}). */
    static float[] pair() {
        return PAIR.get();
    }

    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[1 << 12]);

    private static final ThreadLocal<float[]> INPUT = ThreadLocal.withInitial(() -> new float[1 << 12]);

    /**
     * The caller's copy of a linear layer's input, rounded for llama.cpp's formats: read by the helpers of that call
     * too, and by no later call until it returns (not the block buffer, which each thread fills for its own rows).
     */
    static float[] input(int n) {
        return floats(INPUT, n);
    }

    static byte[] bytes(int n) {
        byte[] b = BYTES.get();
        if (b.length < n) {
            b = new byte[n];
            BYTES.set(b);
        }
        return b;
    }

    /** A row's worth of FP32 for the scalar decode of one quantized row (not the block buffer: both are live at once). */
    static float[] rowBuffer(int n) {
        return floats(ROW, n);
    }

    static short[] shorts(int n) {
        short[] b = SHORTS.get();
        if (b.length < n) {
            b = new short[n];
            SHORTS.set(b);
        }
        return b;
    }

    static float[] buffer(int n) {
        return floats(BUF, n);
    }

    /** This thread's array of the given buffer, grown to at least n. */
    private static float[] floats(ThreadLocal<float[]> buf, int n) {
        float[] b = buf.get();
        if (b.length < n) {
            b = new float[n];
            buf.set(b);
        }
        return b;
    }
}
