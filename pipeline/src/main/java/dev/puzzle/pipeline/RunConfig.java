package dev.puzzle.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.bld.BldSettings;
import dev.puzzle.bld.Gkd;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.config.ConfigNode;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.hardware.TokenRate;
import dev.puzzle.hardware.Workload;
import dev.puzzle.mip.ArchitectureSearch;
import dev.puzzle.mip.Budget;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The run config (YAML): what a Puzzle run compresses, for which hardware and budgets, and where its
 * files go. Relative paths are relative to the config file. Unknown keys are errors.
 * <pre>
 * parent: hf:karpathy/tinyllamas/stories260K/stories260K.bin   # any model argument
 * tokenizer: hf:karpathy/tinyllamas/stories260K/tok512.bin     # optional
 * mirrors: [../../../shared/models]                            # optional, searched for hf: references
 * run_dir: ../../runs/stories260K                              # every stage's files
 * hardware: h100-80gb-sxm                                      # built-in profile, a YAML file, local-cpu or llamacpp-cpu
 * cost_model: roofline                                         # or measured (times the kernels here)
 * workload: {batch: 8, prefill_length: 128, generation_length: 128, weight_dtype: bf16, kv_dtype: bf16}
 * search_space: {attention: {...}, ffn: {...}, overrides: [...]}
 * data:                                                        # calibration and held-out text
 *   text: ../../../shared/models/tinystories-val-text/tinystories_val.txt
 *   seq_len: 128                                               # calibration (BLD) sequences
 *   eval_context: 256                                          # optional: held-out sequence length; default prefill + generation
 *   calibration: {offset: 0, sequences: 32}
 *   heldout: {offset: 600000, sequences: 8}
 * distill: {mode: decoupled, tokens: 16384, batch_sequences: 4, lr: 1e-3, warmup: 0.1, weight_decay: 0.1,
 *           clip: 1.0, cache_dtype: f32, seed: 1}
 * search:
 *   objective: metrics.kl_div
 *   maximize: false
 *   budgets: {throughput: 5000, memory_mib: 20, parameters: 2e5, latency_ms: 1.0, ttft_ms: 10,
 *             max: {stats.runtime_ms: 100}, min: {}}
 *   solutions: 3
 *   diversity: 2
 *   solver: cp-sat
 *   time_limit: 60
 * </pre>
 */
public final class RunConfig {
    public final ConfigNode root;
    public final Path file;

    private RunConfig(Path file, ConfigNode root) {
        this.file = file;
        this.root = root;
    }

    public static RunConfig read(Path file) {
        ConfigNode c = ConfigNode.read(file);
        c.allowOnly("parent", "tokenizer", "mirrors", "run_dir", "hardware", "cost_model", "workload", "search_space", "search",
                "data", "distill", "compress");
        RunConfig rc = new RunConfig(file, c);
        if (c.has("workload")) rc.workload();
        if (c.has("search")) rc.search();
        if (c.has("data")) rc.data();
        if (c.has("distill")) rc.distill();
        if (c.has("compress")) rc.compress();
        String cm = c.string("cost_model", "roofline");
        if (!cm.equals("roofline") && !cm.equals("measured")) throw c.error("cost_model", cm, "must be roofline or measured");
        return rc;
    }

    public String parent() {
        return root.pathValue("parent");
    }

    public String tokenizer() {
        return root.has("tokenizer") ? root.pathValue("tokenizer") : null;
    }

    public List<Path> mirrors() {
        List<Path> out = new ArrayList<>();
        Path base = file.toAbsolutePath().getParent();
        for (JsonNode j : root.list("mirrors")) out.add(base.resolve(j.asText()).normalize());
        return out;
    }

    public Path runDir() {
        return Path.of(root.pathValue("run_dir"));
    }

    public String hardware() {
        String h = root.string("hardware");
        Path p = file.toAbsolutePath().getParent().resolve(h);
        return java.nio.file.Files.exists(p) ? p.toString() : h;
    }

    public boolean measured() {
        return root.string("cost_model", "roofline").equals("measured");
    }

