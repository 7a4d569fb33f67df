package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.bld.Scorer;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.puzzle.cli.CliTest.*;
import static dev.puzzle.core.io.TensorNames.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * puzzle qad on stories260K quantized whole to Q4_0: QAD lowers KL(parent ‖ child) on held-out text, the
 * written child is Q4_0 again and reloads to the KL qad.json reports; a learning rate that makes it worse
 * keeps the child as it was, byte for byte; a child without quantized weights is refused.
 */
class QadTest {
    static String text() {
        return shared("models/tinystories-val-text/tinystories_val.txt").toString();
    }

    static double klOf(Path child, JsonNode j) {
        Checkpoint parent = Checkpoints.load(Path.of(bin())), c = Checkpoints.load(child);
        int T = j.get("seq_len").asInt(), S = j.get("heldout_sequences").asInt();
        int[][] held = TokenData.sequences(Path.of(text()), c.tokenizer(), 400_000, S, T);
        Backend b = Backend.cpu();
        return Scorer.metrics(b, Scorer.run(b, parent, held), Scorer.run(b, c, held), held, c.config().vocabSize(), c.config().dim()).get(LibraryKeys.KL_DIV);
    }

    @Test
    void qadLowersTheKlOfAQ4ChildAndKeepsItOnlyWhenItDoes(@TempDir Path tmp) throws Exception {
        Path q4 = tmp.resolve("q4");
        assertEquals(0, run("convert", bin(), "--tokenizer", tok(), "--to", "hf", "--dtype", "q4_0", q4.toString()).code());
        Path out = tmp.resolve("q4-qad");
        Run r = run("qad", q4.toString(), "--parent", bin(), "--text", text(), out.toString(), "--tokens", "16384", "--seq-len", "64", "--threads", "2");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(out.resolve("qad.json").toFile());
        double before = j.get("kl_before").asDouble(), after = j.get("kl_after").asDouble();
        assertTrue(after < 0.8 * before, "QAD lowers the KL: " + before + " -> " + after);
        assertEquals("qad", j.get("kept").asText());
        assertEquals(30, j.get("quantized_matrices").asInt(), "5 layers x (q, k, v, o, gate, up): the down projections' rows of 172 stay F32");
        Checkpoint c = Checkpoints.load(out);
        assertEquals(DType.Q4_0, c.tensors().get(layer(2, GATE)).dtype(), "re-quantized to the child's own dtype");
        // Within 1e-3 relative, not to the last digit: the inputs rounded to Q8_0 make the forward discontinuous, and
        // the Vector API sums a vector's lanes in another order once the JIT has compiled it (this JVM ran the command).
        assertEquals(after, klOf(out, j), 1e-3 * after, "the written child reloads to the reported KL");
        assertEquals(before, klOf(q4, j), 1e-3 * before, "and the child before QAD to its KL");
        assertFalse(Files.exists(tmp.resolve(".q4-qad.qad-checkpoint.safetensors")), "the resume checkpoint is gone after success");

        Path worse = tmp.resolve("q4-worse");
        Run w = run("qad", q4.toString(), "--parent", bin(), "--text", text(), worse.toString(), "--tokens", "4096", "--seq-len", "64", "--lr", "0.5", "--threads", "2");
        assertEquals(0, w.code(), w.err());
        JsonNode wj = new ObjectMapper().readTree(worse.resolve("qad.json").toFile());
        assertTrue(wj.get("kl_after").asDouble() > wj.get("kl_before").asDouble(), wj.toString());
        assertEquals("pre-qad", wj.get("kept").asText());
        assertArrayEquals(Files.readAllBytes(q4.resolve("model.safetensors")), Files.readAllBytes(worse.resolve("model.safetensors")), "the child as it was");

        badInput(run("qad", bin(), "--tokenizer", tok(), "--parent", bin(), "--text", text(), tmp.resolve("none").toString()), "no quantized weights", "convert --dtype");
        assertFalse(Files.exists(tmp.resolve("none")));
    }
}
