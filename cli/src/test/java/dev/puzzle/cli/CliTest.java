package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Drives the puzzle command in-process and reads what it prints. */
class CliTest {
    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cl = PuzzleCli.commandLine(args); // as main builds it: only the named subcommand registered
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    static Path shared(String rel) {
        Path p = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize().resolve(rel);
        Assumptions.assumeTrue(Files.exists(p), "skipped: reference file " + p + " is absent (../shared not laid out beside the repository)");
        return p;
    }

    static String bin() {
        return shared("models/stories260K/stories260K.bin").toString();
    }

    static String tok() {
        return shared("models/stories260K/tok512.bin").toString();
    }

    /** A bad-input run: exit code 3, one line on stderr naming what was wrong, no stack trace, nothing on stdout. */
    static String badInput(Run r, String... mustContain) {
        assertEquals(ExitCodes.INPUT, r.code(), r.err());
        String e = r.err().strip();
        assertFalse(e.contains("\n"), "one line expected: " + e);
        assertFalse(e.contains("Exception") || e.contains("\tat "), "no stack trace: " + e);
        assertTrue(e.startsWith("puzzle: "), e);
        for (String s : mustContain) assertTrue(e.contains(s), "'" + s + "' missing from: " + e);
        return e;
    }

    @Test
    void bareCommandPrintsUsage() {
        Run r = run();
        assertEquals(0, r.code());
        assertTrue(r.out().contains("Usage: puzzle"));
        for (String c : new String[]{"inspect", "convert", "generate", "eval"}) assertTrue(r.out().contains(c), c);
    }

    /** A mistyped command or option is named, with the nearest real one, in one line (exit 2). */
    @Test
    void unknownCommandsAndOptionsAreNamedWithASuggestion() {
        Run r = run("evl");
        assertEquals(ExitCodes.USAGE, r.code());
        assertEquals("puzzle: unknown command 'evl' (did you mean 'eval'?); see 'puzzle --help'", r.err().strip());
        r = run("eval", bin(), "--txt", "story.txt");
        assertEquals(ExitCodes.USAGE, r.code());
        assertEquals("puzzle: unknown option '--txt' (did you mean '--text'?); see 'puzzle eval --help'", r.err().strip(),
                "the unknown option, not the required --text it stands for");
        r = run("frobnicate");
        assertEquals("puzzle: unknown command 'frobnicate'; see 'puzzle --help'", r.err().strip(), "no suggestion when nothing is near");
        r = run("eval", bin());
        assertEquals(ExitCodes.USAGE, r.code());
        assertEquals("puzzle: Missing required argument (specify one of these): (--text=FILE | --task=FILE); see 'puzzle eval --help'", r.err().strip());
        r = run("eval", bin(), "--text", "a.txt", "--task", "t.jsonl");
        assertEquals(ExitCodes.USAGE, r.code());
        assertTrue(r.err().strip().startsWith("puzzle: --text=FILE, --task=FILE are mutually exclusive"), r.err());
    }

