package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.puzzle.cli.CliTest.*;
import static org.junit.jupiter.api.Assertions.*;

/** eval over a stream longer than the context: consecutive context windows, each from its own first token. */
class EvalWindowsTest {
    /** Mean NLL of the stream in windows of {@code context}, computed here from the decoder's logits with a log-softmax in double. */
    static double windowedNll(Checkpoint ck, int[] toks, int context) {
        Decoder d = new Decoder(ck);
        int V = ck.config().vocabSize();
        double sum = 0;
        int n = 0;
        for (int start = 0; start + 1 < toks.length; start += context) {
            int len = Math.min(context, toks.length - start);
            float[] logits = d.forward(d.newState(len), toks, start, len, true);
            for (int t = 0; t + 1 < len; t++) {
                double max = Double.NEGATIVE_INFINITY, z = 0;
                for (int v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
                for (int v = 0; v < V; v++) z += Math.exp(logits[t * V + v] - max);
                sum += -(logits[t * V + toks[start + t + 1]] - max - Math.log(z));
                n++;
            }
        }
        return sum / n;
    }

    @Test
    void fourThousandTokensOfA512ContextModelAreEightWindows(@TempDir Path tmp) throws Exception {
        byte[] all = Files.readAllBytes(shared("models/tinystories-val-text/tinystories_val.txt"));
        Path text = tmp.resolve("text.txt");
        Files.write(text, Arrays.copyOf(all, 40_000));
        Run r = run("eval", bin(), "--tokenizer", tok(), "--text", text.toString(), "--max-tokens", "4096", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(4096, j.get("positions").asInt());
        assertEquals(8, j.get("windows").asInt());
        assertEquals(8 * 511, j.get("predicted").asInt(), "the first token of each window is context, not a prediction");
        Checkpoint ck = Checkpoints.load(Path.of(bin()));
        Tokenizer tk = BpeTokenizer.readLlama2c(Path.of(tok()), 512);
        int[] toks = Arrays.copyOf(tk.encode(new String(Arrays.copyOf(all, 8 * 4096 + 64), StandardCharsets.UTF_8), true, false), 4096);
        double want = windowedNll(ck, toks, 512);
        assertEquals(want, j.get("mean_nll").asDouble(), 1e-5);
        assertTrue(want < 2.5, "in-context NLL, not the 4.14 of positions past the context: " + want);
        // --context shortens the window: 4096 / 256 = 16 windows.
        Run s = run("eval", bin(), "--tokenizer", tok(), "--text", text.toString(), "--max-tokens", "4096", "--context", "256", "--json");
        JsonNode sj = new ObjectMapper().readTree(s.out());
        assertEquals(16, sj.get("windows").asInt());
        assertEquals(windowedNll(ck, toks, 256), sj.get("mean_nll").asDouble(), 1e-5);
        badInput(run("eval", bin(), "--tokenizer", tok(), "--text", text.toString(), "--context", "1024"), "--context 1024", "512");
        // The text line says how many windows.
        Run plain = run("eval", bin(), "--tokenizer", tok(), "--text", text.toString(), "--max-tokens", "1500");
        assertTrue(plain.out().contains("(1500 tokens in 3 windows of 512"), plain.out());
    }
}
