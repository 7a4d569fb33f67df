package dev.puzzle.hardware;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.Throughput;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real llama.cpp — node-llama-cpp installed by the user under an npm prefix ({@code npm i -E node-llama-cpp@3.21.1
 * --prefix DIR}), its prebuilt CPU binaries — timing GGUF models: one node process kept for all of them (its start and
 * llama.cpp's initialization paid once), each model one sequence of a serving workload — the prompt evaluated as one
 * batch, then tokens generated one at a time, greedy — on {@code threads} threads, after an untimed repeat; node is
 * pinned to as many cores where it can be ({@link #pinnedCpus}).
 */
public final class LlamaCpp implements AutoCloseable {
    /** node-llama-cpp's version the toolkit is checked against. */
    public static final String VERSION = "3.21.1";

    private final Path dir;
    private final int threads;
    private Process process;
    private Writer in;
    private BufferedReader out;
    private Path script;
    private final Deque<String> lastLines = new ArrayDeque<>();
    private final ObjectMapper json = new ObjectMapper();

    /** One model's timed repeats: milliseconds of the prompt and of the generated tokens, each repeat. */
    public record Times(double[] prefillMs, double[] decodeMs) {
        /** Each repeat's whole sequence, prefill + decode, ms. */
        public double[] sequenceMs() {
            double[] s = new double[prefillMs.length];
            for (int i = 0; i < s.length; i++) s[i] = prefillMs[i] + decodeMs[i];
            return s;
        }

        public Throughput.Stat prefill() {
            return Throughput.Stat.of(prefillMs);
        }

        public Throughput.Stat decode() {
            return Throughput.Stat.of(decodeMs);
        }

        public Throughput.Stat sequence() {
            return Throughput.Stat.of(sequenceMs());
        }
    }

    public LlamaCpp(Path dir, int threads) {
        String problem = problem(dir);
        if (problem != null) throw new PuzzleException(problem);
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.dir = dir.toAbsolutePath();
        this.threads = threads;
    }

    /** Why {@code dir} cannot serve (no node-llama-cpp under it, or no node on the PATH), or null when it can. */
    public static String problem(Path dir) {
        if (!Files.isRegularFile(dir.resolve("node_modules/node-llama-cpp/package.json"))) {
            return "no node-llama-cpp under " + dir + " (install it: npm i -E node-llama-cpp@" + VERSION + " --prefix " + dir + ")";
        }
        try {
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (p.waitFor() != 0) return "'node --version' failed";
        } catch (IOException e) {
            return "node is not on the PATH (Debian: apt-get install nodejs)";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while checking node";
        }
        return null;
    }

    /**
     * Times {@code gguf}: {@code reps} repeats (after one untimed) of a {@code prefill}-token prompt — ids below
     * {@code vocab}, the same for every model — and {@code generate} tokens decoded one at a time.
     */
    public synchronized Times time(Path gguf, int prefill, int generate, int reps, int vocab) throws IOException {
        if (reps < 1 || prefill < 0 || generate < 0 || prefill + generate < 1 || vocab < 2) {
            throw new IllegalArgumentException("time needs reps >= 1, prefill + generate >= 1 and vocab >= 2, got " + reps + ", " + prefill + " + " + generate + ", " + vocab);
        }
        start();
        ObjectNode req = json.createObjectNode().put("model", gguf.toAbsolutePath().toString()).put("prefill", prefill).put("generate", generate)
                .put("reps", reps).put("vocab", vocab);
        in.write(req.toString() + "\n");
        in.flush();
        String line = nextJson();
        JsonNode j = json.readTree(line);
        if (j.has("error")) throw new PuzzleException(gguf + ": llama.cpp (node-llama-cpp under " + dir + ") did not run it: " + j.get("error").asText());
        return new Times(doubles(j.get("prefill_ms")), doubles(j.get("decode_ms")));
    }

    private static double[] doubles(JsonNode a) {
        double[] v = new double[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).asDouble();
        return v;
    }

    /** The next JSON line node writes (node-llama-cpp may print other lines first). */
    private String nextJson() throws IOException {
        while (true) {
            String l = out.readLine();
            if (l == null) {
                String tail = String.join(" | ", lastLines);
                close();
                throw new PuzzleException("llama.cpp (node-llama-cpp under " + dir + ") stopped: " + (tail.isEmpty() ? "no output" : tail));
            }
            if (lastLines.size() == 5) lastLines.removeFirst();
            lastLines.addLast(l);
            if (l.startsWith("{")) return l;
        }
    }

    private void start() throws IOException {
        if (process != null && process.isAlive()) return;
        script = Files.createTempFile("puzzle-llamacpp-time", ".mjs");
        try (InputStream s = LlamaCpp.class.getResourceAsStream("llamacpp_time.mjs")) {
            Files.write(script, s.readAllBytes());
        }
        List<String> cmd = new ArrayList<>(List.of("node", script.toString(), dir.toString(), String.valueOf(threads)));
        String cpus = pinnedCpus(threads);
        if (cpus != null) cmd.addAll(0, List.of("taskset", "-c", cpus));
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        in = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /**
     * The cores node is pinned to — the last {@code threads} of this process's — or null where it cannot be pinned
     * (no {@code taskset}, too few cores). Pinned, node's own thread and llama.cpp's hand each token over on one core;
     * unpinned, every token waits on a wake-up across cores, which on the virtual machines measured here made the same
     * model's decode time wander by a third between repeats (and is not what llama.cpp's own command-line tools pay).
     */
    static String pinnedCpus(int threads) {
        int n = Runtime.getRuntime().availableProcessors();
        if (n <= threads) return null;
        String cpus = (n - threads) + "-" + (n - 1);
        try {
            Process p = new ProcessBuilder("taskset", "-c", cpus, "true").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0 ? cpus : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    @Override
    public synchronized void close() {
        if (process != null) {
            try {
                in.close();
                if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
            } catch (IOException e) {
                process.destroyForcibly();
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
            process = null;
        }
        if (script != null) {
            try {
                Files.deleteIfExists(script);
            } catch (IOException ignored) {
                // a temporary file: the OS cleans it
            }
            script = null;
        }
    }
}
