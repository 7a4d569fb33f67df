package dev.puzzle.core.ops;

import java.util.List;

/** The no-op variant of attention or FFN: f(x) = 0, no tensors, no state. */
public final class NoOp implements BlockOp {
    public static final NoOp INSTANCE = new NoOp();

    private NoOp() {}

    @Override
    public List<Param> params() {
        return List.of();
    }

    @Override
    public boolean identity() {
        return true;
    }

    private record Zero(float[] out) implements Saved {}

    @Override
    public Saved forward(float[] x, int S, int T) {
        return new Zero(new float[x.length]);
    }

    @Override
    public float[] backward(Saved saved, float[] dOut) {
        return new float[dOut.length];
    }

    @Override
    public void step(State state, float[] x, int T, int pos0) {
    }
}
