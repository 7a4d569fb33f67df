package dev.puzzle.pipeline;

import java.util.function.LongConsumer;

/**
 * How a stage reports what it does: one line per stage event, and progress of long work (jobs done
 * out of a total). The CLI draws them on the terminal; tests and library callers may stay silent.
 */
public interface Listener {
    /** A stage event, e.g. ("score", "done earlier, skipped"). */
    void stage(String stage, String message);

    /** A progress sink for {@code total} units of work labelled {@code label}: it is given the units done so far. */
    LongConsumer progress(String label, long total);

    /** Says nothing. */
    static Listener silent() {
        return new Listener() {
            @Override
            public void stage(String stage, String message) {}

            @Override
            public LongConsumer progress(String label, long total) {
                return done -> {};
            }
        };
    }
}
