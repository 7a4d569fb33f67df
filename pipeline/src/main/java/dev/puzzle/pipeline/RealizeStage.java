package dev.puzzle.pipeline;

import dev.puzzle.bld.Bld;
import dev.puzzle.bld.Gkd;
import dev.puzzle.bld.Qad;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.GgufWriter;
import dev.puzzle.core.PuzzleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The realize stage: assembles a chosen architecture from the distilled (else initialized) candidates into
 * a child checkpoint, optionally trains it end to end against the parent (GKD, resumable from its
 * checkpoint) and, where it has quantized parts, quantization-aware (QAD, {@code compress.qad}), and writes it as a Hugging Face directory ({@code RUN_DIR/compress/NAME/model}), atomically;
 * unless {@code compress.gguf: false}, also a GGUF for llama.cpp beside it ({@code model.gguf}), or, where
 * GGUF cannot express the child exactly, the one-line reason ({@code gguf-refused.txt}).
 */
public final class RealizeStage {
    private RealizeStage() {}

    /** Where a child whose GKD diverged says so. */
    public static Path gkdDiverged(Run run, String name) {
        return run.dir.layout().childGkdDiverged(name);
    }

    /** The model directory of a plan (the parent's own source for the parent). */
    public static Path modelDir(Run run, Plan p) {
        return run.dir.layout().childModel(p.name());
    }

    /**
     * Forgets what an earlier run made under this plan's name for another architecture: a setting outside the run's
     * fingerprint (a budget such as {@code compress.memory_mib}) moved the search, and {@code puzzle-120000} is now another
     * child. Its directory (model, GGUF, evaluation) and the run's timings are removed, to be made again; says so.
     */
    static void forgetIfOther(Run run, Plan p, Listener listener) throws IOException {
        if (p.kind() == Plan.Kind.PARENT) return;
        Path config = modelDir(run, p).resolve("config.json");
        if (!Files.exists(config)) return;
        if (dev.puzzle.core.io.HfConfig.read(config).blocks().equals(p.blocks())) return;
        listener.stage("realize", p.name() + ": made earlier for another architecture (a budget outside the run's fingerprint changed); made again");
        AtomicFiles.deleteTree(run.dir.child(p.name()));
        Files.deleteIfExists(Timings.file(run));
        Files.deleteIfExists(RequestLengths.file(run));
    }

    /** Realizes {@code p} unless its directory is complete; returns the checkpoint, loaded back from disk. */
    public static Checkpoint run(Run run, Plan p, Listener listener) throws IOException {
        if (p.kind() == Plan.Kind.PARENT) return run.parent;
        Path model = modelDir(run, p);
        if (!Files.exists(model.resolve("config.json"))) {
            // A uniform weight format is the parent rounded to nearest, as a llama.cpp user makes it: no BLD-trained weights.
            Checkpoint child = Bld.realize(run.parent, p.blocks(), run.dir.root(), run.config.distill().coupled(), p.kind() != Plan.Kind.UNIFORM_FORMAT);
            Gkd.Settings gkd = run.config.compress().gkd();
            if (gkd != null) { // optional: the whole child against the parent; resumes from its checkpoint
                Path dir = run.dir.child(p.name());
                Files.createDirectories(dir);
                int[][] cal = run.distillationSequences("gkd", gkd.tokens(), 0);
                try {
                    child = Gkd.train(run.backend, run.parent, child, cal, gkd, run.dir.layout().childGkdCheckpoint(p.name()),
                            listener.progress("gkd " + p.name(), gkd.steps(cal))::accept).child();
                } catch (dev.puzzle.bld.Diverged d) { // this child stays as BLD left it; the others go on
                    listener.stage("gkd", p.name() + ": " + d.getMessage() + "; the child is the one before GKD");
                    AtomicFiles.writeString(gkdDiverged(run, p.name()), d.getMessage() + "\n");
                    Files.deleteIfExists(run.dir.layout().childGkdCheckpoint(p.name()));
                }
            }
            Gkd.Settings qad = run.config.compress().qad();
            if (qad != null && !Qad.quantizedMatrices(child).isEmpty()) child = qad(run, p, child, qad, listener);
            Checkpoint out = child;
            AtomicFiles.writeDirectory(model, tmp -> Checkpoints.writeHfDir(out, tmp, null));
        }
        return Checkpoints.load(model);
    }

