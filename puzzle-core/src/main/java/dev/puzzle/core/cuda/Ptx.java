package dev.puzzle.core.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernels' PTX (made from src/main/cuda/kernels.cu by make_ptx.sh, on the classpath) and each kernel's
 * parameter list, against which every launch's arguments are checked — count and width — before they reach a
 * device, where a wrong one would be read as garbage.
 */
public final class Ptx {
    private Ptx() {}

    /** Where the PTX lives on the classpath. */
    static final String RESOURCE = "/dev/puzzle/core/cuda/kernels.ptx";
    private static final Map<String, List<String>> SIGNATURES = signatures(new String(image(), StandardCharsets.US_ASCII));

    /** The PTX image, NUL-terminated as the driver reads it. */
    public static byte[] image() {
        try (InputStream in = Ptx.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException(RESOURCE + " is missing from the classpath (run puzzle-core/src/main/cuda/make_ptx.sh)");
            byte[] b = in.readAllBytes();
            return java.util.Arrays.copyOf(b, b.length + 1);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The kernels of a PTX image: name → parameter types in order ({@code u64}, {@code u32}, {@code f32}, ...). */
    static Map<String, List<String>> signatures(String ptx) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        Matcher entry = Pattern.compile("\\.visible\\s+\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)").matcher(ptx);
        while (entry.find()) {
            List<String> types = new ArrayList<>();
            Matcher param = Pattern.compile("\\.param\\s+\\.(\\w+)").matcher(entry.group(2));
            while (param.find()) types.add(param.group(1));
            out.put(entry.group(1), types);
        }
        return out;
    }

    /**
     * Checks a launch's arguments against the kernel's PTX parameters — count and width of each — and returns them
     * as the 64-bit values a launch passes: an address (null: 0), a long, an int, or a float's bit pattern in the
     * low 32 bits (the 32-bit ones are passed as their low halves).
     */
    public static long[] check(String kernel, Object[] args) {
        List<String> types = SIGNATURES.get(kernel);
        if (types == null) throw new IllegalArgumentException("no kernel '" + kernel + "' in " + RESOURCE);
        if (types.size() != args.length) {
            throw new IllegalArgumentException("kernel " + kernel + " takes " + types.size() + " arguments " + types + ", given " + args.length);
        }
        long[] values = new long[args.length];
        for (int i = 0; i < args.length; i++) {
            String t = types.get(i);
            boolean ok = switch (args[i]) {
                case null -> t.endsWith("64") && !t.startsWith("f");
                case DeviceArray d -> {
                    values[i] = d.address();
                    yield t.endsWith("64") && !t.startsWith("f");
                }
                case Long v -> {
                    values[i] = v;
                    yield t.endsWith("64") && !t.startsWith("f");
                }
                case Integer v -> {
                    values[i] = v;
                    yield t.endsWith("32") && !t.startsWith("f");
                }
                case Float v -> {
                    values[i] = Float.floatToRawIntBits(v) & 0xffffffffL;
                    yield t.equals("f32");
                }
                default -> false;
            };
            if (!ok) throw new IllegalArgumentException("kernel " + kernel + " argument " + i + " is ." + t + ", given " + args[i].getClass().getSimpleName());
        }
        return values;
    }
}
