package dev.puzzle.pipeline;

import dev.puzzle.bld.Bld;
import dev.puzzle.bld.Gkd;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The realize stage: assembles a chosen architecture from the distilled (else initialized) candidates into
 * a child checkpoint, optionally trains it end to end against the parent (GKD, resumable from its
 * checkpoint), and writes it as a Hugging Face directory ({@code RUN_DIR/compress/NAME/model}), atomically.
 */
public final class RealizeStage {
    private RealizeStage() {}

    /** The model directory of a plan (the parent's own source for the parent). */
    public static Path modelDir(Run run, Plan p) {
        return run.dir.child(p.name()).resolve("model");
    }

    /** Realizes {@code p} unless its directory is complete; returns the checkpoint, loaded back from disk. */
    public static Checkpoint run(Run run, Plan p, Listener listener) throws IOException {
        if (p.kind() == Plan.Kind.PARENT) return run.parent;
        Path model = modelDir(run, p);
        if (!Files.exists(model.resolve("config.json"))) {
            Checkpoint child = Bld.realize(run.parent, p.blocks(), run.dir.root(), run.config.distill().coupled());
            Gkd.Settings gkd = run.config.compress().gkd();
            if (gkd != null) { // optional: the whole child against the parent; resumes from its checkpoint
                Path dir = run.dir.child(p.name());
                Files.createDirectories(dir);
                int[][] cal = run.calibration();
                int steps = (int) Math.max(1, gkd.tokens() / ((long) Math.min(gkd.batchSequences(), cal.length) * cal[0].length));
                child = Gkd.train(run.backend, run.parent, child, cal, gkd, dir.resolve("gkd-checkpoint.safetensors"),
                        listener.progress("gkd " + p.name(), steps)::accept).child();
            }
            Checkpoint out = child;
            AtomicFiles.writeDirectory(model, tmp -> Checkpoints.writeHfDir(out, tmp, null));
        }
        return Checkpoints.load(model);
    }
}
