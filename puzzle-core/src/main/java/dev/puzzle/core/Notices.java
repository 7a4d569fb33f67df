package dev.puzzle.core;

import java.util.function.Consumer;

/**
 * Lines a long job says on the way without stopping — a damaged file found and rebuilt, a training job
 * that diverged and was left out. They go to the running command's error stream (the CLI points this at
 * it), else to stderr.
 */
public final class Notices {
    private Notices() {}

    private static volatile Consumer<String> sink = System.err::println;

    /** Says one line, prefixed {@code puzzle: }. */
    public static void say(String line) {
        sink.accept("puzzle: " + line);
    }

    /** Where lines go from now on. */
    public static void to(Consumer<String> where) {
        sink = where == null ? System.err::println : where;
    }
}
