package dev.puzzle.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.eval.Generator;
import dev.puzzle.core.eval.Sampler;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A child's decode speed in real llama.cpp — the runtime it is deployed on — beside this toolkit's, on this machine:
 * llama.cpp through node-llama-cpp (installed by the user with {@code npm i -E node-llama-cpp@3.21.1 --prefix DIR},
 * {@code compress.llama_cpp.dir}) decodes the child's GGUF, and this toolkit the same child, one thread each, greedy
 * from BOS for the same number of positions, each timed from its first evaluation to its last token; the rate is
 * positions / seconds on both sides.
 */
public final class LlamaCppSpeed {
    private LlamaCppSpeed() {}

    /** Positions decoded per second by llama.cpp and by this toolkit, and node-llama-cpp's version. */
    public record Result(double llamaCppTokensPerS, double puzzleTokensPerS, int positions, String version) {}

    public static Result measure(Path dir, Path gguf, Checkpoint child, Tokenizer tok, int steps) throws IOException {
        Path script = Files.createTempFile("puzzle-llamacpp-decode", ".mjs");
        try {
            try (InputStream in = LlamaCppSpeed.class.getResourceAsStream("llamacpp_decode.mjs")) {
                Files.write(script, in.readAllBytes());
            }
            Process p = new ProcessBuilder("node", script.toString(), dir.toAbsolutePath().toString(), gguf.toAbsolutePath().toString(),
                    String.valueOf(steps), "1").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new PuzzleException(gguf + ": llama.cpp (node-llama-cpp under " + dir + ") did not run it: " + out.strip().lines().reduce((a, b) -> b).orElse("no output"));
            }
            JsonNode j = new ObjectMapper().readTree(out.strip().lines().reduce((a, b) -> b).orElseThrow());
            double llama = j.get("positions").asDouble() / j.get("seconds").asDouble();
            Decoder d = new Decoder(child, Backend.cpu("vector", 1));
            Sampler greedy = new Sampler(d.backend(), 0f, 1f, 0);
            Generator.generate(d, tok, "", steps, greedy, OutputStream.nullOutputStream()); // warms the JIT, as llama.cpp needs none
            Generator.Stats s = Generator.generate(d, tok, "", steps, greedy, OutputStream.nullOutputStream());
            return new Result(llama, s.tokens() / s.seconds(), j.get("positions").asInt(), j.path("version").asText());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PuzzleException("interrupted while llama.cpp ran " + gguf);
        } finally {
            Files.deleteIfExists(script);
        }
    }
}
