package dev.puzzle.core.eval;

import dev.puzzle.core.GoldenLogitsTest;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.Shared;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Multiple-choice scoring: log-likelihoods against llama2.c run.c's logits, the task reader's messages, the next-sentence task. */
class MultipleChoiceTest {
    @Test
    void aContinuationsLogLikelihoodIsRunCsLogSoftmaxSummedOverItsTokens() throws Exception {
        GoldenLogitsTest.Golden g = GoldenLogitsTest.golden();
        Checkpoint ck = Checkpoints.load(Shared.require("models/stories260K/stories260K.bin"));
        Decoder d = new Decoder(ck, Backend.cpu());
        int[] context = Arrays.copyOf(g.tokens(), 5), full = Arrays.copyOf(g.tokens(), 40); // "Once upon a time" and 35 tokens after it
        double ref = 0;
        for (int pos = 5; pos < 40; pos++) { // run.c's logits at pos - 1 predict the token at pos; log-softmax in double, here
            float[] l = g.logits()[pos - 1];
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (float v : l) max = Math.max(max, v);
            for (float v : l) z += Math.exp(v - max);
            ref += l[g.tokens()[pos]] - max - Math.log(z);
        }
        double ll = MultipleChoice.logLikelihood(d, new Losses(Backend.cpu().kernels()), context, full);
        assertEquals(ref, ll, 1e-3, "35 tokens' log-probabilities");
        assertTrue(ref < -1, "a real continuation has a real cost: " + ref);
    }

    /**
     * The log-likelihood takes the classifier on the continuation's positions only (at least 5): bit for bit the sum over
     * all positions' logits, for contexts and continuations long and short (a sequence of 4 rows or fewer, one of exactly 5).
     */
    @Test
    void theContinuationsLogitsAloneGiveTheSameLogLikelihoodBitForBit() throws Exception {
        GoldenLogitsTest.Golden g = GoldenLogitsTest.golden();
        Checkpoint ck = Checkpoints.load(Shared.require("models/stories260K/stories260K.bin"));
        Decoder d = new Decoder(ck, Backend.cpu());
        Losses losses = new Losses(Backend.cpu().kernels());
        int V = ck.config().vocabSize();
        for (int[] cf : new int[][]{{1, 3}, {2, 5}, {3, 6}, {5, 40}, {30, 33}, {30, 36}, {39, 41}, {12, 64}}) {
            int[] full = Arrays.copyOf(g.tokens(), cf[1]);
            int start = Math.max(1, cf[0]), T = full.length - 1;
            // one forward's hidden states for both (a second forward could differ by an ulp: the vector API's exponential
            // is another function while its caller still runs interpreted than once compiled)
            float[] h = d.hidden(d.newState(full.length), full, 0, T), all = d.logits(h, T, true);
            double want = 0;
            for (int pos = start; pos < full.length; pos++) want -= losses.crossEntropy(all, (pos - 1) * V, V, full[pos]);
            assertEquals(want, MultipleChoice.fromHidden(d, losses, full, start, h), 0.0, "context " + cf[0] + ", sequence " + cf[1]);
        }
    }

    @Test
    void aTaskFileThatIsNotOneIsRefusedNamingLineFieldAndValue(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("t.jsonl");
        String ok = "{\"context\": \"Tom had a ball.\", \"choices\": [\"He threw it.\", \"The sky fell.\"], \"gold\": 0}\n";
        Files.writeString(f, ok + "\n" + ok);
        assertEquals(2, MultipleChoice.read(f).size(), "blank lines are skipped");
        Object[][] bad = {
                {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"gold\": 2}", ":2: field 'gold' = 2: must be the index of a choice, 0 to 1"},
                {"{\"context\": 3, \"choices\": [\"b\", \"c\"], \"gold\": 0}", ":2: field 'context' = 3: must be a string"},
                {"{\"context\": \"a\", \"choices\": [\"b\"], \"gold\": 0}", ":2: field 'choices' = [\"b\"]: must be a list of two or more strings"},
                {"{\"context\": \"a\", \"choices\": [\"b\", \"\"], \"gold\": 0}", ":2: field 'choices' = [\"b\",\"\"]: every choice must be a non-empty string"},
                {"[1, 2]", ":2: not a JSON object"},
                {"{\"context\": \"a\",", ":2: not a JSON object ("},
        };
        for (Object[] b : bad) {
            Files.writeString(f, ok + b[0] + "\n");
            PuzzleException e = assertThrows(PuzzleException.class, () -> MultipleChoice.read(f), (String) b[0]);
            assertTrue(e.getMessage().startsWith(f + (String) b[1]), e.getMessage());
        }
        Files.writeString(f, "\n");
        assertEquals(f + ": no items (one JSON object per line: context, choices, gold)", assertThrows(PuzzleException.class, () -> MultipleChoice.read(f)).getMessage());
    }

    @Test
    void theNextSentenceTaskAsksForAParagraphsTrueLastSentence() throws Exception {
        Path text = Shared.require("models/tinystories-val-text/tinystories_val.txt");
        List<MultipleChoice.Item> items = MultipleChoice.nextSentence(text, 450000, 100, 1);
        assertEquals(items, MultipleChoice.nextSentence(text, 450000, 100, 1), "deterministic");
        String all = Files.readString(text).replaceAll("\\s+", " "); // sentences of a paragraph may sit on lines of their own
        int[] golds = new int[4];
        for (MultipleChoice.Item it : items) {
            assertEquals(4, it.choices().size());
            assertEquals(4, it.choices().stream().distinct().count(), "four different sentences");
            String gold = it.choices().get(it.gold());
            assertTrue(all.contains(it.context() + " " + gold),
                    "the gold sentence follows the context in the text: " + it.context() + " / " + gold);
            golds[it.gold()]++;
        }
        for (int g : golds) assertTrue(g >= 10, "the gold position is shuffled: " + Arrays.toString(golds));
        Path tmp = Files.createTempFile("task", ".jsonl");
        Files.writeString(tmp, MultipleChoice.jsonl(items));
        assertEquals(items, MultipleChoice.read(tmp), "JSON Lines round trip");
        Files.delete(tmp);
        // stories260K reads TinyStories: per byte, it finds the true sentence far more often than chance (1 in 4; 100
        // items: a standard deviation of 0.043). Its raw log-likelihood prefers short sentences, as small models' does.
        Checkpoint ck = Checkpoints.load(Shared.require("models/stories260K/stories260K.bin"));
        Path tokFile = Shared.require("models/stories260K/tok512.bin");
        Tokenizer tok = BpeTokenizer.readLlama2c(tokFile, BpeTokenizer.countLlama2cTokens(tokFile));
        MultipleChoice.Result r = MultipleChoice.evaluate(new Decoder(ck, Backend.cpu()), tok, items, null);
        System.out.printf("stories260K on next_sentence: accuracy %.3f, acc_norm %.3f%n", r.accuracy(), r.accuracyNorm());
        assertTrue(r.accuracyNorm() > 0.45, r.toString());
    }
}
