package dev.puzzle.core.ops;

import java.util.List;

/**
 * A MoE layer's shared expert: an FFN without its own norm that reads the layer's normalized input h — SwiGLU
 * (Qwen2-MoE, {@link SwiGluOp}) or a squared-ReLU MLP (Nemotron 3, {@link Relu2MlpOp}).
 */
interface SharedExpert {
    List<Param> params();

    /** f(h) for N normalized rows, and what {@link #backwardNormed} needs. */
    BlockOp.Saved forwardNormed(float[] h, int N);

    /** Backward of {@link #forwardNormed}: d loss / d h. */
    float[] backwardNormed(BlockOp.Saved saved, float[] dOut);

    /** Inference on normalized inputs: out (+)= f(h) for T rows. */
    void stepNormed(float[] h, int T, float[] out, boolean accumulate);
}
