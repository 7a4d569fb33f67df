package dev.puzzle.core;

/**
 * An input the user can get wrong (a file, a field, a value) was wrong. Libraries throw it with the
 * offending values; only the CLI turns it into a message and an exit code.
 */
public class PuzzleException extends RuntimeException {
    /** The setting an error is about (e.g. {@code shards}), for a caller that knows it by another name (the CLI: {@code --shards}); else null. */
    private final String setting;
    private final String settingProblem; // what follows the setting's name: " VALUE: problem", one line

    public PuzzleException(String message) {
        this(message, null, null, null);
    }

    public PuzzleException(String message, Throwable cause) {
        this(message, cause, null, null);
    }

    private PuzzleException(String message, Throwable cause, String setting, String settingProblem) {
        super(oneLine(message), cause);
        this.setting = setting;
        this.settingProblem = settingProblem;
    }

    /**
     * A wrong value of a setting a command was given (not a file's field): {@code setting V: problem}. Library code
     * names the setting as the toolkit knows it ({@code shards}, {@code time-limit}); the CLI names it by its flag.
     */
    public static PuzzleException setting(String setting, Object value, String problem) {
        String rest = (value == null ? "" : " " + oneLine(String.valueOf(value))) + ": " + oneLine(problem);
        return new PuzzleException(setting + rest, null, setting, rest);
    }

    /** The setting this error is about, or null. */
    public String setting() {
        return setting;
    }

    /** The message with the setting named {@code as} (the CLI: {@code "--" + setting}); the plain message for other errors. */
    public String messageNaming(String as) {
        return setting == null ? getMessage() : as + settingProblem;
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
