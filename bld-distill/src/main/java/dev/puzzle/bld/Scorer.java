package dev.puzzle.bld;

import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.eval.Losses;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.TensorNames;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Replace-1-block scoring (Puzzle, section 3.3): the parent with only one layer replaced by a candidate,
 * on held-out tokens, against the parent: KL(parent ‖ child) of the next-token distributions (mean per
 * position), the LM loss, top-1 agreement, and the cosine of the final hidden states. Candidates use
 * their distilled weights where BLD trained them, else their initialization; metrics of the
 * initialization are kept too ({@code *_init}) so the gain from BLD is visible.
 */
public final class Scorer {
    private Scorer() {}

    /** The parent's outputs on the held-out sequences. */
    public record Reference(float[][] logits, float[][] hidden) {}

    public static Reference run(Backend backend, Checkpoint ck, int[][] seqs) {
        Decoder d = new Decoder(ck, backend);
        int T = seqs[0].length;
        float[][] lg = new float[seqs.length][], hd = new float[seqs.length][];
        for (int s = 0; s < seqs.length; s++) {
            Decoder.State st = d.newState(T);
            hd[s] = d.hidden(st, seqs[s], 0, T);
            lg[s] = d.logits(hd[s], T, true);
        }
        return new Reference(lg, hd);
    }

    public static Map<String, Double> metrics(Backend backend, Reference parent, Reference child, int[][] seqs, int V, int D) {
        Losses losses = new Losses(backend.kernels());
        double kl = 0, ce = 0, agree = 0, cos = 0;
        int n = 0, nce = 0;
        for (int s = 0; s < seqs.length; s++) {
            int T = seqs[s].length;
            for (int t = 0; t < T; t++) {
                kl += losses.kl(parent.logits()[s], t * V, child.logits()[s], t * V, V);
                if (Losses.argmax(parent.logits()[s], t * V, V) == Losses.argmax(child.logits()[s], t * V, V)) agree++;
                if (t + 1 < T) {
                    ce += losses.crossEntropy(child.logits()[s], t * V, V, seqs[s][t + 1]);
                    nce++;
                }
                double dot = 0, a = 0, b = 0;
                for (int i = 0; i < D; i++) {
                    double p = parent.hidden()[s][t * D + i], q = child.hidden()[s][t * D + i];
                    dot += p * q;
                    a += p * p;
                    b += q * q;
                }
                cos += dot / Math.max(1e-30, Math.sqrt(a * b));
                n++;
            }
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(LibraryKeys.KL_DIV, kl / n);
        m.put(LibraryKeys.LM_LOSS, ce / nce);
        m.put(LibraryKeys.TOP1_AGREEMENT, agree / n);
        m.put(LibraryKeys.HIDDEN_COSINE, cos / n);
        return m;
    }

    /**
     * A child that differs from the parent from layer {@code first} on, run on the held-out sequences from the parent's
     * residual stream entering that layer ({@code in}, one per sequence): the layers before it are the parent's, so
     * their output is the parent's, bit for bit — not computed again.
     */
    static Reference runFrom(Backend backend, Checkpoint child, float[][] in, int first, int[][] seqs) {
        Decoder d = new Decoder(child, backend);
        float[][] lg = new float[seqs.length][], hd = new float[seqs.length][];
        for (int s = 0; s < seqs.length; s++) {
            int T = seqs[s].length;
            hd[s] = in[s].clone();
            d.layers(hd[s], T, first, child.config().numLayers());
            lg[s] = d.logits(hd[s], T, true);
        }
        return new Reference(lg, hd);
    }

    /** The parent's residual stream per held-out sequence entering a layer, advanced one parent layer at a time. */
    static final class Prefix {
        private final Decoder parent;
        private final int[][] seqs;
        private final float[][] x;
        private int at;

        Prefix(Backend backend, Checkpoint parent, int[][] seqs) {
            this.parent = new Decoder(parent, backend);
            this.seqs = seqs;
            x = new float[seqs.length][];
            for (int s = 0; s < seqs.length; s++) x[s] = this.parent.embed(seqs[s], 0, seqs[s].length);
        }

        /** The streams entering layer l (l never below the last asked: layers are scored in order). */
        float[][] at(int l) {
            if (l < at) throw new IllegalStateException("layer " + l + " asked after layer " + at);
            for (; at < l; at++) for (int s = 0; s < seqs.length; s++) parent.layers(x[s], seqs[s].length, at, at + 1);
            return x;
        }
    }

    /** The parent with layer l's tensors replaced by the candidate's, and its block. */
    static Checkpoint replaced(Checkpoint parent, int l, BlockConfig block, Map<String, Tensor> candidate) {
        return replaced(parent, l, List.of(block), candidate);
    }

    /** The parent with layers first..first+blocks−1 replaced by {@code blocks}, whose tensors are {@code candidate}. */
    public static Checkpoint replaced(Checkpoint parent, int first, List<BlockConfig> span, Map<String, Tensor> candidate) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        parent.tensors().forEach((k, v) -> {
            for (int l = first; l < first + span.size(); l++) if (k.startsWith(TensorNames.layer(l, ""))) return;
            t.put(k, v);
        });
        t.putAll(candidate);
        Map<String, DType> types = new LinkedHashMap<>();
        t.keySet().forEach(k -> types.put(k, DType.F32));
        List<BlockConfig> blocks = new ArrayList<>(parent.config().blocks());
        for (int k = 0; k < span.size(); k++) blocks.set(first + k, span.get(k));
        String what = span.size() == 1 ? "layer " + first : "layers " + first + "-" + (first + span.size() - 1);
        return new Checkpoint(parent.config().withBlocks(blocks), t, types, null, parent.source() + " with " + what + " replaced");
    }

