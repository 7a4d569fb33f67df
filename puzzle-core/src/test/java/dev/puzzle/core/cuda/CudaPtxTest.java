package dev.puzzle.core.cuda;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed PTX is the one make_ptx.sh makes of today's kernels.cu, and every kernel the backend's Java
 * code launches is in it with the arguments the launch passes (counted and typed against the PTX).
 */
class CudaPtxTest {
    private static final String PTX = new String(Ptx.image(), StandardCharsets.US_ASCII).replace("\0", "");

    @Test
    void ptxIsOfTodaysKernels() throws Exception {
        byte[] src = Files.readAllBytes(Path.of("src/main/cuda/kernels.cu"));
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(src));
        assertTrue(PTX.startsWith("// kernels.cu sha256 " + sha), "kernels.ptx was made from another kernels.cu: run puzzle-core/src/main/cuda/make_ptx.sh");
        assertTrue(PTX.contains("\n.version 7.8\n") && PTX.contains("\n.target sm_80\n"), "PTX ISA 7.8 for sm_80");
    }

    @Test
    void everyLaunchedKernelIsInThePtx() throws Exception {
        Map<String, List<String>> sig = Ptx.signatures(PTX);
        assertEquals(20, sig.size(), "kernels in kernels.ptx: " + sig.keySet());
        Pattern launch = Pattern.compile("launch2?d?\\(\\s*(?:bf16 \\? )?\"(\\w+)\"(?:\\s*:\\s*\"(\\w+)\")?");
        int found = 0;
        try (Stream<Path> files = Files.list(Path.of("src/main/java/dev/puzzle/core/cuda"))) {
            for (Path f : files.toList()) {
                Matcher m = launch.matcher(Files.readString(f));
                while (m.find()) {
                    for (int g = 1; g <= 2; g++) {
                        if (m.group(g) == null) continue;
                        assertTrue(sig.containsKey(m.group(g)), f.getFileName() + " launches " + m.group(g) + ", not in kernels.ptx");
                        found++;
                    }
                }
            }
        }
        assertTrue(found >= 20, "launch sites found: " + found);
    }

    @Test
    void argumentsAreCheckedAgainstThePtx() {
        // rmsnorm_fwd(float*, float*, const float*, const float*, int, int, float)
        Ptx.check("rmsnorm_fwd", new Object[]{null, null, null, null, 4, 8, 1e-5f});
        var count = assertThrows(IllegalArgumentException.class, () -> Ptx.check("rmsnorm_fwd", new Object[]{null, 4, 8, 1e-5f}));
        assertEquals("kernel rmsnorm_fwd takes 7 arguments [u64, u64, u64, u64, u32, u32, f32], given 4", count.getMessage());
        // swiglu_fwd's n is a long long: an int there would read garbage on the device
        var width = assertThrows(IllegalArgumentException.class, () -> Ptx.check("swiglu_fwd", new Object[]{null, null, null, 5}));
        assertEquals("kernel swiglu_fwd argument 3 is .u64, given Integer", width.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Ptx.check("no_such_kernel", new Object[0]));
    }
}
