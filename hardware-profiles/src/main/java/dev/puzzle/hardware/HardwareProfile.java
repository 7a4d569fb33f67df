package dev.puzzle.hardware;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.config.ConfigNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a roofline needs to know about an accelerator: dense peak FLOP/s per compute dtype, memory
 * bandwidth and size, a fixed overhead per kernel, and the fraction of peak well-tuned kernels reach.
 * Shipped profiles live in {@code dev/puzzle/hardware/profiles/*.yaml}; {@code local-cpu} is measured, and so is
 * {@code llamacpp-cpu} (this machine's constants on one thread; its measured costs are timed in llama.cpp itself,
 * {@link LlamaCppCostModel}).
 *
 * @param peakTflops dense peak TFLOP/s by dtype name (fp32, tf32, bf16, fp16, fp8)
 * @param attentionBandwidthEfficiency the fraction of bandwidth attention kernels reach reading the KV cache
 *        (flash-decoding reaches less than a GEMM does); defaults to {@code bandwidthEfficiency}
 */
public record HardwareProfile(String name, Map<String, Double> peakTflops, double memoryBandwidthGbs, double memoryGib,
                              double kernelOverheadUs, double computeEfficiency, double bandwidthEfficiency,
                              double attentionBandwidthEfficiency) {

    public static final List<String> BUILT_IN = List.of("h100-80gb-sxm", "h200", "a100-80gb", "l40s", "rtx-4090");
    public static final String LOCAL_CPU = "local-cpu";
    /** This machine as llama.cpp runs on it, one thread: a child chosen for the runtime it is deployed on. */
    public static final String LLAMACPP_CPU = "llamacpp-cpu";

    /** Whether a profile name (or a profile's {@link #name()}) is {@link #LLAMACPP_CPU}. */
    public static boolean isLlamaCpp(String nameOrPath) {
        return nameOrPath.toLowerCase(Locale.ROOT).startsWith(LLAMACPP_CPU);
    }

    public HardwareProfile {
        peakTflops = Map.copyOf(peakTflops);
        if (peakTflops.isEmpty()) throw new PuzzleException("profile " + name + ": peak_tflops is empty");
    }

    /** FLOP/s achievable for a compute dtype; dtypes without their own peak (fp8 on an A100) use bf16's, then fp32's. */
    public double flopsPerSecond(String dtype) {
        Double t = peakTflops.get(dtype);
        if (t == null && (dtype.equals("fp8") || dtype.equals("fp16"))) t = peakTflops.get("bf16");
        if (t == null) t = peakTflops.get("fp32");
        if (t == null) throw new PuzzleException("profile " + name + ": no peak for " + dtype + " or fp32");
        return t * 1e12 * computeEfficiency;
    }

    public double bytesPerSecond() {
        return memoryBandwidthGbs * 1e9 * bandwidthEfficiency;
    }

    public double attentionBytesPerSecond() {
        return memoryBandwidthGbs * 1e9 * attentionBandwidthEfficiency;
    }

    /** A built-in profile by name, a YAML file, or {@code local-cpu} / {@code llamacpp-cpu} (measured now). */
    public static HardwareProfile load(String nameOrPath) {
        return load(nameOrPath, dev.puzzle.core.backend.Backend.cpu());
    }

    /** As {@link #load(String)}; {@code local-cpu} is measured with {@code backend}'s kernels and threads. */
    public static HardwareProfile load(String nameOrPath, dev.puzzle.core.backend.Backend backend) {
        String key = nameOrPath.toLowerCase(Locale.ROOT);
        if (key.equals(LOCAL_CPU)) return LocalCpu.measure(backend.kernels());
        if (key.equals(LLAMACPP_CPU)) { // llama.cpp's one thread: this machine's rates on one thread
            HardwareProfile one = LocalCpu.measure(dev.puzzle.core.backend.Backend.cpu("vector", 1).kernels());
            return new HardwareProfile(LLAMACPP_CPU + " (llama.cpp, 1 thread)", one.peakTflops(), one.memoryBandwidthGbs(), one.memoryGib(),
                    one.kernelOverheadUs(), 1, 1, 1);
        }
        if (BUILT_IN.contains(key)) {
            String res = "profiles/" + key + ".yaml";
            try (InputStream in = HardwareProfile.class.getResourceAsStream(res)) {
                if (in == null) throw new IllegalStateException("missing resource " + res);
                return parse(ConfigNode.parse("built-in profile " + key, in));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        Path p = Path.of(nameOrPath);
        if (!Files.exists(p)) throw new PuzzleException("hardware profile '" + nameOrPath + "': " + NOT_FOUND);
        return parse(ConfigNode.read(p));
    }

    private static final String NOT_FOUND = "neither a file nor a built-in profile (" + String.join(", ", BUILT_IN) + ", " + LOCAL_CPU + ", " + LLAMACPP_CPU + ")";

    /**
     * Checks a profile name or file without measuring anything ({@code local-cpu} is measured only when loaded):
     * null when it loads, else why not.
     */
    public static String problem(String nameOrPath) {
        String key = nameOrPath.toLowerCase(Locale.ROOT);
        if (key.equals(LOCAL_CPU) || key.equals(LLAMACPP_CPU) || BUILT_IN.contains(key)) return null;
        if (!Files.exists(Path.of(nameOrPath))) return NOT_FOUND;
        try {
            parse(ConfigNode.read(Path.of(nameOrPath)));
            return null;
        } catch (PuzzleException e) {
            return e.getMessage();
        }
    }

    public static HardwareProfile parse(ConfigNode c) {
        c.allowOnly("name", "peak_tflops", "memory_bandwidth_gbs", "memory_gib", "kernel_overhead_us", "efficiency");
        ConfigNode peaks = c.child("peak_tflops");
        if (peaks.isMissing()) throw c.error("peak_tflops", "(missing)", "required: dense peak TFLOP/s by dtype");
        peaks.allowOnly("fp32", "tf32", "bf16", "fp16", "fp8");
        Map<String, Double> p = new LinkedHashMap<>();
        for (String k : peaks.keys()) p.put(k, peaks.positive(k));
        ConfigNode eff = c.child("efficiency");
        double ce = 1, be = 1, abe = 1;
        if (!eff.isMissing()) {
            eff.allowOnly("compute", "bandwidth", "attention_bandwidth");
            ce = eff.number("compute", 1);
            be = eff.number("bandwidth", 1);
            abe = eff.number("attention_bandwidth", be);
            if (!(ce > 0 && ce <= 1)) throw eff.error("compute", ce, "must be in (0, 1]");
            if (!(be > 0 && be <= 1)) throw eff.error("bandwidth", be, "must be in (0, 1]");
            if (!(abe > 0 && abe <= 1)) throw eff.error("attention_bandwidth", abe, "must be in (0, 1]");
        }
        double overhead = c.number("kernel_overhead_us", 0);
        if (overhead < 0) throw c.error("kernel_overhead_us", overhead, "must be >= 0");
        return new HardwareProfile(c.string("name"), p, c.positive("memory_bandwidth_gbs"), c.positive("memory_gib"), overhead, ce, be, abe);
    }
}
