package dev.puzzle.core.tokenizer;

import dev.puzzle.core.PuzzleException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.ArrayList;
import java.util.List;

/**
 * SentencePiece-style BPE by piece scores with byte fallback, as karpathy/llama2.c's run.c encodes:
 * a leading " " piece, one piece per UTF-8 character (or its bytes via {@code <0xXX>} tokens), then
 * repeated merging of the adjacent pair whose merged piece has the highest score (leftmost on
 * ties). Here the merging uses a priority queue, so long texts encode in O(n log n) with the same result.
 * Loads llama2.c {@code tokenizer.bin} and the vocabulary embedded in GGUF files.
 */
public final class BpeTokenizer implements Tokenizer {
    private final byte[][] pieces;
    private final float[] scores;
    private final Map<String, Integer> lookup = new HashMap<>();
    private final int[] byteIds = new int[256];
    private final int bos, eos;

    /** @param pieces token pieces as bytes, spaces as ' ' (not '▁') */
    public BpeTokenizer(byte[][] pieces, float[] scores, int bos, int eos) {
        if (pieces.length != scores.length) throw new IllegalArgumentException("pieces and scores differ in length");
        this.pieces = pieces;
        this.scores = scores;
        this.bos = bos;
        this.eos = eos;
        for (int i = pieces.length - 1; i >= 0; i--) lookup.put(key(pieces[i]), i);
        Arrays.fill(byteIds, -1);
        for (int i = 0; i < pieces.length; i++) {
            int b = byteToken(pieces[i]);
            if (b >= 0 && byteIds[b] < 0) byteIds[b] = i;
        }
        for (int b = 0; b < 256; b++) if (byteIds[b] < 0 && b + 3 < pieces.length) byteIds[b] = b + 3;
    }

    private static String key(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    /** 0..255 when the piece is {@code <0xXX>}, else −1. */
    private static int byteToken(byte[] p) {
        if (p.length == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>') {
            int hi = Character.digit(p[3], 16), lo = Character.digit(p[4], 16);
            if (hi >= 0 && lo >= 0) return hi * 16 + lo;
        }
        return -1;
    }

    /**
     * A stand-in vocabulary of {@code vocab} pieces for models whose text does not matter (start-up training, timing
     * models): tokens 0..2 are unk, BOS and EOS, then llama2.c's byte-fallback pieces {@code <0x00>..<0xFF>} and on.
     */
    public static BpeTokenizer byteLevel(int vocab) {
        byte[][] pieces = new byte[vocab][];
        float[] scores = new float[vocab];
        pieces[0] = "<unk>".getBytes(StandardCharsets.UTF_8);
        pieces[1] = "<s>".getBytes(StandardCharsets.UTF_8);
        pieces[2] = "</s>".getBytes(StandardCharsets.UTF_8);
        for (int i = 3; i < vocab; i++) pieces[i] = String.format("<0x%02X>", i - 3).getBytes(StandardCharsets.US_ASCII);
        return new BpeTokenizer(pieces, scores, 1, 2);
    }

    /** Reads llama2.c's tokenizer.bin: int32 max_token_length, then per token float score, int32 len, bytes. */
    public static BpeTokenizer readLlama2c(Path file, int vocabSize) {
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new PuzzleException(file + ": cannot read tokenizer: " + e.getMessage(), e);
        }
        if (vocabSize < 3) throw new PuzzleException(file + ": a vocabulary of " + vocabSize + " tokens has no room for <unk>, BOS and EOS");
        if (4 + 8L * vocabSize > all.length) {
            throw new PuzzleException(file + ": " + all.length + " bytes cannot hold " + vocabSize + " tokens (8 bytes each at least); is this the model's tokenizer.bin?");
        }
        ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        try {
            bb.getInt(); // max_token_length
            byte[][] pieces = new byte[vocabSize][];
            float[] scores = new float[vocabSize];
            for (int i = 0; i < vocabSize; i++) {
                scores[i] = bb.getFloat();
                int len = bb.getInt();
                if (len < 0 || len > bb.remaining()) {
                    throw new PuzzleException(file + ": token " + i + " has length " + len + " beyond the file; is this a llama2.c tokenizer.bin for a vocabulary of " + vocabSize + "?");
                }
                pieces[i] = new byte[len];
                bb.get(pieces[i]);
            }
            return new BpeTokenizer(pieces, scores, 1, 2);
        } catch (java.nio.BufferUnderflowException e) {
            throw new PuzzleException(file + ": truncated tokenizer.bin (the model needs " + vocabSize + " tokens)");
        }
    }