    /** A file named .bin that is no llama2.c checkpoint is called that, not a bad header field (exit 3). */
    @Test
    void aTextFileNamedBinIsNotALlama2cCheckpoint(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws IOException {
        java.nio.file.Path f = tmp.resolve("story.bin");
        java.nio.file.Files.writeString(f, "Once upon a time there was a little dog named Max. He liked to run.\n");
        Run r = run("inspect", f.toString());
        assertEquals(ExitCodes.INPUT, r.code());
        assertEquals("puzzle: " + f + ": not a llama2.c checkpoint (it reads as text); a model is a Hugging Face directory, a .safetensors file"
                + " beside its config.json, a llama2.c .bin or a .gguf", r.err().strip());
        java.nio.file.Files.write(f, new byte[]{1, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 0, 0});
        r = run("inspect", f.toString());
        assertEquals("puzzle: " + f + ": not a llama2.c checkpoint (its first 28 bytes are no llama2.c header: dim 1, hidden 7, layers 1, heads 3,"
                + " kv heads 1, vocab 9, seq 4); a model is a Hugging Face directory, a .safetensors file beside its config.json, a llama2.c .bin or a .gguf",
                r.err().strip(), "3 heads do not divide dim 1");
        java.nio.file.Files.writeString(f, "hi");
        assertEquals("puzzle: " + f + ": not a llama2.c checkpoint (2 bytes, shorter than its 28-byte header)", run("inspect", f.toString()).err().strip());
    }

    /** Help text is wrapped between words only: every footer line (the examples, pasted into shells) fits the width unwrapped. */
    @Test
    void helpIsNeverWrappedInsideAToken() {
        CommandLine cl = PuzzleCli.commandLine();
        int width = cl.getUsageHelpWidth();
        for (CommandLine sub : cl.getSubcommands().values()) {
            for (String line : sub.getCommandSpec().usageMessage().footer()) {
                assertTrue(line.length() <= width - 2, sub.getCommandName() + ": footer line of " + line.length() + " characters: " + line);
            }
            String help = sub.getUsageMessage();
            assertFalse(help.contains("--tokenizer ..\n/shared"), help);
        }
    }

    /**
     * main registers only the subcommand a run names: each name in PuzzleCli.COMMANDS is its class's own @Command name
     * (a drifted one would leave that command unreachable), --help still lists them all, in order, and an unknown or
     * mistyped command still gets its suggestion from the full list.
     */
    @Test
    void aRunBuildsOnlyTheCommandItNames() {
        CommandLine all = PuzzleCli.commandLine();
        assertEquals(List.copyOf(PuzzleCli.COMMANDS.keySet()), List.copyOf(all.getSubcommands().keySet()));
        for (String name : PuzzleCli.COMMANDS.keySet()) {
            CommandLine one = PuzzleCli.commandLine(new String[]{name, "--help"});
            java.util.Set<String> want = name.equals("help") ? PuzzleCli.COMMANDS.keySet() : java.util.Set.of(name);
            assertEquals(want, one.getSubcommands().keySet(), name);
        }
        assertEquals(PuzzleCli.COMMANDS.keySet(), PuzzleCli.commandLine(new String[]{"--version"}).getSubcommands().keySet());
        Run help = run("--help");
        int at = -1;
        for (String name : PuzzleCli.COMMANDS.keySet()) {
            if (name.equals("aot-train")) continue; // hidden
            int i = help.out().indexOf("\n  " + name + " ");
            assertTrue(i > at, name + " listed in order in:\n" + help.out());
            at = i;
        }
        Run typo = run("generat", "x");
        assertEquals(ExitCodes.USAGE, typo.code());
        assertTrue(typo.err().contains("unknown command 'generat' (did you mean 'generate'?)"), typo.err());
        Run sub = run("generate", "--help");
        assertEquals(0, sub.code());
        assertTrue(sub.out().contains("Usage: puzzle generate"), sub.out());
    }

    @Test
    void unknownOptionIsUsageError() {
        Run r = run("inspect", "--bogus", "x");
        assertEquals(ExitCodes.USAGE, r.code());
        assertTrue(r.err().contains("--bogus"));
    }

    @Test
    void inspectShowsBlocksAndCounts() throws IOException {
        Run r = run("inspect", bin(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(5, j.get("layers").asInt());
        assertEquals(64, j.get("dim").asInt());
        assertEquals(4, j.get("kv_heads").asInt());
        // embedding 512·64 + 5 layers × (2·64 norms + 64·64·2 q/o + 64·32·2 k/v + 3·172·64 FFN) + 64 final norm;
        // the file's other 4,096 floats are run.c's freq_cis tables, not parameters (28 + 4·(260,032 + 4,096) = 1,056,540 bytes).
        long expected = 512 * 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 64 * 32 + 3 * 172 * 64) + 64;
        assertEquals(260_032, expected);
        assertEquals(expected, j.get("parameters").asLong());
        assertEquals(expected * 4, j.get("bytes_by_dtype").get("F32").asLong());
        assertEquals("attn=gqa4 ffn=dense172", j.get("blocks").get(0).asText());
        Run t = run("inspect", shared("models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf").toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("untied embeddings") && t.out().contains("F16") && t.out().contains("32000 tokens (embedded)"), t.out());
    }

    @Test
    void generateGreedyReproducesRunC() throws IOException {
        Run r = run("generate", bin(), "--tokenizer", tok(), "--temperature", "0", "--steps", "200");
        assertEquals(0, r.code(), r.err());
        assertEquals(Files.readString(shared("models/stories260K/reference/greedy_t0_n200.stdout.txt")), r.out());
        assertTrue(r.err().matches("(?s)achieved tok/s: [0-9.]+ \\(after the first forward call.*whole run: [0-9.]+ tok/s \\(200 positions.*"), r.err());
        // One step is the first forward call alone: nothing after it to time, and the report says so (not the whole
        // run's rate under the after-the-first-call label)
        Run one = run("generate", bin(), "--tokenizer", tok(), "--temperature", "0", "--steps", "1");
        assertEquals(0, one.code(), one.err());
        assertTrue(one.err().contains("achieved tok/s: n/a (the run ended with its first forward call"), one.err());
        assertTrue(one.err().contains("(1 positions"), one.err());
    }

    @Test
    void generateSamplesReproduciblyBySeed() {
        Run a = run("generate", bin(), "--tokenizer", tok(), "--prompt", "Once upon a time", "--temperature", "0.8", "--steps", "60", "--seed", "7");
        Run b = run("generate", bin(), "--tokenizer", tok(), "--prompt", "Once upon a time", "--temperature", "0.8", "--steps", "60", "--seed", "7");
        Run c = run("generate", bin(), "--tokenizer", tok(), "--prompt", "Once upon a time", "--temperature", "0.8", "--steps", "60", "--seed", "8");
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().startsWith("Once upon a time"));
        assertEquals(a.out(), b.out());
        assertNotEquals(a.out(), c.out());
    }

    @Test
    void evalJsonMatchesRunCNll(@TempDir Path tmp) throws IOException {
        byte[] all = Files.readAllBytes(shared("models/tinystories-val-text/tinystories_val.txt"));
        Path text = tmp.resolve("first1500.txt");
        Files.write(text, Arrays.copyOf(all, 1500));
        Run r = run("eval", bin(), "--tokenizer", tok(), "--text", text.toString(), "--max-tokens", "512", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(1.311214, j.get("mean_nll").asDouble(), 1e-4);
        assertEquals(511, j.get("predicted").asInt());
        assertEquals(Math.exp(j.get("mean_nll").asDouble()), j.get("perplexity").asDouble(), 1e-9);
        assertTrue(r.err().contains("eval"), "progress on stderr");
        // The default N is the context length (512 for stories260K): the same 512 positions. Not bit-identical: the
        // Vector API's pre-JIT fallback sums lanes in another order than the compiled intrinsic.
        Run d = run("eval", bin(), "--tokenizer", tok(), "--text", text.toString(), "--json");
        JsonNode dj = new ObjectMapper().readTree(d.out());
        assertEquals(512, dj.get("positions").asInt());
        assertEquals(j.get("mean_nll").asDouble(), dj.get("mean_nll").asDouble(), 1e-6);
    }

    @Test
    void evalTaskScoresMultipleChoiceItems(@TempDir Path tmp) throws IOException {
        Path task = tmp.resolve("t.jsonl");
        // Two items whose gold is the story's own continuation against sentences of another world.
        Files.writeString(task, """
                {"context": "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.", "choices": ["The stock market closed lower on Tuesday amid concerns.", "One day, she saw a big, red ball in the park."], "gold": 1}
                {"context": "Tom had a dog named Max. Max liked to run and jump.", "choices": ["Tom and Max played in the park all day.", "Quarterly earnings exceeded analyst expectations by four percent."], "gold": 0}
                """);
        Run r = run("eval", bin(), "--tokenizer", tok(), "--task", task.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(2, j.get("items").asInt());
        assertEquals(1.0, j.get("accuracy_norm").asDouble(), "a TinyStories model knows stories from stock reports");
        Files.writeString(task, "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"gold\": 5}\n");
        r = run("eval", bin(), "--tokenizer", tok(), "--task", task.toString());
        assertEquals(task + ":1: field 'gold' = 5: must be the index of a choice, 0 to 1", r.err().strip().replaceFirst("^puzzle: ", ""));
        assertNotEquals(0, r.code());
    }

    @Test
    void convertToHfKeepsLogitsAndRunsEverywhere(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("hf");
        Run c = run("convert", bin(), "--tokenizer", tok(), "--to", "hf", out.toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(Files.exists(out.resolve("config.json")) && Files.exists(out.resolve("model.safetensors")) && Files.exists(out.resolve("tokenizer.bin")));
        assertTrue(Files.exists(out.resolve("tokenizer.json")) && Files.exists(out.resolve("tokenizer_config.json")), "stock HF code finds a tokenizer too");
        // The converted directory carries its tokenizer: generate needs no --tokenizer.
        Run g = run("generate", out.toString(), "--temperature", "0", "--steps", "200");
        assertEquals(0, g.code(), g.err());
        assertEquals(Files.readString(shared("models/stories260K/reference/greedy_t0_n200.stdout.txt")), g.out());
        // Refuses to overwrite, names the directory.
        badInput(run("convert", bin(), "--to", "hf", out.toString()), out.toString(), "--force");
        Run gg = run("convert", shared("models/stories260K/stories260K.gguf").toString(), "--to", "hf", tmp.resolve("fromgguf").toString(), "--dtype", "bf16");
        assertEquals(0, gg.code(), gg.err());
        Run i = run("inspect", tmp.resolve("fromgguf").toString(), "--json");
        assertTrue(new ObjectMapper().readTree(i.out()).get("bytes_by_dtype").has("BF16"), i.out());
    }

    @Test
    void hfReferenceResolvesThroughMirror(@TempDir Path tmp) {
        Path mirror = shared("models");
        Run r = run("generate", "hf:karpathy/tinyllamas/stories260K/stories260K.bin", "--tokenizer", "hf:karpathy/tinyllamas/stories260K/tok512.bin",
                "--mirror", mirror.toString(), "--temperature", "0", "--steps", "20", "--prompt", "Once upon a time");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Once upon a time, there was a little girl"), r.out());
        Run missing = run("inspect", "hf:nobody/nothing/model.bin", "--mirror", tmp.toString());
        assertNotEquals(0, missing.code());
        assertTrue(missing.err().contains("hf:nobody/nothing/model.bin"), missing.err());
    }

    // --- bad input: one clear message and a non-zero exit code ---

    static Path hfDirWithHeader(Path dir, String header, int dataBytes, Long lengthOverride) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"num_hidden_layers\":1,"
                + "\"num_attention_heads\":2,\"intermediate_size\":16,\"vocab_size\":10,\"max_position_embeddings\":32}");
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer bb = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(lengthOverride != null ? lengthOverride : h.length).put(h);
        Files.write(dir.resolve("model.safetensors"), bb.array());
        return dir;
    }

    static final String EMB = "{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[10,8],\"data_offsets\":[0,320]}}";

    @Test
    void truncatedSafetensors(@TempDir Path tmp) throws IOException {
        Path d = hfDirWithHeader(tmp.resolve("t"), EMB, 100, null);
        badInput(run("inspect", d.toString()), "model.safetensors", "model.embed_tokens.weight.data_offsets", "[0, 320]");
        Path tiny = tmp.resolve("tiny");
        hfDirWithHeader(tiny, EMB, 0, null);
        Files.write(tiny.resolve("model.safetensors"), new byte[]{1, 2, 3});
        badInput(run("inspect", tiny.toString()), "too short");
    }

    @Test
    void headerLengthBeyondFile(@TempDir Path tmp) throws IOException {
        Path d = hfDirWithHeader(tmp.resolve("h"), EMB, 320, (long) EMB.length() + 5000);
        badInput(run("inspect", d.toString()), "header length", String.valueOf(EMB.length() + 5000), "runs past the end");
    }

    @Test
    void offsetsOutOfRange(@TempDir Path tmp) throws IOException {
        Path d = hfDirWithHeader(tmp.resolve("o"), EMB.replace("[0,320]", "[320,640]"), 320, null);
        badInput(run("inspect", d.toString()), "data_offsets", "[320, 640]", "outside the data section");
    }

    @Test
    void dtypeShapeMismatch(@TempDir Path tmp) throws IOException {
        Path d = hfDirWithHeader(tmp.resolve("m"), EMB.replace("F32", "F16"), 320, null);
        badInput(run("inspect", d.toString()), "model.embed_tokens.weight", "F16 [10, 8]", "needs 160 bytes");
        Path s = hfDirWithHeader(tmp.resolve("s"), EMB, 320, null);
        // A well-formed file whose tensor does not have the shape the config implies: named when the model is built.
        badInput(run("eval", s.toString(), "--text", s.resolve("config.json").toString(), "--tokenizer", tok()), "tokenizer has 512 tokens", "vocabulary is 10");
    }

    @Test
    void unknownArchitecture(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("config.json"), "{\"architectures\":[\"GPT2LMHeadModel\"]}");
        badInput(run("inspect", tmp.toString()), "config.json", "architectures", "GPT2LMHeadModel", "unsupported architecture");
        Path g = tmp.resolve("x.gguf");
        byte[] gg = Files.readAllBytes(shared("models/stories260K/stories260K.gguf"));
        String s = new String(gg, StandardCharsets.ISO_8859_1).replace("\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000llama", "\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000gpt2x");
        Files.write(g, s.getBytes(StandardCharsets.ISO_8859_1));
        badInput(run("inspect", g.toString()), "general.architecture", "gpt2x");
    }

    @Test
    void missingTokenizer(@TempDir Path tmp) throws IOException {
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "Once upon a time there was a cat.");
        badInput(run("eval", bin(), "--text", text.toString()), "carries no tokenizer", "--tokenizer");
        badInput(run("generate", bin(), "--tokenizer", tmp.resolve("nope.bin").toString()), "nope.bin", "no such file");
        badInput(run("eval", bin(), "--tokenizer", tok(), "--text", tmp.resolve("missing.txt").toString()), "missing.txt");
        badInput(run("inspect", tmp.resolve("nothing-here.bin").toString()), "nothing-here.bin", "no such file");
    }

