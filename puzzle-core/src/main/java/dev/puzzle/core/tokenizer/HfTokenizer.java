package dev.puzzle.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.PuzzleException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hugging Face {@code tokenizer.json} (huggingface/tokenizers) for BPE models: byte-level BPE (GPT-2,
 * Llama-3, Qwen2: ByteLevel pre-tokenizer and decoder, optional Split regex) and SentencePiece-style
 * BPE (Llama-2, Mistral: Prepend/Replace "▁" normalizer or Metaspace, byte fallback). Added tokens
 * are matched literally first; merges apply lowest rank first, leftmost on ties. Anything outside
 * that subset is refused with the field and value named.
 */
public final class HfTokenizer implements Tokenizer {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final String[] idToToken;
    private final Map<String, Integer> vocab = new HashMap<>();
    private final Map<String, Integer> mergeRank = new HashMap<>();
    private final boolean byteFallback, ignoreMerges, byteLevel;
    private final Integer unk;
    private final List<String> added = new ArrayList<>(); // longest first
    private final Map<String, Integer> addedIds = new HashMap<>();
    private final List<Step> normalizers = new ArrayList<>();
    private final List<Step> preTokenizers = new ArrayList<>();
    private final int bos, eos;
    private final boolean stripFirstSpace;
    private final int[] byteIds = new int[256];

    /** One normalizer or pre-tokenizer step, over a list of pieces. */
    private interface Step {
        List<String> apply(List<String> pieces);
    }

