package dev.puzzle.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path tmp;

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aWriteClearsTheTemporaryFilesOfKilledWritersAndLeavesLiveOnesAlone() throws Exception {
        // A writer that is gone: a real process, started and finished (its pid is free again).
        Process dead = new ProcessBuilder("true").start();
        assertTrue(dead.waitFor(30, TimeUnit.SECONDS));
        // A writer that is alive now: another real process, not this one.
        Process live = new ProcessBuilder("sleep", "60").start();
        try {
            String host = AtomicFiles.HOST;
            Path deadTmp = Files.writeString(tmp.resolve(".a.json.p" + dead.pid() + "@" + host + ".123.tmp"), "half");
            Path liveTmp = Files.writeString(tmp.resolve(".b.json.p" + live.pid() + "@" + host + ".456.tmp"), "half");
            Path foreignRecent = Files.writeString(tmp.resolve(".c.json.p" + dead.pid() + "@other-host.789.tmp"), "half");
            Path foreignOld = Files.writeString(tmp.resolve(".d.json.p" + live.pid() + "@other-host.1.tmp"), "half");
            Path legacyOld = Files.writeString(tmp.resolve(".e.json.42.tmp"), "half"); // before owners were named
            Path legacyRecent = Files.writeString(tmp.resolve(".f.json.43.tmp"), "half");
            FileTime old = FileTime.fromMillis(System.currentTimeMillis() - AtomicFiles.FOREIGN_STALE_MILLIS - 60_000);
            Files.setLastModifiedTime(foreignOld, old);
            Files.setLastModifiedTime(legacyOld, old);
            Path keepOld = Files.writeString(tmp.resolve("results.tmp"), "a user's file, not ours"); // no leading dot
            Files.setLastModifiedTime(keepOld, old);

            AtomicFiles.writeString(tmp.resolve("x.json"), "{}");

            assertFalse(Files.exists(deadTmp), "the killed writer's file is removed");
            assertFalse(Files.exists(foreignOld), "another host's file untouched for an hour is removed");
            assertFalse(Files.exists(legacyOld));
            assertTrue(Files.exists(liveTmp), "a live writer's file stays");
            assertTrue(Files.exists(foreignRecent), "another host's recent file stays (its writer may be alive)");
            assertTrue(Files.exists(legacyRecent));
            assertEquals(List.of(".b.json.p" + live.pid() + "@" + host + ".456.tmp", ".c.json.p" + dead.pid() + "@other-host.789.tmp",
                    ".f.json.43.tmp", "results.tmp", "x.json"), names(tmp));
            assertEquals("{}", Files.readString(tmp.resolve("x.json")));
        } finally {
            live.destroyForcibly();
        }
    }

    @Test
    void aWriterKilledMidwayLeavesATemporaryFileTheNextProcessClears() throws Exception {
        // A real second JVM writes through AtomicFiles and is killed with SIGKILL (no shutdown hook) while writing.
        Path dir = tmp.resolve("run");
        Files.createDirectories(dir);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), SlowWriter.class.getName(),
                dir.resolve("out.bin").toString()).redirectErrorStream(true).start();
        long deadline = System.currentTimeMillis() + 60_000;
        while (names(dir).stream().noneMatch(n -> n.endsWith(".tmp")) && System.currentTimeMillis() < deadline) Thread.sleep(20);
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        List<String> left = names(dir);
        assertEquals(1, left.size(), "the killed writer left its temporary file: " + left);
        assertTrue(left.get(0).matches("\\.out\\.bin\\.p" + p.pid() + "@.*\\.tmp"), left.get(0));

        AtomicFiles.writeString(dir.resolve("out.bin"), "done");
        assertEquals(List.of("out.bin"), names(dir));
    }

    /** Writes forever to the file named by its argument, through AtomicFiles, until it is killed. */
    public static final class SlowWriter {
        public static void main(String[] args) throws Exception {
            AtomicFiles.write(Path.of(args[0]), out -> {
                while (true) {
                    out.write(new byte[1 << 16]);
                    out.flush();
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }
    }
}
