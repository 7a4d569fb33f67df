package dev.puzzle.core;

/**
 * An input the user can get wrong (a file, a field, a value) was wrong. Libraries throw it with the
 * offending values; only the CLI turns it into a message and an exit code.
 */
public class PuzzleException extends RuntimeException {
    public PuzzleException(String message) {
        super(oneLine(message));
    }

    public PuzzleException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }

    /** An input error is one line, whatever a parser's own message spans (YAML's points at the column over three). */
    private static String oneLine(String m) {
        return m == null ? null : m.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    /** A message of the form {@code FILE: field 'F' = V: problem}. */
    public static PuzzleException field(Object file, String field, Object value, String problem) {
        return new PuzzleException(file + ": field '" + field + "' = " + value + ": " + problem);
    }
}
