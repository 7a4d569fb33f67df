package dev.puzzle.core.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Multiple-choice tasks scored by log-likelihood, as lm-evaluation-harness scores them: each choice is the
 * continuation {@code " " + choice} of the context; its log-likelihood is the sum of the model's log-probabilities
 * of the continuation's tokens, teacher-forced after the context (with BOS). {@code accuracy}: the gold choice has
 * the highest log-likelihood; {@code accuracyNorm} (lm-eval's acc_norm): the highest log-likelihood per byte of the
 * continuation. A task file is JSON Lines, one item per line: {@code {"context": "...", "choices": ["...", ...],
 * "gold": 0}}.
 */
public final class MultipleChoice {
    private MultipleChoice() {}

    public record Item(String context, List<String> choices, int gold) {}

    public record Result(int items, double accuracy, double accuracyNorm) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The items of a task file; a line that is not an item is refused naming the file, line, field and value. */
    public static List<Item> read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new PuzzleException(file + ": cannot read the task file: " + e.getMessage());
        }
        List<Item> items = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) continue;
            String at = file + ":" + (i + 1);
            JsonNode o;
            try {
                o = JSON.readTree(line);
            } catch (IOException e) {
                throw new PuzzleException(at + ": not a JSON object (" + e.getMessage().lines().findFirst().orElse("") + ")");
            }
            if (!o.isObject()) throw new PuzzleException(at + ": not a JSON object");
            JsonNode c = o.get("context"), ch = o.get("choices"), g = o.get("gold");
            if (c == null || !c.isTextual()) throw new PuzzleException(at + ": field 'context' = " + c + ": must be a string");
            if (ch == null || !ch.isArray() || ch.size() < 2) throw new PuzzleException(at + ": field 'choices' = " + ch + ": must be a list of two or more strings");
            List<String> choices = new ArrayList<>();
            for (JsonNode x : ch) {
                if (!x.isTextual() || x.asText().isBlank()) throw new PuzzleException(at + ": field 'choices' = " + ch + ": every choice must be a non-empty string");
                choices.add(x.asText());
            }
            if (g == null || !g.canConvertToExactIntegral() || g.asInt() < 0 || g.asInt() >= choices.size()) {
                throw new PuzzleException(at + ": field 'gold' = " + g + ": must be the index of a choice, 0 to " + (choices.size() - 1));
            }
            items.add(new Item(c.asText(), List.copyOf(choices), g.asInt()));
        }
        if (items.isEmpty()) throw new PuzzleException(file + ": no items (one JSON object per line: context, choices, gold)");
        return items;
    }

    /** Writes items as JSON Lines. */
    public static String jsonl(List<Item> items) {
        StringBuilder sb = new StringBuilder();
        for (Item it : items) {
            var o = JSON.createObjectNode();
            o.put("context", it.context());
            var a = o.putArray("choices");
            it.choices().forEach(a::add);
            o.put("gold", it.gold());
            sb.append(o).append('\n');
        }
        return sb.toString();
    }

    /**
     * Scores every item; {@code progress} gets items done. A context plus choice longer than the model's context is refused.
     * A small model's items are scored one per thread ({@link dev.puzzle.core.backend.Backend#oneTaskPerThread}, sized by
     * an item's logits at the model's context).
     */
    public static Result evaluate(Decoder model, Tokenizer tok, List<Item> items, IntConsumer progress) {
        Losses losses = new Losses(model.backend().kernels());
        int[] right = new int[items.size()], rightNorm = new int[items.size()], done = {0};
        IntConsumer one = i -> {
            Item it = items.get(i);
            int[] ctx = tok.encode(it.context(), true, false);
            double best = Double.NEGATIVE_INFINITY, bestNorm = Double.NEGATIVE_INFINITY;
            int arg = -1, argNorm = -1;
            for (int c = 0; c < it.choices().size(); c++) {
                String cont = " " + it.choices().get(c);
                double ll = logLikelihood(model, losses, ctx, tok.encode(it.context() + cont, true, false));
                double norm = ll / cont.getBytes(StandardCharsets.UTF_8).length;
                if (ll > best) { best = ll; arg = c; }
                if (norm > bestNorm) { bestNorm = norm; argNorm = c; }
            }
            if (arg == it.gold()) right[i] = 1;
            if (argNorm == it.gold()) rightNorm[i] = 1;
            if (progress != null) synchronized (done) {
                progress.accept(++done[0]);
            }
        };
        dev.puzzle.core.backend.Backend b = model.backend();
        if (b.oneTaskPerThread((long) model.config().vocabSize() * model.config().maxSeqLen())) b.kernels().parallel().forEach(items.size(), one);
        else for (int i = 0; i < items.size(); i++) one.accept(i);
        return new Result(items.size(), java.util.Arrays.stream(right).sum() / (double) items.size(), java.util.Arrays.stream(rightNorm).sum() / (double) items.size());
    }

    /**
     * Sum of log p(token) over the tokens of {@code full} after its longest common prefix with {@code context} (the
     * continuation as the tokenizer splits the whole string), teacher-forced.
     */
    static double logLikelihood(Decoder model, Losses losses, int[] context, int[] full) {
        if (full.length > model.config().maxSeqLen()) {
            throw new PuzzleException("a context with its choice is " + full.length + " tokens, more than the model's context of " + model.config().maxSeqLen());
        }
        int common = 0;
        while (common < Math.min(context.length, full.length) && context[common] == full[common]) common++;
        int start = Math.max(1, common); // the first predicted token follows at least BOS
        if (start >= full.length) throw new PuzzleException("a choice adds no token to its context");
        return fromHidden(model, losses, full, start, model.hidden(model.newState(full.length), full, 0, full.length - 1));
    }

    /**
     * {@link #logLikelihood} from the final hidden states h of positions [0, full.length − 1): the classifier on the
     * positions that predict the continuation only, but on at least 5 of them — with more than 4 rows its product is a
     * GEMM whose rows come out the same however many there are (each logit the same sum in the same order), so the
     * result is bit for bit the one of all rows (4 or fewer take the matrix-vector path, which rounds otherwise).
     */
    static double fromHidden(Decoder model, Losses losses, int[] full, int start, float[] h) {
        int V = model.config().vocabSize(), T = full.length - 1;
        int from = Math.max(0, Math.min(start - 1, T - 5));
        float[] logits = model.logits(h, from, T);
        double ll = 0;
        for (int pos = start; pos < full.length; pos++) ll -= losses.crossEntropy(logits, (pos - 1 - from) * V, V, full[pos]);
        return ll;
    }

    /**
     * A next-sentence task made from plain text (TinyStories-style paragraphs): for each paragraph of at least three
     * sentences from byte {@code offset} on, the context is every sentence but its last, and the choices its true last
     * sentence and three other paragraphs' last sentences, shuffled ({@code seed}).
     */
    public static List<Item> nextSentence(Path text, long offset, int count, long seed) {
        byte[] all = TokenData.read(text, offset);
        int start = (int) offset;
        while (start < all.length && all[start] != '\n') start++; // begin at a paragraph
        String rest = new String(all, start, all.length - start, StandardCharsets.UTF_8);
        List<List<String>> paragraphs = new ArrayList<>();
        for (String p : rest.split("\n\\s*\n")) {
            List<String> s = new ArrayList<>();
            for (String x : p.strip().split("(?<=[.!?][\"”]?)\\s+")) if (x.length() >= 8) s.add(x.strip());
            if (s.size() >= 3) paragraphs.add(s);
            if (paragraphs.size() >= 2 * count) break; // enough for the items and their distractors
        }
        if (paragraphs.size() < Math.max(4, count)) {
            throw new PuzzleException(text + ": from byte " + offset + " the text has " + paragraphs.size() + " paragraphs of three or more sentences, fewer than the "
                    + count + " items need");
        }
        java.util.Random r = new java.util.Random(seed);
        List<Item> items = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            List<String> p = paragraphs.get(i);
            String gold = p.getLast();
            List<String> choices = new ArrayList<>(List.of(gold));
            while (choices.size() < 4) {
                int j = r.nextInt(paragraphs.size());
                if (j == i) continue;
                String d = paragraphs.get(j).getLast();
                if (!choices.contains(d)) choices.add(d);
            }
            java.util.Collections.shuffle(choices, r);
            items.add(new Item(String.join(" ", p.subList(0, p.size() - 1)), List.copyOf(choices), choices.indexOf(gold)));
        }
        return items;
    }
}
