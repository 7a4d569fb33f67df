package dev.puzzle.pipeline;

import dev.puzzle.core.PuzzleException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The run directory's fingerprint: a parent made again at the same path with other weights is not taken for the old one. */
class RunDirectoryTest {
    @Test
    void aParentWhoseFilesChangedIsRefusedAndTheSameOneResumes(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("parent");
        Files.createDirectories(model);
        Files.writeString(model.resolve("config.json"), "{\"architectures\": [\"LlamaForCausalLM\"]}");
        byte[] weights = new byte[3 << 20];
        new Random(1).nextBytes(weights);
        Files.write(model.resolve("model.safetensors"), weights);
        String a = RunDirectory.contentStamp(model);
        assertEquals(a, RunDirectory.contentStamp(model), "a stamp of the same files is the same");
        RunConfig rc = RunConfig.read(RunConfigTest.config(tmp, "{throughputs: [2x]}", ""));
        RunDirectory dir = new RunDirectory(tmp.resolve("run"));
        dir.checkFingerprint(rc, a);
        dir.checkFingerprint(rc, a); // resumes
        weights[weights.length - 5] ^= 1; // the last layers made again
        Files.write(model.resolve("model.safetensors"), weights);
        String b = RunDirectory.contentStamp(model);
        assertNotEquals(a, b);
        PuzzleException e = assertThrows(PuzzleException.class, () -> dir.checkFingerprint(rc, b));
        assertTrue(e.getMessage().contains("run_dir") && e.getMessage().contains("parent whose files have changed"), e.getMessage());
    }
}
