package dev.puzzle.cli;

import dev.puzzle.pipeline.Listener;

import java.io.PrintWriter;
import java.util.function.LongConsumer;

/** Draws a stage's events on stdout ({@code [stage] message}) and its progress as bars on stderr. */
final class TerminalListener implements Listener {
    private final PrintWriter out, err;

    TerminalListener(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public void stage(String stage, String message) {
        out.printf("[%s] %s%n", stage, message);
        out.flush();
    }

    @Override
    public LongConsumer progress(String label, long total) {
        return new Progress(err, label, total)::update;
    }
}