    /** The header position of a GGUF tensor's type field, found after its name (n_dims, then n_dims u64 dims). */
    static int typeFieldOf(byte[] gguf, String tensor, int dims) {
        byte[] name = tensor.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i + name.length < gguf.length; i++) {
            if (Arrays.equals(gguf, i, i + name.length, name, 0, name.length)) return i + name.length + 4 + 8 * dims;
        }
        throw new AssertionError(tensor + " not in the header");
    }

    /**
     * Quantized input that is wrong: an unknown precision name, a GGUF whose quantized tensor needs more bytes
     * than lie before the next tensor (its type changed), a NaN scale in a Q8_0 block, a safetensors U8 tensor
     * naming an unknown quantized dtype — one line naming the tensor or key, exit 3, nothing written.
     */
    @Test
    void badQuantizedInputIsRefusedNamingTheTensor(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("never.gguf");
        badInput(run("convert", bin(), "--tokenizer", tok(), "--to", "gguf", out.toString(), "--dtype", "q5_k"), "--dtype", "q5_k", "q8_0");
        assertFalse(Files.exists(out));
        badInput(run("convert", bin(), "--tokenizer", tok(), "--to", "gguf", out.toString(), "--embedding-dtype", "bf16"), "--embedding-dtype", "bf16", "quantized");
        badInput(run("convert", bin(), "--tokenizer", tok(), "--to", "gguf", out.toString(), "--embedding-dtype", "nvfp4"), "token_embd", "nvfp4");
        assertFalse(Files.exists(out));
        Path q8 = tmp.resolve("q8.gguf");
        assertEquals(0, run("convert", bin(), "--tokenizer", tok(), "--to", "gguf", q8.toString(), "--dtype", "q8_0").code());
        byte[] good = Files.readAllBytes(q8);

        byte[] wrongType = good.clone();
        int at = typeFieldOf(wrongType, "blk.0.attn_q.weight", 2);
        assertEquals(8, ByteBuffer.wrap(wrongType, at, 4).order(ByteOrder.LITTLE_ENDIAN).getInt(), "Q8_0's ggml type");
        ByteBuffer.wrap(wrongType, at, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(0); // now F32: 4x the bytes
        Path bad = tmp.resolve("size.gguf");
        Files.write(bad, wrongType);
        badInput(run("convert", bad.toString(), "--to", "hf", tmp.resolve("o1").toString()), "size.gguf", "blk.0.attn_q.weight", "needs", "bytes");
        assertFalse(Files.exists(tmp.resolve("o1")));

        byte[] nan = good.clone();
        try (var ch = java.nio.channels.FileChannel.open(q8)) {
            dev.puzzle.core.io.Gguf.Header h = dev.puzzle.core.io.Gguf.readHeader(q8, ch);
            var t = h.tensors().stream().filter(x -> x.name().equals("blk.1.ffn_up.weight")).findFirst().orElseThrow();
            int pos = (int) (h.dataStart() + t.offset() + 34 * 3); // the fourth block's FP16 scale: rows of 64 are two blocks, so row 1, block 1
            nan[pos] = 0x00;
            nan[pos + 1] = 0x7e;
        }
        Path nanFile = tmp.resolve("nan.gguf");
        Files.write(nanFile, nan);
        badInput(run("generate", nanFile.toString(), "--steps", "4"), "nan.gguf", "blk.1.ffn_up.weight", "row 1", "block 1", "NaN");

        Path hf = tmp.resolve("hf");
        assertEquals(0, run("convert", q8.toString(), "--to", "hf", hf.toString()).code());
        Path st = hf.resolve("model.safetensors");
        byte[] sb = Files.readAllBytes(st);
        String header = new String(sb, 8, (int) ByteBuffer.wrap(sb, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong(), StandardCharsets.UTF_8);
        assertTrue(header.contains("\"puzzle.dtype.model.layers.0.self_attn.q_proj.weight\":\"q8_0\""), header.substring(0, 300));
        String renamed = header.replace("\"puzzle.dtype.model.layers.0.self_attn.q_proj.weight\":\"q8_0\"", "\"puzzle.dtype.model.layers.0.self_attn.q_proj.weight\":\"q9_9\"");
        System.arraycopy(renamed.getBytes(StandardCharsets.UTF_8), 0, sb, 8, renamed.length());
        Files.write(st, sb);
        badInput(run("inspect", hf.toString()), "model.safetensors", "puzzle.dtype.model.layers.0.self_attn.q_proj.weight", "q9_9");
    }

    @Test
    void badNumbersAreRejected() {
        badInput(run("generate", bin(), "--tokenizer", tok(), "--steps", "0"), "--steps", "0");
        badInput(run("generate", bin(), "--tokenizer", tok(), "--temperature", "-1"), "--temperature", "-1");
        badInput(run("generate", bin(), "--tokenizer", tok(), "--threads", "0"), "--threads", "0");
        badInput(run("convert", bin(), "--to", "onnx", "/tmp/x"), "onnx");
    }

    @Test
    void aotTrainingRunSucceedsQuietlyHiddenAndCleansUp() throws Exception {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        java.util.function.Supplier<Long> left = () -> {
            try (var s = Files.list(tmp)) {
                return s.filter(p -> p.getFileName().toString().startsWith("puzzle-aot-train")).count();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        long before = left.get();
        Run r = run("aot-train");
        assertEquals(ExitCodes.OK, r.code(), r.err());
        assertEquals("", r.out());
        assertEquals("", r.err());
        assertEquals(before, left.get(), "the training run removes its temporary model");
        assertFalse(run("--help").out().contains("aot-train"), "internal command is hidden from --help");
    }
}
