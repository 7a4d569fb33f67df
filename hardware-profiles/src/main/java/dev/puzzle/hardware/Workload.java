package dev.puzzle.hardware;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.config.ConfigNode;

import java.util.Locale;

/**
 * The serving scenario costs are measured for: {@code batch} sequences, each a prompt of
 * {@code prefillLength} tokens followed by {@code generationLength} generated ones, weights stored in
 * {@code weightDtype} and the KV cache in {@code kvDtype} (fp32, bf16, fp16 or fp8).
 */
public record Workload(int batch, int prefillLength, int generationLength, String weightDtype, String kvDtype) {
    public Workload {
        if (batch < 1) throw new PuzzleException("workload batch must be >= 1, got " + batch);
        if (prefillLength < 0 || generationLength < 0 || prefillLength + generationLength < 1) {
            throw new PuzzleException("workload needs prefill_length + generation_length >= 1, got " + prefillLength + " + " + generationLength);
        }
        bytes(weightDtype);
        bytes(kvDtype);
    }

    /** Bytes per element of a dtype name. */
    public static int bytes(String dtype) {
        return switch (dtype.toLowerCase(Locale.ROOT)) {
            case "fp32", "f32", "float32" -> 4;
            case "bf16", "fp16", "f16", "bfloat16", "float16" -> 2;
            case "fp8", "f8" -> 1;
            default -> throw new PuzzleException("unknown dtype '" + dtype + "' (fp32, bf16, fp16, fp8)");
        };
    }

    public int weightBytes() {
        return bytes(weightDtype);
    }

    public int kvBytes() {
        return bytes(kvDtype);
    }

    public int sequenceLength() {
        return prefillLength + generationLength;
    }

    public static Workload parse(ConfigNode c) {
        c.allowOnly("batch", "prefill_length", "generation_length", "weight_dtype", "kv_dtype", "requests"); // requests: the report's, not a cost
        String wd = c.string("weight_dtype", "bf16"), kd = c.string("kv_dtype", wd);
        try {
            bytes(wd);
        } catch (PuzzleException e) {
            throw c.error("weight_dtype", wd, "unknown dtype (fp32, bf16, fp16, fp8)");
        }
        try {
            bytes(kd);
        } catch (PuzzleException e) {
            throw c.error("kv_dtype", kd, "unknown dtype (fp32, bf16, fp16, fp8)");
        }
        return new Workload(c.integer("batch", 1, 1), c.integer("prefill_length", 0, 0), c.integer("generation_length", 0, 0), wd, kd);
    }
}
