package dev.puzzle.core.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Builds kernels.cu for the host with g++ (.ci/run installs it): the kernel-by-kernel executable
 * (src/test/cuda/emu_main.cpp) and the emulated device's JNI library (emu_jni.cpp), once per test JVM,
 * into the running module's target/.
 */
public final class HostCuda {
    private HostCuda() {}

    private static Path executable, library;

    public static synchronized Path executable() throws Exception {
        if (executable == null) executable = build("src/test/cuda/emu_main.cpp", "target/cuda-emu", false);
        return executable;
    }

    public static synchronized Path library() throws Exception {
        if (library == null) library = build("src/test/cuda/emu_jni.cpp", "target/libpuzzle-cuda-emu.so", true);
        return library;
    }

    private static Path build(String source, String output, boolean shared) throws Exception {
        // Tests run in their module's directory: puzzle-core's own, or a sibling's.
        Path core = Files.isDirectory(Path.of("src/main/cuda")) ? Path.of("") : Path.of("../puzzle-core");
        Path src = core.resolve(source).toAbsolutePath().normalize(), inc = core.resolve("src/main/cuda").toAbsolutePath().normalize();
        Path out = Path.of(output).toAbsolutePath();
        Files.createDirectories(out.getParent());
        List<String> cmd = new ArrayList<>(List.of("g++", "-std=c++20", "-O2", "-U_FORTIFY_SOURCE", "-pthread", "-I", inc.toString()));
        if (shared) {
            Path jdk = Path.of(System.getProperty("java.home"));
            cmd.addAll(List.of("-shared", "-fPIC", "-I", jdk.resolve("include").toString(), "-I", jdk.resolve("include/linux").toString()));
        }
        cmd.addAll(List.of("-o", out.toString(), src.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "g++ (.ci/run installs it) failed on " + source + ":\n" + log);
        return out;
    }
}
