package dev.puzzle.core;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Which build of the toolkit is running: its version, and the git commit of the checkout it runs from. */
public final class BuildInfo {
    private BuildInfo() {}

    /** The toolkit's version (the Maven projects' version, without -SNAPSHOT). */
    public static final String VERSION = "0.1.0";

    private static String commit;

    /**
     * {@code git describe --always --dirty} of the checkout whose build is running (found above this class's jar
     * or classes directory), or a sentence saying why there is none.
     */
    public static synchronized String commit() {
        if (commit == null) commit = findCommit();
        return commit;
    }

    private static String findCommit() {
        Path at;
        try {
            at = Path.of(BuildInfo.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
        } catch (URISyntaxException | SecurityException | NullPointerException e) {
            return "unknown (the toolkit's location is not a file)";
        }
        while (at != null && !Files.exists(at.resolve(".git"))) at = at.getParent();
        if (at == null) return "unknown (not run from a git checkout)";
        try {
            Process p = new ProcessBuilder("git", "-C", at.toString(), "describe", "--always", "--dirty", "--abbrev=12").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) return "unknown (git describe failed in " + at + ")";
            return out;
        } catch (IOException e) {
            return "unknown (no git to ask in " + at + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown (interrupted)";
        }
    }
}
