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

    /** Set when the process is stopping: from then on no new temporary file is made (a worker may still be running). */
    private static volatile boolean stopping;

    /** Whether the process is stopping (Ctrl-C, SIGTERM): a write refused now is no error to report. */
    public static boolean isStopping() {
        return stopping;
    }

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (IN_FLIGHT) {
                stopping = true;
            }
            for (Path p : IN_FLIGHT) {
                try {
                    deleteTree(p);
                } catch (IOException | RuntimeException e) {
                    // best effort on the way out
                }
            }
        }, "puzzle-temp-cleanup"));
    }

    /** Writing a file failed (a full disk, an I/O error): the message names the file; what was there before is unchanged. */
    public static final class WriteFailed extends dev.puzzle.core.PuzzleException {
        public WriteFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Fault injection for the tests (system property {@code puzzle.faults.disk_full_after_bytes}): once this
     * process has written that many bytes through {@link #write}, every further write fails as a full disk does.
     */
    private static final long DISK_FULL_AFTER = Long.getLong("puzzle.faults.disk_full_after_bytes", -1);
    private static final java.util.concurrent.atomic.AtomicLong WRITTEN = new java.util.concurrent.atomic.AtomicLong();

    private static WriteFailed failed(Path target, IOException e) {
        String m = String.valueOf(e.getMessage());
        return new WriteFailed(target + ": cannot write: " + m + (m.contains("No space left") || m.contains("Disk quota")
                ? " — free space and rerun the same command; " + (Files.exists(target) ? "the earlier " + target.getFileName() + " is unchanged" : "nothing was left half-written")
                : ""), e);
    }

    private static OutputStream faulty(OutputStream out) {
        if (DISK_FULL_AFTER < 0) return out;
        return new java.io.FilterOutputStream(out) {
            @Override
            public void write(int b) throws IOException {
                if (WRITTEN.incrementAndGet() > DISK_FULL_AFTER) throw new IOException("No space left on device");
                out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (WRITTEN.addAndGet(len) > DISK_FULL_AFTER) throw new IOException("No space left on device");
                out.write(b, off, len);
            }
        };
    }

    /**
     * Who writes a temporary file, in its name ({@code .NAME.pPID@HOST.RANDOM.tmp}): a later process can tell
     * a file whose writer was killed (SIGKILL, a lost node: no shutdown hook ran) from one being written now.
     */
    static final String HOST = host();
    private static final String OWNER = "p" + ProcessHandle.current().pid() + "@" + HOST;
    private static final java.util.regex.Pattern TEMP = java.util.regex.Pattern.compile("^\\..+\\.p(\\d+)@([A-Za-z0-9-]*)\\.\\d+\\.tmp$");
    /** A temporary file from another host (or an older version, without its owner) is stale once untouched this long. */
    static final long FOREIGN_STALE_MILLIS = 3_600_000;
    /** Directories this process has swept of stale temporary files: once each, not at every write. */
    private static final java.util.Set<Path> SWEPT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private static String host() { // the kernel's own name for the machine: no DNS lookup
        String h = "";
        try {
            h = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException | RuntimeException e) {
            String env = System.getenv("HOSTNAME");
            if (env != null) h = env;
        }
        return h.replaceAll("[^A-Za-z0-9-]", "-");
    }

    /**
     * Removes the temporary files in {@code dir} that no live writer owns: written on this host by a process
     * that is gone, or untouched for an hour (another host's, or made before owners were named). A killed run
     * leaves such files behind; the run that resumes it clears them the first time it writes in the directory.
     * A file being written now by another process (a second shard, say) is left alone.
     */
    static void sweepOnce(Path dir) {
        if (!SWEPT.add(dir)) return;
        long now = System.currentTimeMillis();
        try (java.nio.file.DirectoryStream<Path> s = Files.newDirectoryStream(dir, ".*.tmp")) {
            for (Path f : s) {
                if (IN_FLIGHT.contains(f)) continue;
                try {
                    java.util.regex.Matcher m = TEMP.matcher(f.getFileName().toString());
                    boolean stale;
                    if (m.matches() && m.group(2).equals(HOST)) {
                        stale = ProcessHandle.of(Long.parseLong(m.group(1))).map(h -> !h.isAlive()).orElse(true);
                    } else {
                        stale = now - Files.getLastModifiedTime(f).toMillis() > FOREIGN_STALE_MILLIS;
                    }
                    if (stale && Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.deleteIfExists(f);
                } catch (IOException | RuntimeException e) {
                    // gone already (another process swept it), or unreadable: leave it
                }
            }
        } catch (IOException | RuntimeException e) {
            // best effort: a temporary file left behind is untidy, never wrong (readers never open one)
        }
    }

    @FunctionalInterface
    public interface Body {
        void write(OutputStream out) throws IOException;
    }

    public static void write(Path target, Body body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp;
        synchronized (IN_FLIGHT) { // registered before the stop hook can miss it, and none made once it ran
            if (stopping) throw new IOException("the process is stopping; " + target + " is not written");
            tmp = Files.createTempFile(dir, "." + target.getFileName() + "." + OWNER + ".", ".tmp");
            IN_FLIGHT.add(tmp);
        }
        sweepOnce(dir);
        try {
            try (OutputStream out = new BufferedOutputStream(faulty(Files.newOutputStream(tmp)), 1 << 16)) {
                body.write(out);
            } catch (IOException e) { // the disk filled up, say: one clear line; the earlier file, if any, is untouched
                throw failed(target, e);
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
        synchronized (IN_FLIGHT) {
            if (stopping) throw new IOException("the process is stopping; " + abs + " is not written");
            IN_FLIGHT.add(tmp);
        }
        try {
            try {
                body.write(tmp);
            } catch (WriteFailed e) { // name the directory the user asked for, not its temporary twin
                throw failed(abs, e.getCause() instanceof IOException io ? io : new IOException(e.getMessage()));
            }
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
