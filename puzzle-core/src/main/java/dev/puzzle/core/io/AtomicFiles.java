package dev.puzzle.core.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Writes a file under a temporary name beside it and renames it into place when complete: never a half-written output. */
public final class AtomicFiles {
    private AtomicFiles() {}

    /**
     * Temporary files and directories being written now. When the process is stopped (Ctrl-C, SIGTERM,
     * System.exit) they are removed, so an interrupted run leaves only finished outputs behind.
     */
    private static final java.util.Set<Path> IN_FLIGHT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Path p : IN_FLIGHT) {
                try {
                    deleteTree(p);
                } catch (IOException | RuntimeException e) {
                    // best effort on the way out
                }
            }
        }, "puzzle-temp-cleanup"));
    }

    @FunctionalInterface
    public interface Body {
        void write(OutputStream out) throws IOException;
    }

    public static void write(Path target, Body body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        IN_FLIGHT.add(tmp);
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                body.write(out);
            }
            // createTempFile makes the file private (0600); the output gets ordinary permissions.
            if (Files.getFileStore(tmp).supportsFileAttributeView("posix")) {
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
            IN_FLIGHT.remove(tmp);
        }
    }

    @FunctionalInterface
    public interface DirectoryBody {
        void write(Path dir) throws IOException;
    }

    /**
     * Writes a whole directory under a temporary name beside it ({@code .NAME.partial}) and moves it into
     * place when complete, replacing an earlier one: a reader never sees a half-written directory.
     */
    public static void writeDirectory(Path target, DirectoryBody body) throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".partial");
        deleteTree(tmp);
        Files.createDirectories(abs.getParent());
        IN_FLIGHT.add(tmp);
        try {
            body.write(tmp);
            deleteTree(abs);
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            deleteTree(tmp);
            IN_FLIGHT.remove(tmp);
        }
    }

    /** Deletes a file or a directory with everything in it; nothing when absent. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (java.util.stream.Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

    public static void writeString(Path target, String text) throws IOException {
        write(target, out -> out.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }
}
