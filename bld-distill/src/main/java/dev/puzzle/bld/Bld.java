package dev.puzzle.bld;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.blocklibrary.CandidateInit;
import dev.puzzle.blocklibrary.CandidateStore;
import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.io.PartWeights;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The library and distill stages over a run directory: {@code cache/} (parent activations),
 * {@code library/} (initialized candidates), {@code distill/} (trained candidates and their loss
 * curves). A job is finished when its loss curve exists (written after its weights), so a restart
 * skips it; {@code shard i/N} takes every N-th job from i, so N processes or machines split one run.
 */
public final class Bld {
    private Bld() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    public static ActivationCache cache(Path runDir) {
        return new ActivationCache(new RunLayout(runDir).cacheDir());
    }

    public static CandidateStore library(Path runDir) {
        return new CandidateStore(new RunLayout(runDir).libraryDir());
    }

    public static CandidateStore distilled(Path runDir) {
        return new CandidateStore(new RunLayout(runDir).distillDir());
    }

    /** The distinct attention and FFN variants of one layer across its candidates, in candidate order. */
    public static Set<AttentionConfig> attentions(List<SearchSpace.Candidate> cands) {
        Set<AttentionConfig> s = new LinkedHashSet<>();
        for (SearchSpace.Candidate c : cands) s.add(c.block().attention());
        return s;
    }

    public static Set<FfnConfig> ffns(List<SearchSpace.Candidate> cands) {
        Set<FfnConfig> s = new LinkedHashSet<>();
        for (SearchSpace.Candidate c : cands) s.add(c.block().ffn());
        return s;
    }

    /** Builds the activation cache and initializes every candidate part that has no file yet. */
    public static void buildLibrary(Backend backend, Checkpoint parent, SearchSpace space, int[][] calibration, Path runDir, DType cacheDtype,
                                    IntConsumer cacheProgress, IntConsumer initProgress) throws IOException {
        buildLibrary(backend, parent, space, calibration, runDir, cacheDtype, cacheProgress, initProgress, null);
    }

    /**
     * As above; MoE candidates with fewer experts keep the experts {@code experts} ranks highest on the
     * layer's cached FFN input (scored once per layer).
     */
    public static void buildLibrary(Backend backend, Checkpoint parent, SearchSpace space, int[][] calibration, Path runDir, DType cacheDtype,
                                    IntConsumer cacheProgress, IntConsumer initProgress, dev.puzzle.blocklibrary.ExpertScoring.Scorer experts) throws IOException {
        ModelConfig c = parent.config();
        ActivationCache cache = cache(runDir);
        cache.build(backend, parent, calibration, cacheDtype, cacheProgress);
        CandidateStore store = library(runDir);
        for (int l = 0; l < c.numLayers(); l++) {
            List<SearchSpace.Candidate> need = space.candidates(c, l);
            BlockConfig mine = c.parentBlock(l);
            final int layer = l;
            boolean all = attentions(need).stream().allMatch(at -> at.equals(mine.attention()) || store.has(layer, BlockNames.id(at)))
                    && ffns(need).stream().allMatch(f -> f.equals(mine.ffn()) || store.has(layer, BlockNames.id(f)));
            if (all) { // initialized by an earlier run: not even its cache is read
                if (initProgress != null) initProgress.accept(l + 1);
                continue;
            }
            ActivationCache.Layer a = cache.read(l);
            int N = a.rows(), D = c.dim();
            float[] attnY = new float[N * D], ffnY = new float[N * D];
            for (int i = 0; i < attnY.length; i++) {
                attnY[i] = a.mid()[i] - a.input()[i];
                ffnY[i] = a.output()[i] - a.mid()[i];
            }
            List<SearchSpace.Candidate> cands = space.candidates(c, l);
            BlockConfig own = c.parentBlock(l); // the parent's own parts are read from the parent, not copied
            for (AttentionConfig at : attentions(cands)) {
                if (at.equals(own.attention())) continue;
                String id = BlockNames.id(at);
                if (!store.has(l, id)) store.write(l, id, CandidateInit.attention(backend, c, parent.tensors(), l, at, a.input(), attnY, N));
            }
            double[][] scores = new double[1][]; // one scoring per layer, shared by its MoE candidates
            dev.puzzle.blocklibrary.ExpertScoring.Scorer once = experts == null ? null : (op, x, n) -> {
                if (scores[0] == null) scores[0] = experts.score(op, x, n);
                return scores[0];
            };
            for (FfnConfig f : ffns(cands)) {
                if (f.equals(own.ffn())) continue;
                String id = BlockNames.id(f);
                if (!store.has(l, id)) store.write(l, id, CandidateInit.ffn(backend, c, parent.tensors(), l, f, a.mid(), ffnY, N, once));
            }
            if (initProgress != null) initProgress.accept(l + 1);
        }
    }