    /**
     * {@code workload.requests}: the tokens a request generates for each reasoning effort (e.g. {@code {low: 600, medium:
     * 2200, high: 9000}}), in the config's order; empty when not given. The report turns tokens/s into requests/s with them.
     */
    public java.util.LinkedHashMap<String, Integer> requests() {
        java.util.LinkedHashMap<String, Integer> out = new java.util.LinkedHashMap<>();
        ConfigNode w = root.child("workload");
        if (w.isMissing() || !w.has("requests")) return out;
        JsonNode r = w.node().get("requests");
        if (!r.isObject() || r.isEmpty()) throw w.error("requests", r, "must map each reasoning effort to its generated tokens per request, e.g. {low: 600, high: 9000}");
        for (var it = r.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isIntegralNumber() || e.getValue().asLong() < 1 || e.getValue().asLong() > Integer.MAX_VALUE) {
                throw w.error("requests." + e.getKey(), e.getValue(), "must be a positive whole number of generated tokens");
            }
            out.put(e.getKey(), e.getValue().asInt());
        }
        return out;
    }

    public Workload workload() {
        ConfigNode w = root.child("workload");
        if (w.isMissing()) throw root.error("workload", "(missing)", "required: {batch, prefill_length, generation_length, weight_dtype, kv_dtype}");
        try {
            return Workload.parse(w);
        } catch (PuzzleException e) {
            if (e.getMessage().startsWith(file.toString())) throw e;
            throw new PuzzleException(file + ": field 'workload': " + e.getMessage());
        }
    }

    /**
     * Where calibration and held-out sequences come from. Calibration sequences (BLD) are {@code seqLen} tokens;
     * held-out ones (scoring, evaluation) {@code evalContext} tokens, null meaning the workload's context
     * ({@link Run#evalContext()}): a sliding window or an FP8 KV cache only shows its damage at the positions it is used at.
     */
    public record Data(Path text, int seqLen, Integer evalContext, long calibrationOffset, int calibrationSequences, long heldoutOffset,
                       int heldoutSequences, int contextBound) {
        /**
         * Where the text GKD or QAD reads for a budget of {@code tokens} ends at most ({@link Run#distillationSequences}):
         * the calibration region, or, where the budget asks for more, one pass of distinct sequences of at most
         * {@link #contextBound} tokens from the calibration offset, {@code apart} more held apart to judge the result.
         * A token is at least one byte and a region reads at most 8 bytes a token (TokenData).
         */
        public long distillationEnd(long tokens, int apart) {
            long t = Math.max((long) calibrationSequences * seqLen, tokens + (long) (apart + 1) * contextBound);
            return calibrationOffset + t * 8 + 64;
        }

        /** How many sequences QAD holds apart to judge its result on: data.heldout's count, between 1 and 4. */
        public int qadJudged() {
            return Math.min(4, Math.max(1, heldoutSequences));
        }

        /** Where the held-out text ends at most (its sequences are at most {@link #contextBound} tokens). */
        public long heldoutEnd() {
            return heldoutOffset + (long) heldoutSequences * contextBound * 8 + 64;
        }
    }

    public Data data() {
        ConfigNode d = root.child("data");
        if (d.isMissing()) throw root.error("data", "(missing)", "required: {text, seq_len, calibration, heldout}");
        d.allowOnly("text", "seq_len", "eval_context", "calibration", "heldout");
        Path text = Path.of(d.pathValue("text"));
        if (!java.nio.file.Files.isRegularFile(text)) throw d.error("text", text, "no such file");
        ConfigNode cal = d.child("calibration"), held = d.child("heldout");
        if (cal.isMissing()) throw d.error("calibration", "(missing)", "required: {offset, sequences}");
        if (held.isMissing()) throw d.error("heldout", "(missing)", "required: {offset, sequences}");
        cal.allowOnly("offset", "sequences");
        held.allowOnly("offset", "sequences");
        int seqLen = d.integer("seq_len", 2);
        Integer evalContext = d.has("eval_context") ? d.integer("eval_context", 2) : null;
        int heldLen = evalContext != null ? evalContext : root.has("workload") ? Math.max(seqLen, workload().sequenceLength()) : seqLen;
        long co = (long) cal.number("offset", 0), ho = (long) held.number("offset", 0);
        int cs = cal.integer("sequences", 1), hs = held.integer("sequences", 1);
        // A token is at least one byte and a region reads at most 8 bytes a token (TokenData): the two regions,
        // so bounded, must not overlap, or the held-out text would not be unseen.
        Data data = new Data(text, seqLen, evalContext, co, cs, ho, hs, heldLen);
        long calEnd = co + (long) cs * seqLen * 8 + 64, heldEnd = data.heldoutEnd();
        if (co < heldEnd && ho < calEnd) {
            throw d.error("heldout.offset", ho, "may overlap the calibration text (bytes " + co + " to at most " + calEnd + "); held-out text must be unseen");
        }
        return data;
    }

    public BldSettings distill() {
        ConfigNode d = root.child("distill");
        if (d.isMissing()) return new BldSettings(false, 16384, 4, 1e-3, 0.1, 0.1, 1.0, 1);
        d.allowOnly("mode", "tokens", "batch_sequences", "lr", "warmup", "weight_decay", "clip", "cache_dtype", "seed");
        String mode = d.string("mode", "decoupled");
        if (!mode.equals("decoupled") && !mode.equals("coupled")) throw d.error("mode", mode, "must be decoupled or coupled");
        cacheDtype();
        try {
            return new BldSettings(mode.equals("coupled"), (long) d.number("tokens", 16384), d.integer("batch_sequences", 1, 4),
                    d.number("lr", 1e-3), d.number("warmup", 0.1), d.number("weight_decay", 0.1), d.number("clip", 1.0), (long) d.number("seed", 1));
        } catch (PuzzleException e) {
            throw new PuzzleException(file + ": " + e.getMessage());
        }
    }

    /**
     * A whole-model throughput target: absolute tokens/s on the hardware profile ({@code 2.6e5}), or a
     * speedup over the parent's own throughput there ({@code 1.5x}, the way the Puzzle papers state them).
     */
    public record Target(double value, boolean relative) {
        public Target {
            if (!(value > 0) || !Double.isFinite(value)) throw new IllegalArgumentException("a throughput target must be positive, got " + value);
        }

        /** Tokens/s this target asks for, given the parent's throughput on the same profile and workload. */
        public double tokensPerSecond(double parentTokensPerSecond) {
            return relative ? value * parentTokensPerSecond : value;
        }

        /** As written: {@code 1.5x} or {@code 260000}. */
        public String label() {
            return relative ? TokenRate.format(value) + "x" : String.format(Locale.ROOT, "%.0f", value);
        }
    }

    /**
     * The compress section: the sweep of whole-model throughput targets, an optional memory budget for
     * every child, whether to build baselines, the measuring harness, optional GKD, and whether to write a
     * GGUF for llama.cpp beside each child ({@code gguf}, default true). {@code margin}: each throughput target is
     * searched for {@code (1 + margin)} times its tokens/s, so that a child still meets it when the cost model errs by
     * that much (set it to the MAPE {@code profile --validate} measures; default 0).
     */
    public record Compress(List<Target> throughputs, Double memoryMib, boolean baselines, int prompt, int generate, int reps, Gkd.Settings gkd,
                           GgufExport gguf, Task task, Gkd.Settings qad, LlamaCpp llamaCpp, double margin) {}

    /**
     * {@code compress.llama_cpp: {dir, steps}}: each child's GGUF decoded by real llama.cpp — node-llama-cpp installed
     * under the npm prefix {@code dir} — beside this toolkit, one thread each, {@code steps} positions from BOS (default 128).
     */
    public record LlamaCpp(Path dir, int steps) {}

    /**
     * {@code compress.task}: a multiple-choice task every model is scored on (accuracy retained per child) — a JSON
     * Lines file ({@code file}), or {@code next_sentence: {offset, items}}: made from {@code data.text} at that byte
     * offset (which must not overlap the calibration text) into {@code RUN_DIR/tasks/next_sentence.jsonl}.
     */
    public record Task(Path file, Long nextSentenceOffset, int items) {}

    /**
     * {@code compress.gguf}: {@code false} writes no GGUF; {@code true} (the default) writes one beside every
     * child GGUF can express and says why not for the others; {@code required} also restricts the search to
     * blocks llama.cpp runs, so every Puzzle child has one.
     */
    public enum GgufExport { OFF, WHEN_EXPRESSIBLE, REQUIRED }

    public Compress compress() {
        ConfigNode c = root.child("compress");
        if (c.isMissing()) throw root.error("compress", "(missing)", "required: {throughputs: [...]}");
        c.allowOnly("throughputs", "memory_mib", "baselines", "measure", "gkd", "gguf", "task", "qad", "llama_cpp", "margin");
        double margin = c.number("margin", 0.0);
        if (!(margin >= 0 && margin < 1)) throw c.error("margin", margin, "must be in [0, 1): the share of speed the search keeps in reserve for the cost model's error");
        List<Target> t = new ArrayList<>();
        for (JsonNode j : c.list("throughputs")) t.add(target(c, j));
        if (t.isEmpty()) throw c.error("throughputs", "(missing)", "name at least one throughput target");
        if (t.stream().map(Target::relative).distinct().count() > 1) {
            throw c.error("throughputs", c.node().get("throughputs"), "do not mix absolute (tokens/s) and relative (1.5x) targets in one sweep");
        }
        t.sort(java.util.Comparator.comparingDouble(Target::value));
        ConfigNode m = c.child("measure");
        if (!m.isMissing()) m.allowOnly("prompt", "generate", "reps");
        int prompt = m.isMissing() ? 64 : m.integer("prompt", 1, 64), gen = m.isMissing() ? 64 : m.integer("generate", 1, 64);
        int reps = m.isMissing() ? 5 : m.integer("reps", 1, 5);
        workload();
        Data d = data();
        Gkd.Settings gkd = distillation(c, "gkd", 3e-4, 1.0), qad = distillation(c, "qad", 5e-4, 0.0);
        Task task = task(c);
        unseen(c, "gkd", gkd, d, 0, task);
        unseen(c, "qad", qad, d, d.qadJudged(), task);
        return new Compress(t, c.has("memory_mib") ? c.positive("memory_mib") : null, c.bool("baselines", true), prompt, gen, reps,
                gkd, ggufExport(c), task, qad, llamaCpp(c), margin);
    }

    /**
     * Fails where the text {@code compress.KEY} trains on ({@link Data#distillationEnd}: its token budget in distinct
     * sequences from the calibration offset) may reach into the held-out text or the next-sentence task's.
     */
    private static void unseen(ConfigNode c, String key, Gkd.Settings s, Data d, int apart, Task task) {
        if (s == null) return;
        long co = d.calibrationOffset(), end = d.distillationEnd(s.tokens(), apart);
        String what = co < d.heldoutEnd() && d.heldoutOffset() < end ? "the held-out text at byte " + d.heldoutOffset()
                : task != null && task.nextSentenceOffset() != null && co < task.nextSentenceOffset() + 4096L * task.items() && task.nextSentenceOffset() < end
                ? "the next-sentence task's text at byte " + task.nextSentenceOffset() : null;
        if (what != null) {
            throw c.child(key).error("tokens", s.tokens(), "trains on distinct text from the calibration offset (byte " + co + ") up to at most byte "
                    + end + ", which may overlap " + what + "; that text must be unseen: lower the tokens or move the other text's offset");
        }
    }

    /**
     * {@code compress.llama_cpp.dir} alone, checked (the npm prefix node-llama-cpp is installed under: the
     * {@code llamacpp-cpu} profile times blocks with it), or null when the config names none.
     */
    public Path llamaCppDir() {
        ConfigNode l = root.child("compress").child("llama_cpp");
        if (l.isMissing() || !l.has("dir")) return null;
        Path dir = file.toAbsolutePath().getParent().resolve(l.string("dir")).normalize();
        String problem = dev.puzzle.hardware.LlamaCpp.problem(dir);
        if (problem != null) throw l.error("dir", l.string("dir"), problem);
        return dir;
    }

    private LlamaCpp llamaCpp(ConfigNode c) {
        ConfigNode l = c.child("llama_cpp");
        if (l.isMissing()) return null;
        l.allowOnly("dir", "steps");
        if (!l.has("dir")) throw l.error("dir", "(missing)", "required: the npm prefix node-llama-cpp is installed under");
        Path dir = llamaCppDir();
        if (ggufExport(c) == GgufExport.OFF) throw c.error("gguf", false, "llama_cpp measures each child's GGUF: gguf may not be false");
        return new LlamaCpp(dir, l.integer("steps", 2, 128));
    }

    /**
     * {@code compress.gkd} or {@code compress.qad}: end-to-end distillation of each child against the parent ({@code tokens},
     * {@code batch_sequences}, {@code lr}, {@code cosine_weight}, {@code checkpoint_every}, {@code seed}); null when absent.
     */
    private Gkd.Settings distillation(ConfigNode c, String key, double lr, double cosine) {
        ConfigNode g = c.child(key);
        if (g.isMissing()) return null;
        g.allowOnly("tokens", "batch_sequences", "lr", "cosine_weight", "checkpoint_every", "seed");
        try {
            return new Gkd.Settings((long) g.number("tokens"), g.integer("batch_sequences", 1, 2), g.number("lr", lr),
                    g.number("cosine_weight", cosine), g.integer("checkpoint_every", 1, 20), (long) g.number("seed", 1));
        } catch (PuzzleException e) {
            throw new PuzzleException(file + ": field 'compress." + key + "': " + e.getMessage());
        }
    }

    private Task task(ConfigNode c) {
        if (!c.has("task")) return null;
        ConfigNode t = c.child("task");
        JsonNode v = c.node().get("task");
        if (v.isTextual()) {
            Path f = file.toAbsolutePath().getParent().resolve(v.asText()).normalize();
            if (!java.nio.file.Files.isRegularFile(f)) throw c.error("task", v.asText(), "no such file (a JSON Lines task: context, choices, gold)");
            return new Task(f, null, 0);
        }
        if (!v.isObject()) throw c.error("task", v, "must be a JSON Lines file or {next_sentence: {offset, items}}");
        t.allowOnly("next_sentence");
        ConfigNode ns = t.child("next_sentence");
        if (ns.isMissing()) throw t.error("next_sentence", "(missing)", "required: {offset, items}");
        ns.allowOnly("offset", "items");
        long off = (long) ns.number("offset", 0);
        int items = ns.integer("items", 4, 100);
        Data d = data();
        long calEnd = d.calibrationOffset() + (long) d.calibrationSequences() * d.seqLen() * 8 + 64;
        if (off < calEnd && d.calibrationOffset() < off + 4096L * items) {
            throw ns.error("offset", off, "may overlap the calibration text (bytes " + d.calibrationOffset() + " to at most " + calEnd + "); a task must be unseen");
        }
        return new Task(null, off, items);
    }

    private static GgufExport ggufExport(ConfigNode c) {
        if (!c.has("gguf")) return GgufExport.WHEN_EXPRESSIBLE;
        JsonNode v = c.node().get("gguf");
        if (v.isBoolean()) return v.asBoolean() ? GgufExport.WHEN_EXPRESSIBLE : GgufExport.OFF;
        if (v.isTextual() && v.asText().equals("required")) return GgufExport.REQUIRED;
        throw c.error("gguf", v, "must be true, false or required");
    }

    private static Target target(ConfigNode c, JsonNode j) {
        if (j.isNumber() && j.asDouble() > 0 && Double.isFinite(j.asDouble())) return new Target(j.asDouble(), false);
        String s = j.asText().trim().toLowerCase(Locale.ROOT);
        if (j.isTextual() && s.endsWith("x")) {
            try {
                double v = Double.parseDouble(s.substring(0, s.length() - 1).trim());
                if (v > 0 && Double.isFinite(v)) return new Target(v, true);
            } catch (NumberFormatException e) {
                // fall through to the message
            }
        }
        throw c.error("throughputs", j, "must be positive tokens/s (2.6e5) or speedups over the parent (1.5x)");
    }

    /** A whole-model budget on {@code key}, net of the embeddings' and head's share (from model_costs.json). */
    /**
     * The sections that shape the stages' outputs (parent, hardware, cost model, workload, search space,
     * data, distill, GKD), as written: a run directory made from other ones cannot be resumed.
     */
    public ObjectNode fingerprint() {
        ObjectNode fp = new ObjectMapper().createObjectNode();
        JsonNode r = root.node();
        for (String k : new String[]{"parent", "hardware", "cost_model", "workload", "search_space", "data", "distill"}) if (r.has(k)) fp.set(k, r.get(k).deepCopy());
        if (fp.path("workload").isObject()) ((ObjectNode) fp.get("workload")).remove("requests"); // the report's tokens per request: no stage's output depends on them
        if (r.path("compress").has("gkd")) fp.set("gkd", r.get("compress").get("gkd"));
        if (r.path("compress").has("qad")) fp.set("qad", r.get("compress").get("qad"));
        if (r.path("compress").has("margin")) fp.set("margin", r.get("compress").get("margin")); // it moves every budget
        if (r.path("compress").path("gguf").asText("").equals("required")) fp.put("gguf", "required"); // it narrows the search space
        // Held-out text is read at the workload's context unless data.eval_context says otherwise (run directories
        // scored before that, at data.seq_len, carry no such key and are refused rather than mixed).
        if (!r.path("data").has("eval_context")) fp.put("eval_context", "workload");
        return fp;
    }

    public DType cacheDtype() {
        ConfigNode d = root.child("distill");
        String dt = d.isMissing() ? "f32" : d.string("cache_dtype", "f32");
        return switch (dt) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            default -> throw d.error("cache_dtype", dt, "must be f32 or bf16");
        };
    }

    public ConfigNode searchSpace() {
        return root.child("search_space");
    }

    /** The search section: objective, sense, budgets (human ones translated), solutions, diversity, solver, time limit. */
    public record Search(String objective, boolean maximize, List<Budget> budgets, int solutions, int diversity, ArchitectureSearch.Backend solver,
                         double timeLimit) {}

    public Search search() {
        return search(java.util.Map.of());
    }

    /**
     * The search settings compress uses for every target: the search section's objective, sense, solver
     * and time limit when it has one (its budgets are replaced by each target's), else KL, CP-SAT, 60 s.
     */
    public Search compressSearch() {
        if (!root.has("search")) return new Search(LibraryKeys.KL_DIV, false, List.of(), 1, 0, ArchitectureSearch.Backend.CP_SAT, 60);
        return search();
    }

    /**
     * The search section. Human budgets (throughput, memory, parameters, latency, TTFT) describe the whole
     * model: the share of the embeddings and head ({@code fixed}, by stats key) is subtracted, since the
     * MIP sums the layers only. Raw {@code max}/{@code min} budgets are on the layer sums as written.
     */
    public Search search(java.util.Map<String, Double> fixed) {
        ConfigNode s = root.child("search");
        if (s.isMissing()) throw root.error("search", "(missing)", "required: {objective, budgets, ...}");
        s.allowOnly("objective", "maximize", "budgets", "solutions", "diversity", "solver", "time_limit");
        List<Budget> budgets = new ArrayList<>();
        WholeModel whole = new WholeModel(fixed);
        ConfigNode b = s.child("budgets");
        if (!b.isMissing()) {
            b.allowOnly("throughput", "memory_mib", "parameters", "latency_ms", "ttft_ms", "max", "min");
            if (b.has("throughput")) {
                Workload w = workload();
                budgets.add(whole.throughput(b.positive("throughput"), w.batch(), w.generationLength()));
            }
            if (b.has("memory_mib")) budgets.add(whole.atMost("stats.memory_mib", b.positive("memory_mib")));
            if (b.has("parameters")) budgets.add(whole.atMost("stats.num_params", b.positive("parameters")));
            if (b.has("latency_ms")) {
                // Per generated token: the workload decodes its batch in lockstep, one step per token.
                budgets.add(whole.atMost("stats.decode_ms", b.positive("latency_ms") * Math.max(1, workload().generationLength())));
            }
            if (b.has("ttft_ms")) budgets.add(whole.atMost("stats.prefill_ms", b.positive("ttft_ms")));
            for (String side : new String[]{"max", "min"}) {
                ConfigNode m = b.child(side);
                if (m.isMissing()) continue;
                for (String k : m.keys()) budgets.add(side.equals("max") ? Budget.atMost(k, m.number(k)) : Budget.atLeast(k, m.number(k)));
            }
        }
        String solverName = s.string("solver", "cp-sat");
        if (!solverName.equals("cp-sat") && !solverName.equals("scip")) throw s.error("solver", solverName, "must be cp-sat or scip");
        ArchitectureSearch.Backend solver = ArchitectureSearch.Backend.parse(solverName);
        double tl = s.number("time_limit", 60);
        if (!(tl > 0)) throw s.error("time_limit", tl, "must be positive");
        return new Search(s.string("objective"), s.bool("maximize", false), budgets, s.integer("solutions", 1, 1),
                s.integer("diversity", 0, 1), solver, tl);
    }
}
