package dev.puzzle.fuzz;

import dev.puzzle.fuzz.FuzzTargets.Target;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * CI's regression pass over the fuzz corpus: for every target, the kept inputs of {@code fuzz/corpus/TARGET/}
 * (each finding of bench/fuzz.sh, kept once fixed), the seeds ({@link FuzzSeeds}) and fixed mutations of each
 * seed (truncations and byte changes from a seeded generator) — each read within 10 s with no outcome but
 * success or one clean input error.
 */
class FuzzRegressionTest {
    static final int TRUNCATIONS = 24, FLIPS = 24;

    static Map<String, byte[]> inputs(Target t, Map<String, byte[]> seeds) throws IOException {
        Map<String, byte[]> in = new LinkedHashMap<>();
        Path kept = FuzzSeeds.repo().resolve("fuzz/corpus").resolve(t.id());
        if (Files.isDirectory(kept)) {
            try (Stream<Path> s = Files.list(kept)) {
                for (Path p : s.sorted().toList()) in.put("corpus/" + p.getFileName(), Files.readAllBytes(p));
            }
        }
        Random r = new Random(42);
        for (var e : seeds.entrySet()) {
            byte[] b = e.getValue();
            in.put(e.getKey(), b);
            for (int i = 0; i < TRUNCATIONS && b.length > 1; i++) {
                int n = i < 12 ? Math.min(b.length - 1, i * 8) : r.nextInt(b.length); // the headers first, then anywhere
                in.put(e.getKey() + " cut at " + n, Arrays.copyOf(b, n));
            }
            for (int i = 0; i < FLIPS && b.length > 0; i++) {
                byte[] m = b.clone();
                int at = i < 12 ? r.nextInt(Math.min(b.length, 512)) : r.nextInt(b.length);
                m[at] = (byte) (i % 3 == 0 ? 0xff : i % 3 == 1 ? 0x7f : r.nextInt(256));
                in.put(e.getKey() + " byte " + at + "=" + (m[at] & 0xff), m);
            }
        }
        return in;
    }

    @TestFactory
    List<DynamicTest> everyReaderRefusesBadInputCleanly() throws IOException {
        Map<Target, Map<String, byte[]>> seeds = FuzzSeeds.all();
        List<DynamicTest> tests = new ArrayList<>();
        for (Target t : Target.values()) {
            tests.add(DynamicTest.dynamicTest(t.id(), () -> {
                if (t == Target.TEXT) {
                    Assumptions.assumeTrue(Files.exists(FuzzSeeds.shared().resolve("models/stories260K/tok512.bin")),
                            "skipped: the text target needs ../shared/models/stories260K/tok512.bin");
                }
                Map<String, byte[]> in = inputs(t, seeds.get(t));
                assertTrue(in.size() > 10, t.id() + ": " + in.size() + " inputs");
                ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
                    Thread th = new Thread(r, "fuzz-" + t.id());
                    th.setDaemon(true);
                    return th;
                });
                try {
                    for (var e : in.entrySet()) {
                        Future<?> f = ex.submit(() -> FuzzTargets.run(t, e.getValue()));
                        try {
                            f.get(10, TimeUnit.SECONDS);
                        } catch (TimeoutException te) {
                            fail(t.id() + " " + e.getKey() + ": no answer within 10 s");
                        } catch (java.util.concurrent.ExecutionException ee) {
                            throw new AssertionError(t.id() + " " + e.getKey() + ": " + ee.getCause(), ee.getCause());
                        }
                    }
                } finally {
                    ex.shutdownNow();
                }
            }));
        }
        return tests;
    }
}
