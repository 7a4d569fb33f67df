package dev.puzzle.core.eval;

import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Text generation as llama2.c's run.c does it: the prompt encoded with BOS, teacher-forced, then
 * sampled; {@code steps} counts positions including the prompt; stops early at BOS; every piece
 * after the first position is written as it is produced (so the prompt is echoed), skipping lone
 * unprintable bytes; a final newline.
 */
public final class Generator {
    private Generator() {}

    /**
     * @param tokens         positions run
     * @param prefillSeconds time spent on the prompt
     * @param seconds        the whole run
     * @param firstPositions positions the first forward call ran (the batched prompt, else the first position)
     * @param firstSeconds   the time of that first call (the slowest: weights paged in, kernels still interpreted)
     */
    public record Stats(int tokens, int promptTokens, double prefillSeconds, double seconds, int firstPositions, double firstSeconds) {
        /**
         * Positions per second after the first forward call, as llama2.c's run.c reports its "achieved tok/s" (its
         * timer starts after the first iteration, "because the first iteration can be slower"); the whole run's rate
         * where nothing followed the first call ({@link #timedAfterFirst}).
         */
        public double tokensPerSecond() {
            return timedAfterFirst() ? (tokens - firstPositions) / (seconds - firstSeconds) : wholeRunTokensPerSecond();
        }

        /** Whether any position followed the first forward call (a run that stops at BOS or its step limit there has none). */
        public boolean timedAfterFirst() {
            return tokens > firstPositions && seconds > firstSeconds;
        }

        /** Positions per second over the whole run, the first call included. */
        public double wholeRunTokensPerSecond() {
            return seconds > 0 ? tokens / seconds : 0;
        }
    }

    public static Stats generate(Decoder model, Tokenizer tok, String prompt, int steps, Sampler sampler, OutputStream out) throws IOException {
        int[] promptTokens = tok.encode(prompt == null ? "" : prompt, true, false);
        int maxSteps = Math.min(steps, model.config().maxSeqLen());
        if (maxSteps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        Decoder.State st = model.newState(maxSteps);
        int V = model.config().vocabSize();
        long t0 = System.nanoTime();
        // Batched prefill of all prompt tokens but the last, then one position at a time.
        int prefill = Math.min(promptTokens.length - 1, maxSteps - 1);
        int pos = 0;
        int token = promptTokens[0];
        if (prefill > 0) {
            model.forward(st, promptTokens, 0, prefill, false);
            for (int i = 1; i <= prefill; i++) {
                emit(out, tok, promptTokens[i - 1], promptTokens[i]);
            }
            pos = prefill;
            token = promptTokens[prefill];
        }
        double prefillSeconds = (System.nanoTime() - t0) / 1e9;
        int firstPositions = pos;
        double firstSeconds = prefillSeconds;
        int[] one = new int[1];
        while (pos < maxSteps) {
            one[0] = token;
            float[] logits = model.forward(st, one, 0, 1, false);
            if (firstPositions == 0) { // no batched prompt: the first call is this position
                firstPositions = 1;
                firstSeconds = (System.nanoTime() - t0) / 1e9;
            }
            int next = pos < promptTokens.length - 1 ? promptTokens[pos + 1] : sampler.sample(logits, 0, V);
            pos++;
            if (next == tok.bosId()) break;
            emit(out, tok, token, next);
            token = next;
        }
        out.write('\n');
        out.flush();
        return new Stats(pos, promptTokens.length, prefillSeconds, (System.nanoTime() - t0) / 1e9, firstPositions, firstSeconds);
    }

    private static void emit(OutputStream out, Tokenizer tok, int prev, int next) throws IOException {
        byte[] piece = tok.decode(prev, next);
        if (piece.length == 1) {
            int b = piece[0] & 0xff;
            boolean printable = b >= 0x20 && b < 0x7f;
            boolean space = b == ' ' || (b >= 0x09 && b <= 0x0d);
            if (!printable && !space) return;
        }
        out.write(piece);
        out.flush();
    }
}