    /**
     * The tensors (HF names of layer l) of a whole block: in coupled mode the distilled block when BLD
     * trained it; otherwise each part distilled where BLD trained it, else its initialization — and a part
     * that is the parent's own, the parent's tensors (as loaded: mapped stays mapped). With {@code trained}
     * false, the initialization only.
     */
    public static Map<String, Tensor> blockTensors(Checkpoint parent, Path runDir, int l, BlockConfig b, boolean coupled, boolean trained) {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        String blockId = new BldJob(l, b.attention(), b.ffn()).id();
        if (trained && coupled && distilled(runDir).has(l, blockId)) {
            out.putAll(distilled(runDir).read(l, blockId));
            return out;
        }
        CandidateStore lib = library(runDir), dist = distilled(runDir); // BLD never trains the parent's own parts
        String aId = BlockNames.id(b.attention()), fId = BlockNames.id(b.ffn());
        boolean parts = trained && !coupled;
        out.putAll(parts && dist.has(l, aId) ? dist.read(l, aId) : initialPart(parent, lib, l, b.attention()));
        out.putAll(parts && dist.has(l, fId) ? dist.read(l, fId) : initialPart(parent, lib, l, b.ffn()));
        return out;
    }

    /** An attention part's initialization: the parent's own tensors when it is the parent's part, else the library's. */
    static Map<String, Tensor> initialPart(Checkpoint parent, CandidateStore lib, int l, AttentionConfig a) {
        return a.equals(parent.config().parentBlock(l).attention()) ? parentPart(parent, l, true) : lib.read(l, BlockNames.id(a));
    }

    /** An FFN part's initialization: the parent's own tensors when it is the parent's part, else the library's. */
    static Map<String, Tensor> initialPart(Checkpoint parent, CandidateStore lib, int l, FfnConfig f) {
        return f.equals(parent.config().parentBlock(l).ffn()) ? parentPart(parent, l, false) : lib.read(l, BlockNames.id(f));
    }

    /** The parent's tensors of layer l's attention part (its norm and self_attn) or FFN part (its norm and mlp). */
    static Map<String, Tensor> parentPart(Checkpoint parent, int l, boolean attention) {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        parent.tensors().forEach((k, v) -> {
            if (TensorNames.inPart(k, l, attention)) out.put(k, v);
        });
        return out;
    }

    /** The child checkpoint of an architecture: the parent with every non-parent layer's tensors replaced. */
    public static Checkpoint realize(Checkpoint parent, List<BlockConfig> blocks, Path runDir, boolean coupled) {
        return realize(parent, blocks, runDir, coupled, true);
    }

