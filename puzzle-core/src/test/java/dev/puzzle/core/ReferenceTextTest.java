package dev.puzzle.core;

import dev.puzzle.core.eval.Generator;
import dev.puzzle.core.eval.Perplexity;
import dev.puzzle.core.eval.Sampler;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** Greedy text, teacher-forced NLL and token ids against llama2.c's own outputs on stories260K. */
class ReferenceTextTest {

    static BpeTokenizer tok512() {
        return BpeTokenizer.readLlama2c(Shared.require("models/stories260K/tok512.bin"), 512);
    }

    @Test
    void encodesLikeRunC() {
        assertArrayEquals(new int[]{1, 403, 407, 261, 378}, tok512().encode("Once upon a time", true, false));
        assertArrayEquals(new int[]{1}, tok512().encode("", true, false));
    }

    @Test
    void ggufVocabularyEncodesTheSame() {
        var gguf = Checkpoints.load(Shared.require("models/stories260K/stories260K.gguf")).tokenizer();
        String text = "Once upon a time, Lily's mom said \"hi\" — café ☃\n";
        assertArrayEquals(tok512().encode(text, true, false), gguf.encode(text, true, false));
    }

    @Test
    void greedyGenerationReproducesRunC() throws IOException {
        byte[] expected = Files.readAllBytes(Shared.require("models/stories260K/reference/greedy_t0_n200.stdout.txt"));
        Decoder d = new Decoder(Checkpoints.load(Shared.require("models/stories260K/stories260K.bin")));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Generator.generate(d, tok512(), "", 200, new Sampler(d.backend(), 0f, 0.9f, 42), out);
        assertEquals(new String(expected, StandardCharsets.UTF_8), out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void promptIsEchoedAndPrefilled() throws IOException {
        Decoder d = new Decoder(Checkpoints.load(Shared.require("models/stories260K/stories260K.bin")));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Generator.generate(d, tok512(), "Once upon a time", 40, new Sampler(d.backend(), 0f, 0.9f, 42), out);
        String text = out.toString(StandardCharsets.UTF_8);
        // run.c's greedy continuation of this prompt is the start of the reference text.
        String ref = Files.readString(Shared.require("models/stories260K/reference/greedy_t0_n200.stdout.txt"));
        assertTrue(text.startsWith("Once upon a time"), text);
        assertEquals(ref.substring(0, text.length() - 1), text.substring(0, text.length() - 1));
    }

    @Test
    void teacherForcedNllMatchesRunC() throws IOException {
        byte[] all = Files.readAllBytes(Shared.require("models/tinystories-val-text/tinystories_val.txt"));
        String text = new String(Arrays.copyOf(all, 1500), StandardCharsets.UTF_8);
        int[] toks = tok512().encode(text, true, false);
        assertEquals(774, toks.length);
        Decoder d = new Decoder(Checkpoints.load(Shared.require("models/stories260K/stories260K.bin")));
        Perplexity.Result r = Perplexity.evaluate(d, Arrays.copyOf(toks, 512), 128, null);
        assertEquals(511, r.predicted());
        assertEquals(1.311214, r.meanNll(), 1e-4);
        assertEquals(3.7107, r.perplexity(), 1e-3);
    }
}
