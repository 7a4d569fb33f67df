package dev.puzzle.core.eval;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Token sequences cut from a text file: calibration data for BLD, held-out data for scoring. */
public final class TokenData {
    private TokenData() {}

    /**
     * {@code count} sequences of {@code length} tokens from the text starting at byte {@code offset}: the
     * region is encoded with BOS and cut into consecutive sequences. Fails, naming the file, when it is too short.
     */
    public static int[][] sequences(Path file, Tokenizer tok, long offset, int count, int length) {
        byte[] all = read(file, offset);
        // A token is at least one byte, so count·length tokens need at most that many bytes (plus a margin).
        long need = (long) count * length * 8 + 64;
        int end = (int) Math.min(all.length, offset + need);
        int start = (int) offset;
        while (start < end && (all[start] & 0xC0) == 0x80) start++; // begin on a character
        String text = new String(Arrays.copyOfRange(all, start, end), StandardCharsets.UTF_8);
        int[] toks = tok.encode(text, true, false);
        if (toks.length < (long) count * length) {
            throw new PuzzleException(file + ": from byte " + offset + " the text holds " + toks.length + " tokens, fewer than "
                    + count + " sequences × " + length + " = " + (long) count * length);
        }
        int[][] out = new int[count][length];
        for (int s = 0; s < count; s++) System.arraycopy(toks, s * length, out[s], 0, length);
        return out;
    }

    /** The bytes of a text file in which {@code offset} must lie; a clear error naming the file otherwise. */
    static byte[] read(Path file, long offset) {
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new PuzzleException(file + ": cannot read text: " + e.getMessage());
        }
        if (offset < 0 || offset >= all.length) throw new PuzzleException(file + ": offset " + offset + " is outside the file's " + all.length + " bytes");
        return all;
    }

    public static int[] flatten(int[][] seqs) {
        int T = seqs.length == 0 ? 0 : seqs[0].length;
        int[] out = new int[seqs.length * T];
        for (int s = 0; s < seqs.length; s++) System.arraycopy(seqs[s], 0, out, s * T, T);
        return out;
    }
}