    /** As above; {@code trained} false: every part from its initialization (a quantized part of the parent's own: its weights rounded). */
    public static Checkpoint realize(Checkpoint parent, List<BlockConfig> blocks, Path runDir, boolean coupled, boolean trained) {
        ModelConfig c = parent.config();
        if (blocks.size() != c.numLayers()) throw new IllegalArgumentException("need " + c.numLayers() + " blocks, got " + blocks.size());
        Map<String, Tensor> t = new java.util.LinkedHashMap<>();
        Map<String, DType> types = new java.util.LinkedHashMap<>();
        for (var e : parent.tensors().entrySet()) {
            String k = e.getKey();
            int layer = layerOf(k);
            if (layer >= 0 && !blocks.get(layer).equals(c.parentBlock(layer))) continue;
            t.put(k, e.getValue());
            types.put(k, parent.storedTypes().getOrDefault(k, DType.F32));
        }
        DType dominant = parent.dominantDType();
        for (int l = 0; l < blocks.size(); l++) {
            BlockConfig b = blocks.get(l);
            if (b.equals(c.parentBlock(l))) continue;
            Map<String, Tensor> bt = blockTensors(parent, runDir, l, b, coupled, trained);
            if (b.attention().quantizedWeights() != null) bt = PartWeights.quantized(bt, l, true, b.attention().quantizedWeights()); // masters → stored format
            if (b.ffn().quantizedWeights() != null) bt = PartWeights.quantized(bt, l, false, b.ffn().quantizedWeights());
            for (var e : bt.entrySet()) {
                Tensor v = e.getValue();
                t.put(e.getKey(), v);
                types.put(e.getKey(), v.dtype().isQuantized() ? v.dtype() : v.rank() == 1 ? DType.F32 : dominant);
            }
        }
        return new Checkpoint(c.withBlocks(blocks), t, types, parent.tokenizer(), "child of " + parent.source());
    }

    /** The layer index of a tensor name model.layers.N..., else −1. */
    static int layerOf(String name) {
        if (!name.startsWith("model.layers.")) return -1;
        int end = name.indexOf('.', "model.layers.".length());
        return Integer.parseInt(name.substring("model.layers.".length(), end));
    }

    /**
     * Block influence of every layer (ShortGPT, Men et al. 2024): 1 − mean over tokens of cos(x_in, x_out) on the
     * cached calibration activations. Low influence: the layer changes the residual stream little.
     */
    public static double[] blockInfluence(Path runDir, int layers) {
        double[] bi = new double[layers];
        for (int l = 0; l < layers; l++) {
            ActivationCache.Layer a = cache(runDir).read(l);
            int N = a.rows(), D = a.input().length / N;
            double sum = 0;
            for (int n = 0; n < N; n++) {
                double dot = 0, x2 = 0, y2 = 0;
                for (int i = 0; i < D; i++) {
                    double x = a.input()[n * D + i], y = a.output()[n * D + i];
                    dot += x * y;
                    x2 += x * x;
                    y2 += y * y;
                }
                sum += dot / Math.max(1e-30, Math.sqrt(x2 * y2));
            }
            bi[l] = 1 - sum / N;
        }
        return bi;
    }