    /**
     * QAD of a child with quantized parts ({@code compress.qad}): the full-precision parent distilled into it, its quantized
     * matrices trained through the straight-through estimator and re-quantized; the result kept only when its KL to the
     * parent is lower on calibration-region text QAD did not train on (the last {@link RunConfig.Data#qadJudged} of
     * {@link Run#distillationSequences}; the held-out text of the report stays unseen). Writes {@code qad.json}; resumes
     * from its checkpoint.
     */
    static Checkpoint qad(Run run, Plan p, Checkpoint child, Gkd.Settings st, Listener listener) throws IOException {
        int apart = run.config.data().qadJudged();
        int[][] seqs = run.distillationSequences("qad", st.tokens(), apart); // at least one more than apart
        int[][] train = java.util.Arrays.copyOf(seqs, seqs.length - apart), judge = java.util.Arrays.copyOfRange(seqs, seqs.length - apart, seqs.length);
        Files.createDirectories(run.dir.child(p.name()));
        Path ckpt = run.dir.layout().childQadCheckpoint(p.name());
        Qad.Result r = Qad.run(run.backend, run.parent, child, train, judge, st, ckpt, listener.progress("qad " + p.name(), st.steps(train))::accept);
        var j = r.json(st).put("judged_on", apart + " calibration-region sequence" + (apart > 1 ? "s" : "") + " QAD did not train on");
        AtomicFiles.writeString(run.dir.layout().childQad(p.name()), new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(j) + "\n");
        Files.deleteIfExists(ckpt);
        listener.stage("qad", String.format(java.util.Locale.ROOT, "%s: KL %.5f before QAD, %.5f after: kept %s", p.name(), r.klBefore(), r.klAfter(),
                r.kept() ? "the QAD result" : "the child as it was"));
        return r.child();
    }

    /**
     * Where a child's GGUF went, or why there is none (both null: export turned off, or the parent), and the
     * architecture its Hugging Face config.json names (null for the parent).
     */
    public record GgufExport(String path, String refused, String hfArchitecture) {}

    private static String hfArchitecture(Run run, Plan p) throws IOException {
        com.fasterxml.jackson.databind.JsonNode cfg = new com.fasterxml.jackson.databind.ObjectMapper().readTree(modelDir(run, p).resolve("config.json").toFile());
        return cfg.path("architectures").path(0).asText(null);
    }

    /** Writes {@code RUN_DIR/compress/NAME/model.gguf} unless done (or refused) earlier; the parent is not exported. */
    public static GgufExport exportGguf(Run run, Plan p, Checkpoint child) throws IOException {
        if (p.kind() == Plan.Kind.PARENT) return new GgufExport(null, null, null);
        String arch = hfArchitecture(run, p);
        if (run.config.compress().gguf() == RunConfig.GgufExport.OFF) return new GgufExport(null, null, arch);
        Path dir = run.dir.child(p.name()), gguf = run.dir.layout().childGguf(p.name()), refused = run.dir.layout().childGgufRefused(p.name());
        if (Files.exists(gguf)) return new GgufExport(gguf.toString(), null, arch);
        if (Files.exists(refused)) return new GgufExport(null, Files.readString(refused).strip(), arch);
        Checkpoint ck = child.tokenizer() == null && run.parent.tokenizer() != null ? child.withTokenizer(run.parent.tokenizer()) : child;
        try {
            GgufWriter.write(ck, gguf, null);
            return new GgufExport(gguf.toString(), null, arch);
        } catch (PuzzleException e) { // a variant llama.cpp cannot run, or a tokenizer GGUF cannot hold: said, not fatal
            String why = e.getMessage().replace(modelDir(run, p) + ": ", "");
            AtomicFiles.writeString(refused, why + "\n");
            return new GgufExport(null, why, arch);
        }
    }
}