    /** One candidate's scores, kept as soon as they are computed, so that an interrupted scoring resumes per candidate. */
    public static Path jobFile(Path runDir, int l, dev.puzzle.core.model.BlockConfig b) {
        return new RunLayout(runDir).scoreJob(l, b);
    }

    /** Whether a kept score is newer than every distilled weight file it was computed from (else: score again). */
    private static boolean newerThanWeights(Path runDir, Path job, int l, dev.puzzle.core.model.BlockConfig b, boolean coupled) {
        try {
            if (!java.nio.file.Files.exists(job)) return false;
            long t = java.nio.file.Files.getLastModifiedTime(job).toMillis();
            for (BldJob j : Bld.jobsOf(l, b, coupled)) {
                Path w = Bld.distilled(runDir).file(j.layer(), j.id());
                if (java.nio.file.Files.exists(w) && java.nio.file.Files.getLastModifiedTime(w).toMillis() > t) return false;
            }
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** A kept score of candidate {@code name}, or null when there is none (or it is unreadable, or of another candidate). */
    public static Map<String, Double> readJob(Path f, String name) {
        if (!java.nio.file.Files.exists(f)) return null;
        try {
            com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(f.toFile());
            if (!name.equals(n.path("name").asText())) return null;
            Map<String, Double> m = new LinkedHashMap<>();
            n.path("metrics").fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asDouble()));
            return m.isEmpty() ? null : m;
        } catch (java.io.IOException | RuntimeException e) {
            return null; // unreadable: score again
        }
    }

    private static void writeJob(Path f, String name, Map<String, Double> m, int[] shard) {
        com.fasterxml.jackson.databind.node.ObjectNode o = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        o.put("name", name);
        o.put("shard", shard[0] + "/" + shard[1]);
        com.fasterxml.jackson.databind.node.ObjectNode mm = o.putObject("metrics");
        m.forEach(mm::put);
        try {
            dev.puzzle.core.io.AtomicFiles.writeString(f, o.toString() + "\n");
        } catch (java.io.IOException e) {
            throw new dev.puzzle.core.PuzzleException(f + ": cannot write: " + e.getMessage(), e);
        }
    }

    /**
     * Scores every candidate of every layer; returns layer → candidate name → metrics. {@code progress} gets
     * candidates done.
     */
    public static List<Map<String, Map<String, Double>>> score(Backend backend, Checkpoint parent, SearchSpace space, int[][] heldout, Path runDir,
                                                               boolean coupled, IntConsumer progress) {
        return score(backend, parent, space, heldout, runDir, coupled, new int[]{0, 1}, progress);
    }

    /** How many candidates shard {@code shard[0]} of {@code shard[1]} scores (every shard[1]-th, layer by layer). */
    public static int shardSize(ModelConfig c, SearchSpace space, int[] shard) {
        int k = 0, mine = 0;
        for (int l = 0; l < c.numLayers(); l++) for (SearchSpace.Candidate cand : space.candidates(c, l)) if (k++ % shard[1] == shard[0]) mine++;
        return mine;
    }