    private HfTokenizer(Path file, JsonNode root) {
        this.file = file;
        JsonNode model = root.path("model");
        String type = model.path("type").asText("BPE");
        if (!type.equals("BPE")) throw PuzzleException.field(file, "model.type", type, "only BPE tokenizers are supported");
        JsonNode v = model.path("vocab");
        if (!v.isObject()) throw PuzzleException.field(file, "model.vocab", "(missing)", "must map tokens to ids");
        // Ids are bounded by the number of entries the file holds (vocabularies are dense), before any array is sized by them.
        long bound = (long) v.size() + root.path("added_tokens").size();
        int max = -1;
        for (var it = v.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode id = e.getValue();
            if (!id.canConvertToInt() || !id.isIntegralNumber() || id.asInt() < 0 || id.asInt() >= bound) {
                throw PuzzleException.field(file, "model.vocab." + e.getKey(), id, "an id must be an integer in 0.." + (bound - 1));
            }
            vocab.put(e.getKey(), id.asInt());
            max = Math.max(max, id.asInt());
        }
        int k = 0;
        for (JsonNode a : root.path("added_tokens")) {
            JsonNode id = a.path("id");
            if (!id.canConvertToInt() || !id.isIntegralNumber() || id.asInt() < 0 || id.asInt() >= bound) {
                throw PuzzleException.field(file, "added_tokens[" + k + "].id", id.isMissingNode() ? "(missing)" : id, "an id must be an integer in 0.." + (bound - 1));
            }
            if (!a.path("content").isTextual() || a.path("content").asText().isEmpty()) {
                throw PuzzleException.field(file, "added_tokens[" + k + "].content", a.path("content").isMissingNode() ? "(missing)" : a.path("content"), "an added token needs its text");
            }
            max = Math.max(max, id.asInt());
            k++;
        }
        if (max < 0) throw PuzzleException.field(file, "model.vocab", "{}", "an empty vocabulary");
        idToToken = new String[max + 1];
        vocab.forEach((t, id) -> idToToken[id] = t);
        JsonNode merges = model.path("merges");
        int rank = 0;
        for (JsonNode m : merges) {
            String a, b;
            if (m.isArray()) {
                a = m.get(0).asText();
                b = m.get(1).asText();
            } else {
                String s = m.asText();
                int sp = s.indexOf(' ', 1);
                if (sp < 0) throw PuzzleException.field(file, "model.merges[" + rank + "]", s, "must be 'left right'");
                a = s.substring(0, sp);
                b = s.substring(sp + 1);
            }
            mergeRank.putIfAbsent(a + '\u0000' + b, rank++);
        }
        byteFallback = model.path("byte_fallback").asBoolean(false);
        ignoreMerges = model.path("ignore_merges").asBoolean(false);
        JsonNode unkNode = model.path("unk_token");
        unk = unkNode.isTextual() ? vocab.get(unkNode.asText()) : null;
        for (JsonNode a : root.path("added_tokens")) {
            String content = a.path("content").asText();
            int id = a.path("id").asInt();
            idToToken[id] = content;
            addedIds.put(content, id);
            added.add(content);
        }
        added.sort((x, y) -> y.length() - x.length());
        boolean bl = false;
        bl |= parseSteps(root.path("normalizer"), "normalizer", normalizers);
        bl |= parseSteps(root.path("pre_tokenizer"), "pre_tokenizer", preTokenizers);
        byteLevel = bl || usesByteLevel(root.path("decoder"));
        stripFirstSpace = !byteLevel;
        int[] se = specialIds(root);
        bos = se[0];
        eos = se[1];
        Arrays.fill(byteIds, -1);
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            if (id != null) byteIds[b] = id;
        }
    }

    public static HfTokenizer read(Path file) {
        return new HfTokenizer(file, dev.puzzle.core.config.Json.readObject(file, "a tokenizer.json"));
    }

    private static boolean usesByteLevel(JsonNode dec) {
        if (dec.isMissingNode() || dec.isNull()) return false;
        if ("ByteLevel".equals(dec.path("type").asText())) return true;
        for (JsonNode d : dec.path("decoders")) if (usesByteLevel(d)) return true;
        return false;
    }

    /** BOS and EOS ids: from the post-processor's template, else the usual special tokens; −1 when none. */
    private int[] specialIds(JsonNode root) {
        int b = -1, e = -1;
        JsonNode single = root.path("post_processor").path("single");
        if (single.isArray() && !single.isEmpty() && single.get(0).has("SpecialToken")) {
            Integer id = addedIds.get(single.get(0).path("SpecialToken").path("id").asText());
            if (id != null) b = id;
        }
        if (b < 0) for (String s : new String[]{"<s>", "<|begin_of_text|>", "<bos>"}) if (addedIds.containsKey(s)) { b = addedIds.get(s); break; }
        for (String s : new String[]{"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"}) if (addedIds.containsKey(s)) { e = addedIds.get(s); break; }
        return new int[]{b, e};
    }

    /** Parses a normalizer or pre-tokenizer into steps; returns whether it includes ByteLevel. */
    private boolean parseSteps(JsonNode n, String field, List<Step> out) {
        if (n.isMissingNode() || n.isNull()) return false;
        String type = n.path("type").asText();
        switch (type) {
            case "Sequence": {
                boolean bl = false;
                String key = n.has("normalizers") ? "normalizers" : "pretokenizers";
                int i = 0;
                for (JsonNode c : n.path(key)) bl |= parseSteps(c, field + "." + key + "[" + i++ + "]", out);
                return bl;
            }
            case "Prepend": {
                String p = n.path("prepend").asText();
                out.add(ps -> map(ps, s -> s.isEmpty() ? s : p + s));
                return false;
            }
            case "Replace": {
                String content = n.path("content").asText();
                JsonNode pat = n.path("pattern");
                Pattern re = pat.has("Regex") ? Pattern.compile(pat.get("Regex").asText()) : Pattern.compile(Pattern.quote(pat.path("String").asText()));
                String repl = Matcher.quoteReplacement(content);
                out.add(ps -> map(ps, s -> re.matcher(s).replaceAll(repl)));
                return false;
            }
            case "NFC", "NFKC", "NFD", "NFKD": {
                Normalizer.Form f = Normalizer.Form.valueOf(type);
                out.add(ps -> map(ps, s -> Normalizer.normalize(s, f)));
                return false;
            }
            case "Metaspace": {
                String rep = n.path("replacement").asText("\u2581");
                String scheme = n.has("prepend_scheme") ? n.get("prepend_scheme").asText() : (n.path("add_prefix_space").asBoolean(true) ? "always" : "never");
                boolean split = n.path("split").asBoolean(true);
                out.add(ps -> {
                    List<String> r = new ArrayList<>();
                    for (int i = 0; i < ps.size(); i++) {
                        String s = ps.get(i).replace(" ", rep);
                        if (scheme.equals("always") || (scheme.equals("first") && i == 0)) if (!s.startsWith(rep)) s = rep + s;
                        if (!split) {
                            r.add(s);
                            continue;
                        }
                        int start = 0;
                        for (int j = 1; j < s.length(); j++) {
                            if (s.startsWith(rep, j)) {
                                r.add(s.substring(start, j));
                                start = j;
                            }
                        }
                        if (start < s.length()) r.add(s.substring(start));
                    }
                    return r;
                });
                return false;
            }
            case "Split": {
                JsonNode pat = n.path("pattern");
                Pattern re = pat.has("Regex") ? Pattern.compile(pat.get("Regex").asText()) : Pattern.compile(Pattern.quote(pat.path("String").asText()));
                String behavior = n.path("behavior").asText("Isolated");
                if (!behavior.equals("Isolated") || n.path("invert").asBoolean(false)) {
                    throw PuzzleException.field(file, field + ".behavior", behavior + (n.path("invert").asBoolean(false) ? " (inverted)" : ""), "only Isolated, non-inverted Split is supported");
                }
                out.add(ps -> splitIsolated(ps, re));
                return false;
            }
            case "ByteLevel": {
                boolean prefix = n.path("add_prefix_space").asBoolean(false);
                boolean useRegex = n.path("use_regex").asBoolean(true);
                if (field.startsWith("pre_tokenizer")) {
                    out.add(ps -> {
                        List<String> r = new ArrayList<>();
                        for (int i = 0; i < ps.size(); i++) {
                            String s = ps.get(i);
                            if (prefix && i == 0 && !s.startsWith(" ")) s = " " + s;
                            r.add(s);
                        }
                        List<String> split = useRegex ? splitIsolated(r, GPT2) : r;
                        return map(split, HfTokenizer::toByteLevel);
                    });
                }
                return true;
            }
            case "Digits": {
                boolean single = n.path("individual_digits").asBoolean(false);
                out.add(ps -> splitIsolated(ps, Pattern.compile(single ? "\\p{Nd}" : "\\p{Nd}+")));
                return false;
            }
            default:
                throw PuzzleException.field(file, field + ".type", type.isEmpty() ? n.toString() : type, "unsupported in tokenizer.json");
        }
    }

    private static final Pattern GPT2 = Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    private static List<String> map(List<String> ps, java.util.function.UnaryOperator<String> f) {
        List<String> r = new ArrayList<>(ps.size());
        for (String s : ps) r.add(f.apply(s));
        return r;
    }

    /** Split with behavior Isolated: every match and every stretch between matches is its own piece. */
    private static List<String> splitIsolated(List<String> ps, Pattern re) {
        List<String> r = new ArrayList<>();
        for (String s : ps) {
            Matcher m = re.matcher(s);
            int last = 0;
            while (m.find()) {
                if (m.end() == m.start()) continue;
                if (m.start() > last) r.add(s.substring(last, m.start()));
                r.add(m.group());
                last = m.end();
            }
            if (last < s.length()) r.add(s.substring(last));
        }
        return r;
    }

    // GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n.
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final Map<Character, Integer> CHAR_TO_BYTE = new HashMap<>();

    static {
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_TO_CHAR[b] = keep ? (char) b : (char) (256 + n++);
            CHAR_TO_BYTE.put(BYTE_TO_CHAR[b], b);
        }
    }

    private static String toByteLevel(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(bytes.length);
        for (byte b : bytes) sb.append(BYTE_TO_CHAR[b & 0xff]);
        return sb.toString();
    }

    @Override
    public int vocabSize() {
        return idToToken.length;
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
        return idToToken[token];
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean addEos) {
        List<Integer> ids = new ArrayList<>();
        if (addBos && bos >= 0) ids.add(bos);
        // Added tokens first: they are matched literally and never split.
        int start = 0;
        boolean first = true;
        while (start <= text.length()) {
            int best = -1;
            String bestTok = null;
            for (String a : added) {
                int at = text.indexOf(a, start);
                if (at >= 0 && (best < 0 || at < best)) {
                    best = at;
                    bestTok = a;
                }
            }
            int end = best < 0 ? text.length() : best;
            if (end > start) encodeSegment(text.substring(start, end), ids, first);
            first = false;
            if (best < 0) break;
            ids.add(addedIds.get(bestTok));
            start = best + bestTok.length();
        }
        if (addEos && eos >= 0) ids.add(eos);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private void encodeSegment(String s, List<Integer> out, boolean first) {
        List<String> pieces = List.of(s);
        for (Step st : normalizers) pieces = st.apply(pieces);
        for (Step st : preTokenizers) pieces = st.apply(pieces);
        for (String w : pieces) if (!w.isEmpty()) bpe(w, out);
    }

    private void bpe(String word, List<Integer> out) {
        if (ignoreMerges && vocab.containsKey(word)) {
            out.add(vocab.get(word));
            return;
        }
        List<String> chars = new ArrayList<>();
        word.codePoints().forEach(cp -> chars.add(new String(Character.toChars(cp))));
        List<String> symbols = PairMerge.run(chars, (a, b) -> {
            Integer rank = mergeRank.get(a + '\u0000' + b);
            return rank == null ? null : new PairMerge.Merge<>(rank, a + b);
        });
        for (String sym : symbols) {
            Integer id = vocab.get(sym);
            if (id != null) {
                out.add(id);
            } else if (byteFallback) {
                for (byte b : sym.getBytes(StandardCharsets.UTF_8)) {
                    int bid = byteIds[b & 0xff];
                    if (bid < 0) throw new PuzzleException(file + ": byte_fallback is on but the vocabulary has no <0x" + String.format("%02X", b & 0xff) + "> token");
                    out.add(bid);
                }
            } else if (unk != null) {
                out.add(unk);
            } else {
                throw new PuzzleException(file + ": cannot encode '" + sym + "': not in the vocabulary, and no byte_fallback or unk_token");
            }
        }
    }

    @Override
    public byte[] decode(int prev, int token) {
        String t = idToToken[token];
        if (t == null) return new byte[0];
        if (byteLevel) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (char c : t.toCharArray()) {
                Integer v = CHAR_TO_BYTE.get(c);
                if (v != null) b.write(v);
                else b.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
            return b.toByteArray();
        }
        if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">") && Character.digit(t.charAt(3), 16) >= 0 && Character.digit(t.charAt(4), 16) >= 0) {
            return new byte[]{(byte) Integer.parseInt(t.substring(3, 5), 16)};
        }
        String s = t.replace('\u2581', ' ');
        if (stripFirstSpace && prev == bos && s.startsWith(" ")) s = s.substring(1);
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
