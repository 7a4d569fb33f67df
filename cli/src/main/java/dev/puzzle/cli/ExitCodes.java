package dev.puzzle.cli;

/** The exit codes of {@code puzzle}. */
public final class ExitCodes {
    private ExitCodes() {}

    public static final int OK = 0;
    /** An unexpected internal error (a bug): the message says so. */
    public static final int SOFTWARE = 1;
    /** The command line itself was wrong (unknown option, missing argument). */
    public static final int USAGE = 2;
    /** An input was wrong: a file, a config field, a value. */
    public static final int INPUT = 3;
    /** Writing failed (a full disk, an I/O error; sysexits' EX_IOERR): what was written before is intact. */
    public static final int IO = 74;
    /** Interrupted by the user. */
    public static final int INTERRUPTED = 130;
}