    /**
     * Scores shard {@code shard[0]} of {@code shard[1]}: every shard[1]-th candidate in layer order, each kept
     * in its job file as soon as it is scored (a requeued shard resumes); returns the metrics of the shard's
     * candidates per layer. On the CPU, a small model's candidates of one layer are scored {@link #concurrently}, one
     * per thread (each single-threaded: the same arithmetic as one after another).
     */
    public static List<Map<String, Map<String, Double>>> score(Backend backend, Checkpoint parent, SearchSpace space, int[][] heldout, Path runDir,
                                                               boolean coupled, int[] shard, IntConsumer progress) {
        ModelConfig c = parent.config();
        Reference ref = null;
        Prefix prefix = null;
        List<Map<String, Map<String, Double>>> out = new ArrayList<>();
        int[] done = {0};
        int index = 0;
        boolean together = concurrently(backend, c, heldout);
        for (int l = 0; l < c.numLayers(); l++) {
            List<SearchSpace.Candidate> cands = space.candidates(c, l);
            List<Map<String, Double>> results = new ArrayList<>(java.util.Collections.nCopies(cands.size(), null));
            List<Integer> todo = new ArrayList<>();
            for (int i = 0; i < cands.size(); i++) {
                SearchSpace.Candidate cand = cands.get(i);
                if (index++ % shard[1] != shard[0]) continue; // another shard's
                if (Bld.divergence(runDir, l, cand.block(), coupled) != null) { // left out: nothing to score
                    tick(progress, done);
                    continue;
                }
                Path job = jobFile(runDir, l, cand.block());
                Map<String, Double> kept = newerThanWeights(runDir, job, l, cand.block(), coupled) ? readJob(job, cand.name()) : null;
                if (kept != null) { // scored by an earlier, interrupted run
                    results.set(i, kept);
                    tick(progress, done);
                    continue;
                }
                todo.add(i);
            }
            if (!todo.isEmpty()) {
                if (ref == null) ref = run(backend, parent, heldout); // the parent's outputs, once there is something to score
                final int layerIndex = l;
                final Reference parentRef = ref;
                float[][] in = null;
                if (todo.stream().anyMatch(i -> !cands.get(i).block().equals(c.parentBlock(layerIndex)))) {
                    if (prefix == null) prefix = new Prefix(backend, parent, heldout);
                    in = prefix.at(l);
                }
                final float[][] streams = in;
                java.util.function.IntConsumer one = j -> {
                    int i = todo.get(j);
                    results.set(i, scoreOne(backend, parent, parentRef, streams, heldout, runDir, coupled, shard, layerIndex, cands.get(i)));
                    tick(progress, done);
                };
                if (together) backend.kernels().parallel().forEach(todo.size(), one);
                else for (int j = 0; j < todo.size(); j++) one.accept(j);
            }
            Map<String, Map<String, Double>> layer = new LinkedHashMap<>();
            for (int i = 0; i < cands.size(); i++) if (results.get(i) != null) layer.put(cands.get(i).name(), results.get(i));
            out.add(layer);
        }
        return out;
    }

    /**
     * Whether a layer's candidates are scored one per thread ({@link Backend#oneTaskPerThread}), sized by the larger of one
     * candidate's held-out outputs (logits and hidden states) and one layer's weights (the bundled stories260K example
     * spent a third of its scoring waiting at the ends of parallel sections; a 1B-class layer scores one at a time, as
     * {@code HeapNeed} counts).
     */
    static boolean concurrently(Backend backend, ModelConfig c, int[][] heldout) {
        long floats = 0;
        for (int[] s : heldout) floats += (long) s.length * (c.vocabSize() + c.dim());
        long layer = 3L * c.dim() * c.intermediateSize() + 4L * c.dim() * c.qDim();
        return backend.oneTaskPerThread(Math.max(floats, layer));
    }

    private static void tick(IntConsumer progress, int[] done) {
        if (progress == null) return;
        synchronized (done) {
            progress.accept(++done[0]);
        }
    }

    /** One candidate of layer l scored (trained and as initialized), its job file written. */
    private static Map<String, Double> scoreOne(Backend backend, Checkpoint parent, Reference ref, float[][] in, int[][] heldout, Path runDir, boolean coupled,
                                                int[] shard, int l, SearchSpace.Candidate cand) {
        ModelConfig c = parent.config();
        Path job = jobFile(runDir, l, cand.block());
        try {
            Bld.markStarted(job);
        } catch (java.io.IOException e) {
            throw new dev.puzzle.core.PuzzleException(job + ": cannot write: " + e.getMessage(), e);
        }
        Map<String, Double> m;
        if (cand.block().equals(c.parentBlock(l))) {
            m = metrics(backend, ref, ref, heldout, c.vocabSize(), c.dim()); // the parent's own block: exactly the parent
            Map<String, Double> init = new LinkedHashMap<>(m);
            init.forEach((k, v) -> m.put(k + LibraryKeys.INIT_SUFFIX, v));
        } else {
            Map<String, Tensor> init = Bld.blockTensors(parent, runDir, l, cand.block(), coupled, false);
            Map<String, Tensor> trained = Bld.blockTensors(parent, runDir, l, cand.block(), coupled, true);
            m = metrics(backend, ref, runFrom(backend, replaced(parent, l, cand.block(), trained), in, l, heldout), heldout, c.vocabSize(), c.dim());
            Map<String, Double> mi = metrics(backend, ref, runFrom(backend, replaced(parent, l, cand.block(), init), in, l, heldout), heldout, c.vocabSize(),
                    c.dim());
            mi.forEach((k, v) -> m.put(k + LibraryKeys.INIT_SUFFIX, v));
        }
        writeJob(job, cand.name(), m, shard);
        try {
            java.nio.file.Files.deleteIfExists(Bld.startedFile(job));
        } catch (java.io.IOException e) {
            // a stale marker only makes status count it as started
        }
        return m;
    }
}
