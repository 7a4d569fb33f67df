package dev.puzzle.cli;

import java.io.PrintWriter;
import java.util.Locale;

/** A progress bar with rate and ETA on stderr: redrawn in place on a terminal, a line every few seconds otherwise. */
public final class Progress {
    private final PrintWriter err;
    private final String label;
    private final long total;
    private final boolean tty = System.console() != null;
    private final long start = System.nanoTime();
    private long lastDraw;

    public Progress(PrintWriter err, String label, long total) {
        this.err = err;
        this.label = label;
        this.total = total;
    }

    public void update(long done) {
        long now = System.nanoTime();
        boolean finished = done >= total;
        if (!finished && now - lastDraw < (tty ? 100_000_000L : 5_000_000_000L)) return;
        lastDraw = now;
        double secs = (now - start) / 1e9;
        double frac = total > 0 ? Math.min(1, (double) done / total) : 1;
        int width = 30, filled = (int) Math.round(frac * width);
        String eta = done > 0 && !finished ? String.format(Locale.ROOT, " ETA %.0fs", secs / done * (total - done)) : "";
        String line = String.format(Locale.ROOT, "%s [%s%s] %3.0f%% %d/%d %.1fs%s", label, "#".repeat(filled), ".".repeat(width - filled),
                frac * 100, done, total, secs, eta);
        if (tty) {
            err.print("\r" + line + (finished ? "\n" : ""));
        } else {
            err.println(line);
        }
        err.flush();
    }
}
