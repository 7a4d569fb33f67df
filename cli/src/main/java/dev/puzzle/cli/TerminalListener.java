package dev.puzzle.cli;

import dev.puzzle.pipeline.Listener;

import java.io.PrintWriter;
import java.util.function.LongConsumer;

/**
 * Draws a stage's events on stdout ({@code [stage] message}) and its progress as bars on stderr, and keeps each
 * stage's wall time (from its first event to the next stage's) for {@link #times}.
 */
final class TerminalListener implements Listener {
    private final PrintWriter out, err;
    private final long started = System.nanoTime();
    private final java.util.LinkedHashMap<String, Double> seconds = new java.util.LinkedHashMap<>();
    private String current;
    private long since = started;

    TerminalListener(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public void stage(String stage, String message) {
        close(stage);
        out.printf("[%s] %s%n", stage, message);
        out.flush();
    }

    private void close(String next) {
        long now = System.nanoTime();
        if (current != null && !current.equals(next)) seconds.merge(current, (now - since) / 1e9, Double::sum);
        if (current == null || !current.equals(next)) since = now;
        current = next;
    }

    /** Each stage's wall time so far and the whole command's, in one line (the last stage counted to now). */
    String times() {
        close(null);
        StringBuilder b = new StringBuilder("stage times:");
        seconds.forEach((k, v) -> b.append(String.format(java.util.Locale.ROOT, " %s %.1f s,", k, v)));
        return b.append(String.format(java.util.Locale.ROOT, " total %.1f s (the JVM's start before it not counted)", (System.nanoTime() - started) / 1e9)).toString();
    }

    @Override
    public LongConsumer progress(String label, long total) {
        return new Progress(err, label, total)::update;
    }
}