    /**
     * Every job of the run, in a fixed order: decoupled — each attention and each FFN variant of each layer
     * that differs from the parent and has weights; coupled — each whole-block candidate that differs from
     * the parent and is not empty.
     */
    public static List<BldJob> jobs(ModelConfig c, SearchSpace space, boolean coupled) {
        List<BldJob> out = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            List<SearchSpace.Candidate> cands = space.candidates(c, l);
            BlockConfig own = c.parentBlock(l); // the parent's own parts need no training
            if (coupled) {
                for (SearchSpace.Candidate cand : cands) {
                    BlockConfig b = cand.block();
                    if (!b.empty() && !b.equals(own)) out.add(new BldJob(l, b.attention(), b.ffn()));
                }
            } else {
                for (AttentionConfig a : attentions(cands)) {
                    if (!a.equals(own.attention()) && a.hasWeights()) out.add(new BldJob(l, a, null));
                }
                for (FfnConfig f : ffns(cands)) {
                    if (!f.equals(own.ffn()) && f.hasWeights()) out.add(new BldJob(l, null, f));
                }
            }
        }
        return out;
    }

    /** "i/N" → {i, N}; a clear error otherwise. */
    public static int[] parseShard(String s) {
        String[] p = s.split("/");
        try {
            int i = Integer.parseInt(p[0].trim()), n = Integer.parseInt(p[1].trim());
            if (p.length == 2 && n >= 1 && i >= 0 && i < n) return new int[]{i, n};
        } catch (RuntimeException e) {
            // fall through to the message
        }
        throw PuzzleException.setting("shard", s, "expected i/N with 0 <= i < N (e.g. 0/2 and 1/2)");
    }

    public static Path curveFile(Path runDir, BldJob job) {
        return distilled(runDir).file(job.layer(), job.id()).resolveSibling(job.id() + ".loss.json");
    }

    /**
     * The marker of a job started and not finished ({@code puzzle status} counts it as running): written
     * when the job starts, removed when its output is in place. A crash leaves it until the job reruns.
     */
    public static Path startedFile(Path output) {
        return output.resolveSibling(output.getFileName() + ".started");
    }

    /** Marks {@code output}'s job started, naming the host and process. */
    public static void markStarted(Path output) throws IOException {
        AtomicFiles.writeString(startedFile(output), java.net.InetAddress.getLocalHost().getHostName() + " pid " + ProcessHandle.current().pid() + " at "
                + java.time.Instant.now() + "\n");
    }

    /** Where a job that diverged says why ({@link Diverged}); its candidate is left out of the library. */
    public static Path failedFile(Path runDir, BldJob job) {
        return distilled(runDir).file(job.layer(), job.id()).resolveSibling(job.id() + ".failed.txt");
    }

    /** Finished: trained (its curve written last, its weights intact) or diverged (said in its failed file). */
    public static boolean done(Path runDir, BldJob job) {
        return Files.exists(failedFile(runDir, job)) || (Files.exists(curveFile(runDir, job)) && distilled(runDir).has(job.layer(), job.id()));
    }

    /** Records that a job diverged, so that reruns do not repeat it and the library and report leave its candidate out. */
    public static void recordDivergence(Path runDir, BldJob job, Diverged d) throws IOException {
        dev.puzzle.core.Notices.say(d.getMessage() + "; left out of the library");
        AtomicFiles.writeString(failedFile(runDir, job), d.getMessage() + "\n");
    }

    /** The BLD jobs that train block {@code b} of layer {@code l}: its two parts (decoupled), or the whole block (coupled). */
    public static List<BldJob> jobsOf(int l, BlockConfig b, boolean coupled) {
        return coupled ? List.of(new BldJob(l, b.attention(), b.ffn())) : List.of(new BldJob(l, b.attention(), null), new BldJob(l, null, b.ffn()));
    }

    /**
     * Why block {@code b} of layer {@code l} is left out of the library: one of its BLD jobs diverged (its
     * parts in decoupled mode, the whole block in coupled mode); null when none did.
     */
    public static String divergence(Path runDir, int l, BlockConfig b, boolean coupled) {
        for (BldJob j : jobsOf(l, b, coupled)) {
            Path f = failedFile(runDir, j);
            if (Files.exists(f)) {
                try {
                    return Files.readString(f).strip();
                } catch (IOException e) {
                    return f + ": diverged";
                }
            }
        }
        return null;
    }

    /** Every job of the run directory that diverged, as said when it did. */
    public static List<String> divergences(Path runDir) {
        Path d = distilled(runDir).dir();
        if (!Files.isDirectory(d)) return List.of();
        try (java.util.stream.Stream<Path> s = Files.walk(d)) {
            List<String> out = new ArrayList<>();
            for (Path f : s.filter(p -> p.getFileName().toString().endsWith(".failed.txt")).sorted().toList()) out.add(Files.readString(f).strip());
            return out;
        } catch (IOException e) {
            throw new PuzzleException(d + ": cannot list: " + e.getMessage(), e);
        }
    }

    /** Reads a finished job's curve. */
    public static BldTrainer.Curve curve(Path runDir, BldJob job) {
        return readCurve(curveFile(runDir, job));
    }

    private static BldTrainer.Curve readCurve(Path f) {
        try {
            var n = JSON.readTree(f.toFile());
            double[] steps = new double[n.get("steps").size()];
            for (int i = 0; i < steps.length; i++) steps[i] = n.get("steps").get(i).asDouble();
            return new BldTrainer.Curve(n.get("loss_before").asDouble(), n.get("loss_after").asDouble(), steps, n.path("kept_init").asBoolean(false));
        } catch (IOException e) {
            throw new PuzzleException(f + ": cannot read: " + e.getMessage());
        }
    }

    /** Every finished job's curve, by job id without its layer ({@code attn-gqa2}: a candidate family), layers in order. */
    public static java.util.Map<String, List<BldTrainer.Curve>> curvesByFamily(Path runDir) {
        Path d = distilled(runDir).dir();
        java.util.Map<String, List<BldTrainer.Curve>> out = new java.util.TreeMap<>();
        if (!Files.isDirectory(d)) return out;
        try (java.util.stream.Stream<Path> s = Files.walk(d)) {
            for (Path f : s.filter(p -> p.getFileName().toString().endsWith(".loss.json")).sorted().toList()) {
                String name = f.getFileName().toString();
                out.computeIfAbsent(name.substring(0, name.length() - ".loss.json".length()), k -> new ArrayList<>()).add(readCurve(f));
            }
            return out;
        } catch (IOException e) {
            throw new PuzzleException(d + ": cannot list: " + e.getMessage(), e);
        }
    }

    /**
     * Trains the unfinished jobs of shard {@code shard[0]} of {@code shard[1]} on {@code threads} workers.
     * {@code progress} gets (jobs of this shard done, total of this shard).
     */
    public static int distill(Backend backend, Checkpoint parent, SearchSpace space, BldSettings st, Path runDir, int[] shard, int threads,
                              java.util.function.BiConsumer<Integer, Integer> progress) throws Exception {
        ModelConfig c = parent.config();
        List<BldJob> all = jobs(c, space, st.coupled());
        List<BldJob> mine = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) if (i % shard[1] == shard[0]) mine.add(all.get(i));
        List<BldJob> todo = new ArrayList<>();
        for (BldJob j : mine) if (!done(runDir, j)) todo.add(j);
        int total = mine.size();
        AtomicInteger finished = new AtomicInteger(total - todo.size());
        if (progress != null) progress.accept(finished.get(), total);
        ActivationCache cache = cache(runDir);
        CandidateStore lib = library(runDir), out = distilled(runDir);
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "bld-job");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (BldJob job : todo) {
                fs.add(pool.submit(() -> {
                    Path curveOut = curveFile(runDir, job);
                    markStarted(curveOut);
                    try {
                        return distillOne(backend, parent, c, job, lib, out, cache, st, runDir, progress, finished, total);
                    } finally {
                        Files.deleteIfExists(startedFile(curveOut));
                    }
                }));
            }
            for (Future<?> f : fs) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof Exception ex) throw ex;
                    throw e;
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return todo.size();
    }

    private static Void distillOne(Backend backend, Checkpoint parent, ModelConfig c, BldJob job, CandidateStore lib, CandidateStore out, ActivationCache cache,
                                   BldSettings st, Path runDir, java.util.function.BiConsumer<Integer, Integer> progress, AtomicInteger finished, int total) throws IOException {
        Map<String, Tensor> init = new java.util.LinkedHashMap<>();
        // A coupled block may keep one of the parent's own parts.
        if (job.attention() != null) init.putAll(initialPart(parent, lib, job.layer(), job.attention()));
        if (job.ffn() != null) init.putAll(initialPart(parent, lib, job.layer(), job.ffn()));
        BldTrainer.Result r;
        try {
            r = BldTrainer.train(backend, c, job, init, cache.read(job.layer()), st);
        } catch (Diverged d) { // this job stops; the others go on
            recordDivergence(runDir, job, d);
            if (progress != null) progress.accept(finished.incrementAndGet(), total);
            return null;
        }
        out.write(job.layer(), job.id(), r.weights());
        writeCurve(runDir, job, r.curve()); // last: marks the job finished
        if (progress != null) progress.accept(finished.incrementAndGet(), total);
        return null;
    }

    private static void writeCurve(Path runDir, BldJob job, BldTrainer.Curve c) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("job", job.key());
        o.put("loss_before", c.before());
        o.put("loss_after", c.after());
        o.put("kept_init", c.keptInit());
        ArrayNode s = o.putArray("steps");
        for (double v : c.steps()) s.add(v);
        AtomicFiles.writeString(curveFile(runDir, job), JSON.writeValueAsString(o) + "\n");
    }
}
