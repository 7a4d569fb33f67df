package dev.puzzle.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.puzzle.cli.CliTest.badInput;
import static dev.puzzle.cli.CliTest.run;
import static dev.puzzle.cli.CliTest.shared;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --backend} on a machine without a GPU (CI's): {@code auto} computes on the CPU after one line saying
 * why, with results equal to {@code cpu}'s; {@code cuda} is refused with that line and exit 3, before any work.
 * Whether a GPU is present is read off the machine independently of the backend (/dev/nvidia0 and the
 * driver's library), and the test refuses to run on one, where its expectations would not hold.
 */
class BackendCliTest {

    @BeforeAll
    static void noGpuHere() throws IOException {
        boolean gpu = Files.exists(Path.of("/dev/nvidia0")) || Files.exists(Path.of("/proc/driver/nvidia"));
        org.junit.jupiter.api.Assumptions.assumeFalse(gpu, "skipped: this machine has an NVIDIA GPU; bench/gpu.sh checks the CUDA backend there");
    }

    @Test
    void autoFallsBackToTheCpuWithOneLine() {
        String bin = CliTest.bin(), tok = CliTest.tok();
        CliTest.Run cpu = run("generate", bin, "--tokenizer", tok, "--temperature", "0", "--steps", "40");
        CliTest.Run auto = run("generate", bin, "--tokenizer", tok, "--temperature", "0", "--steps", "40", "--backend", "auto");
        assertEquals(0, auto.code(), auto.err());
        assertEquals(cpu.out(), auto.out());
        String first = auto.err().lines().findFirst().orElse("");
        assertEquals("backend auto: no CUDA driver: libcuda.so.1 not found; computing on the CPU", first);
        assertEquals(1, auto.err().lines().filter(l -> l.contains("backend")).count(), auto.err());
        assertFalse(cpu.err().contains("backend"), "the default (cpu) says nothing: " + cpu.err());
    }

    @Test
    void explicitCudaIsRefusedWithTheReason() {
        Path cfg = Path.of("../examples/stories260K/puzzle.yaml").toAbsolutePath().normalize();
        assertTrue(Files.exists(cfg), cfg.toString());
        for (String[] cmd : new String[][]{
                {"generate", CliTest.bin(), "--tokenizer", CliTest.tok(), "--backend", "cuda"},
                {"distill", cfg.toString(), "--backend", "cuda"},
                {"score", cfg.toString(), "--backend", "cuda"},
                {"compress", cfg.toString(), "--backend", "cuda"},
                {"profile", cfg.toString(), "--backend", "cuda"}}) {
            CliTest.Run r = run(cmd);
            String e = badInput(r, "--backend cuda: no CUDA driver: libcuda.so.1 not found");
            assertEquals("", r.out(), cmd[0]);
            assertTrue(e.length() < 120, e);
        }
    }

    @Test
    void unknownBackendIsNamed() {
        badInput(run("generate", CliTest.bin(), "--tokenizer", CliTest.tok(), "--backend", "tpu"), "--backend 'tpu': must be cpu, cuda or auto");
    }
}
