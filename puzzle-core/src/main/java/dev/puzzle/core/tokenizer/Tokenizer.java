package dev.puzzle.core.tokenizer;

/** Text to token ids and back. Pieces are bytes: a byte-fallback token can be part of a UTF-8 character. */
public interface Tokenizer {
    int vocabSize();

    int bosId();

    int eosId();

    /** Encodes UTF-8 text, with BOS and/or EOS as asked. */
    int[] encode(String text, boolean bos, boolean eos);

    /** The bytes token {@code token} prints after {@code prev} (llama2.c's decode: the space after BOS dropped, byte tokens as raw bytes). */
    byte[] decode(int prev, int token);

    /** The raw piece of a token, for display. */
    String piece(int token);
}
