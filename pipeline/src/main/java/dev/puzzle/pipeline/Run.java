package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.MultipleChoice;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.source.ModelSource;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.HfTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.List;

/**
 * An opened run: the validated run config, the parent with its tokenizer, the search space, the run
 * directory and the backend every stage computes on. Every stage takes one; the calibration and held-out token sequences are read once.
 */
public final class Run {
    public final RunConfig config;
    public final Checkpoint parent;
    public final SearchSpace space;
    public final RunDirectory dir;
    public final Backend backend;
    private int[][] calibration, heldout;
    private TaskFile task;

    private Run(RunConfig config, Checkpoint parent, Backend backend) {
        this.config = config;
        this.parent = parent;
        this.space = SearchSpace.parse(config.searchSpace(), parent.config()); // absent: the parent's block only
        this.dir = new RunDirectory(config.runDir());
        this.backend = backend;
    }

    /** Reads and validates the run config, loads the parent (and the config's tokenizer); computes on the CPU. */
    public static Run open(Path configFile) {
        return open(configFile, Backend.cpu());
    }

    /** Reads and validates the run config, loads the parent (and the config's tokenizer); computes on {@code backend}. */
    public static Run open(Path configFile, Backend backend) {
        RunConfig rc = RunConfig.read(configFile);
        ModelSource src = ModelSource.fromEnvironment().withMirrors(rc.mirrors());
        Path parentPath;
        try {
            parentPath = src.resolve(rc.parent());
        } catch (PuzzleException e) { // name the config field (a made parent may not be made yet: see the config's comments)
            String m = e.getMessage().startsWith(rc.parent() + ": ") ? e.getMessage().substring(rc.parent().length() + 2) : e.getMessage();
            throw PuzzleException.field(rc.file, "parent", rc.parent(), m + " (if the config's comments say how to make it, make it first)");
        }
        Checkpoint ck = Checkpoints.load(parentPath);
        if (rc.tokenizer() != null) {
            Path t = src.resolve(rc.tokenizer());
            Tokenizer tok = t.toString().endsWith(".json") ? HfTokenizer.read(t) : BpeTokenizer.readLlama2c(t, BpeTokenizer.countLlama2cTokens(t));
            ck = ck.withTokenizer(tok);
        }
        return new Run(rc, ck, backend);
    }

    public Tokenizer tokenizer() {
        if (parent.tokenizer() == null) throw new PuzzleException(config.file + ": the parent carries no tokenizer; name one under 'tokenizer'");
        return parent.tokenizer();
    }

    /** The calibration sequences (BLD trains on them). */
    public synchronized int[][] calibration() {
        if (calibration == null) {
            RunConfig.Data d = config.data();
            calibration = TokenData.sequences(d.text(), tokenizer(), d.calibrationOffset(), d.calibrationSequences(), d.seqLen());
        }
        return calibration;
    }

    /** The multiple-choice task of {@code compress.task} (made into the run directory on first use), or null. */
    public synchronized TaskFile task() {
        RunConfig.Task t = config.compress().task();
        if (t == null) return null;
        if (task == null) {
            Path f = t.file();
            if (f == null) {
                f = dir.layout().task("next_sentence");
                if (!java.nio.file.Files.exists(f)) {
                    String jsonl = MultipleChoice.jsonl(MultipleChoice.nextSentence(config.data().text(), t.nextSentenceOffset(), t.items(), 1));
                    try {
                        dev.puzzle.core.io.AtomicFiles.writeString(f, jsonl);
                    } catch (java.io.IOException e) {
                        throw new PuzzleException(f + ": cannot write the task: " + e.getMessage());
                    }
                }
            }
            List<MultipleChoice.Item> items = MultipleChoice.read(f);
            String what = t.file() != null ? f.getFileName().toString()
                    : "next_sentence: " + items.size() + " items made from " + config.data().text().getFileName() + " at byte " + t.nextSentenceOffset()
                    + " (" + f + "): a paragraph's true last sentence after the ones before it, among 4";
            task = new TaskFile(f, items, what);
        }
        return task;
    }

    /** A loaded task: its file, items, and what it is in words. */
    public record TaskFile(Path file, List<MultipleChoice.Item> items, String description) {}

    /**
     * The text GKD and QAD train on: the calibration region cut into sequences of {@link #evalContext()} tokens, so that a
     * whole child with sliding windows or an FP8 KV cache learns at the positions it is served at — as many as the
     * calibration sequences make (at least one) or, where the token budget asks for more, enough for one pass over
     * distinct text, {@code apart} more at the end held apart to judge the result. Epochs over the few sequences the
     * calibration region makes overfit: QAD of the bundled precision example's child (8192 tokens over the 3 sequences
     * of 256 tokens its 16 of 64 make) raised its KL on the sequence held apart, 0.0267 -> 0.0294. The text stays
     * clear of the held-out region (checked with the config: {@link RunConfig.Data#distillationEnd}).
     */
    public int[][] distillationSequences(String key, long tokens, int apart) {
        RunConfig.Data d = config.data();
        int ctx = evalContext();
        long fromCalibration = Math.max(1, (long) d.calibrationSequences() * d.seqLen() / ctx);
        long count = Math.max(fromCalibration, (tokens + ctx - 1) / ctx + apart);
        try {
            return TokenData.sequences(d.text(), tokenizer(), d.calibrationOffset(), (int) Math.min(Integer.MAX_VALUE, count), ctx);
        } catch (PuzzleException e) { // the text runs out: say which budget asked for it
            throw PuzzleException.field(config.file, "compress." + key + ".tokens", tokens, "trains on one pass of distinct text from the calibration offset, "
                    + count + " sequences of " + ctx + " tokens" + (apart > 0 ? " (" + apart + " held apart to judge it)" : "") + ", more than the text holds: " + e.getMessage());
        }
    }

    /**
     * Tokens per held-out sequence: {@code data.eval_context} where the config states it, else the workload's
     * context (prefill + generation) — the positions a served child works at, where a sliding window or an FP8
     * KV cache shows its damage —, shortened to the parent's context where the workload exceeds it; without a
     * workload, {@code data.seq_len}.
     */
    public int evalContext() {
        RunConfig.Data d = config.data();
        int max = parent.config().maxSeqLen();
        if (d.evalContext() != null) {
            if (d.evalContext() > max) {
                throw PuzzleException.field(config.file, "data.eval_context", d.evalContext(), "exceeds the parent's context of " + max + " positions");
            }
            return d.evalContext();
        }
        return config.root.has("workload") ? Math.min(max, config.workload().sequenceLength()) : d.seqLen();
    }

    /** Where {@link #evalContext()} comes from, in words, for the report. */
    public String evalContextSource() {
        RunConfig.Data d = config.data();
        if (d.evalContext() != null) return "data.eval_context";
        if (!config.root.has("workload")) return "data.seq_len";
        var w = config.workload();
        String ctx = "the workload's prefill " + w.prefillLength() + " + generation " + w.generationLength();
        return w.sequenceLength() > parent.config().maxSeqLen() ? ctx + ", shortened to the parent's context " + parent.config().maxSeqLen() : ctx;
    }

    /** The held-out sequences of {@link #evalContext()} tokens (scoring and evaluation run on them). */
    public synchronized int[][] heldout() {
        if (heldout == null) {
            RunConfig.Data d = config.data();
            heldout = TokenData.sequences(d.text(), tokenizer(), d.heldoutOffset(), d.heldoutSequences(), evalContext());
        }
        return heldout;
    }
}