    /** Counts the tokens in a llama2.c tokenizer.bin, so a tokenizer can be read without a model. */
    public static int countLlama2cTokens(Path file) {
        try {
            ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            if (bb.remaining() < 4) throw new PuzzleException(file + ": " + bb.remaining() + " bytes is too short for a llama2.c tokenizer.bin");
            bb.getInt();
            int n = 0;
            while (bb.remaining() >= 8) {
                bb.getFloat();
                int len = bb.getInt();
                if (len < 0 || len > bb.remaining()) break;
                bb.position(bb.position() + len);
                n++;
            }
            return n;
        } catch (IOException e) {
            throw new PuzzleException(file + ": cannot read tokenizer: " + e.getMessage(), e);
        }
    }

    /** Writes llama2.c's tokenizer.bin format. */
    public byte[] toLlama2cBytes() {
        int maxLen = 0, total = 4;
        for (byte[] p : pieces) {
            maxLen = Math.max(maxLen, p.length);
            total += 8 + p.length;
        }
        ByteBuffer bb = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(maxLen);
        for (int i = 0; i < pieces.length; i++) {
            bb.putFloat(scores[i]);
            bb.putInt(pieces[i].length);
            bb.put(pieces[i]);
        }
        return bb.array();
    }

    /**
     * The same vocabulary as a Hugging Face {@code tokenizer.json} in the SentencePiece-style BPE layout of
     * HF's LlamaConverter: "▁" for spaces (Prepend + Replace normalizer), byte fallback, {@code <s>} added by
     * the post-processor, and merges derived from the scores — every split of a piece into two pieces,
     * ordered by the merged piece's score. Ids 0, 1, 2 are {@code <unk>}, {@code <s>}, {@code </s>}.
     */
    public String toHfJson() {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var root = json.createObjectNode();
        root.put("version", "1.0");
        var added = root.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < 3 && i < pieces.length; i++) {
            added.addObject().put("id", i).put("content", specials[i]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        var norm = root.putObject("normalizer").put("type", "Sequence").putArray("normalizers");
        norm.addObject().put("type", "Prepend").put("prepend", "\u2581");
        norm.addObject().put("type", "Replace").put("content", "\u2581").putObject("pattern").put("String", " ");
        root.putNull("pre_tokenizer");
        var post = root.putObject("post_processor").put("type", "TemplateProcessing");
        var single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        var pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        var st = post.putObject("special_tokens").putObject("<s>");
        st.put("id", "<s>");
        st.putArray("ids").add(1);
        st.putArray("tokens").add("<s>");
        var dec = root.putObject("decoder").put("type", "Sequence").putArray("decoders");
        dec.addObject().put("type", "Replace").put("content", " ").putObject("pattern").put("String", "\u2581");
        dec.addObject().put("type", "ByteFallback");
        dec.addObject().put("type", "Fuse");
        dec.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        var model = root.putObject("model").put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true).put("byte_fallback", true).put("ignore_merges", false);
        var vocab = model.putObject("vocab");
        java.util.Map<String, Integer> ids = new java.util.HashMap<>();
        String[] names = new String[pieces.length];
        for (int i = 0; i < pieces.length; i++) {
            String s = i < 3 ? specials[i] : new String(pieces[i], StandardCharsets.UTF_8).replace(' ', '\u2581');
            if (ids.containsKey(s)) continue; // a duplicate piece: the first id keeps it
            ids.put(s, i);
            names[i] = s;
            vocab.put(s, i);
        }
        java.util.List<Object[]> merges = new java.util.ArrayList<>();
        for (int i = 3; i < pieces.length; i++) {
            String p = names[i];
            if (p == null || byteToken(pieces[i]) >= 0) continue;
            int[] cps = p.codePoints().toArray();
            for (int k = 1; k < cps.length; k++) {
                String a = new String(cps, 0, k), b = new String(cps, k, cps.length - k);
                Integer ia = ids.get(a), ib = ids.get(b);
                if (ia != null && ib != null && ia >= 3 && ib >= 3) merges.add(new Object[]{scores[i], ia, ib, a, b});
            }
        }
        merges.sort((x, y) -> {
            int c = Float.compare((float) y[0], (float) x[0]);
            if (c != 0) return c;
            c = Integer.compare((int) x[1], (int) y[1]);
            return c != 0 ? c : Integer.compare((int) x[2], (int) y[2]);
        });
        var mg = model.putArray("merges");
        for (Object[] m : merges) mg.add(m[3] + " " + m[4]);
        try {
            return json.writeValueAsString(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bosId() {
        return bos;
    }

    @Override
    public int eosId() {
        return eos;
    }

    @Override
    public String piece(int token) {
        return new String(pieces[token], StandardCharsets.UTF_8);
    }

    /** The merge score of a token (higher merges first). */
    public float score(int token) {
        return scores[token];
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean addEos) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] toks = new int[bytes.length + 3];
        int n = 0;
        if (addBos) toks[n++] = bos;
        int start = n;
        if (bytes.length > 0) {
            Integer sp = lookup.get(" ");
            if (sp != null) toks[n++] = sp;
        }
        // One piece per UTF-8 character (at most 4 bytes), else its bytes — exactly run.c's loop.
        int bufStart = 0, bufLen = 0;
        for (int i = 0; i < bytes.length; i++) {
            if ((bytes[i] & 0xC0) != 0x80) {
                bufStart = i;
                bufLen = 0;
            }
            bufLen++;
            if (i + 1 < bytes.length && (bytes[i + 1] & 0xC0) == 0x80 && bufLen < 4) continue;
            Integer id = lookup.get(new String(bytes, bufStart, bufLen, StandardCharsets.ISO_8859_1));
            if (id != null) {
                toks[n++] = id;
            } else {
                for (int j = 0; j < bufLen; j++) {
                    int b = byteIds[bytes[bufStart + j] & 0xff];
                    toks[n++] = b >= 0 ? b : 0; // a vocabulary without byte tokens: <unk>, as llama.cpp does
                }
            }
            bufLen = 0;
        }
        n = merge(toks, start, n);
        if (addEos) toks[n++] = eos;
        return Arrays.copyOf(toks, n);
    }

    /** BPE merges over toks[start, n): the merged piece with the highest score first, leftmost on ties. Returns the new end. */
    private int merge(int[] toks, int start, int n) {
        List<Integer> ids = new ArrayList<>(n - start);
        for (int i = start; i < n; i++) ids.add(toks[i]);
        List<Integer> merged = PairMerge.run(ids, (a, b) -> {
            byte[] pa = pieces[a], pb = pieces[b];
            byte[] cat = Arrays.copyOf(pa, pa.length + pb.length);
            System.arraycopy(pb, 0, cat, pa.length, pb.length);
            Integer id = lookup.get(key(cat));
            return id == null ? null : new PairMerge.Merge<>(-scores[id], id);
        });
        int w = start;
        for (int id : merged) toks[w++] = id;
        return w;
    }

    @Override
    public byte[] decode(int prev, int token) {
        byte[] p = pieces[token];
        if (prev == bos && p.length > 0 && p[0] == ' ') return Arrays.copyOfRange(p, 1, p.length);
        int b = byteToken(p);
        if (b >= 0) return new byte[]{(byte) b};
        return p;
    }
}
