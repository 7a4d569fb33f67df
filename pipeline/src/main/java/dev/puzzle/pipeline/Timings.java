package dev.puzzle.pipeline;

import dev.puzzle.core.eval.Throughput;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.pipeline.report.ReportModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * The measured speeds of every model of a compress run, taken together: after one warm-up round, {@code reps} rounds
 * each time every model once — a batch-1 prompt and generation, and one sequence of the budgets' workload — in an
 * order that rotates each round. This machine's speed drifts over a run (the same model measured 7923, 5126 and 4875
 * tokens/s in one run when the models were timed one after another), so interleaving puts the drift on every model
 * alike, and a comparison between two models rests on rounds they shared. Kept in {@code RUN_DIR/compress/timings.json}
 * (a rerun with the same models and repeats reuses it). With {@code hardware: llamacpp-cpu} the same rounds run in real
 * llama.cpp on each model's GGUF, the runtime the budgets were costed for.
 */
final class Timings {
    private Timings() {}

    /** One model's rates: batch-1 prefill and decode tokens/s, the workload's generated tokens/s, medians and quartiles. */
    record Speed(double prefill, double decode, ReportModel.Spread decodeSpread, double workload, ReportModel.Spread workloadSpread) {}

    /** The file: each model's speed, and the repeats and models it was measured over. */
    record File(int reps, List<String> models, Map<String, Speed> speeds) {}

    static Path file(Run run) {
        return run.dir.layout().compressDir().resolve("timings.json");
    }

    /** Each plan's speed, measured interleaved (or read back when measured earlier over the same models and repeats). */
    static Map<String, Speed> measure(Run run, List<Plan> plans, LongConsumer progress) throws IOException {
        RunConfig.Compress cc = run.config.compress();
        List<String> names = plans.stream().map(Plan::name).toList();
        Path f = file(run);
        if (Files.exists(f)) {
            File done = ReportModel.read(f, File.class, "the run's timings");
            if (done.reps() == cc.reps() && done.models().equals(names)) return done.speeds();
        }
        int ctx = run.parent.config().maxSeqLen();
        if (cc.prompt() + cc.generate() > ctx) {
            throw dev.puzzle.core.PuzzleException.field(run.config.file, "compress.measure", cc.prompt() + " + " + cc.generate(),
                    "prompt + generate exceed the parent's context of " + ctx + " positions");
        }
        int[] pg = EvaluateStage.measuredLengths(run.config.workload(), ctx);
        List<Path> ggufs = LlamaCppProfile.applies(run.config) ? ggufs(run, plans) : null;
        Map<String, Speed> out = ggufs != null ? inLlamaCpp(run, ggufs, pg, names, progress) : inToolkit(run, plans, pg, names, progress);
        AtomicFiles.writeString(f, ReportModel.json(new File(cc.reps(), names, out)));
        return out;
    }

    /** One model's times in one round, seconds: the batch-1 prompt, its generation, and one sequence of the workload. */
    private interface Timed {
        double[] seconds(int model) throws IOException;
    }

    /**
     * {@code compress.measure.reps} rounds (after {@code untimed} more), each timing every model once in an order rotating
     * by round; each model's rates: batch-1 prefill and decode tokens/s, and the workload's generated tokens/s.
     */
    private static Map<String, Speed> rounds(Run run, int[] pg, List<String> names, int untimed, Timed timed, LongConsumer progress) throws IOException {
        RunConfig.Compress cc = run.config.compress();
        int n = names.size(), reps = cc.reps();
        double[][] pre = new double[n][reps], dec = new double[n][reps], seq = new double[n][reps];
        for (int round = -untimed; round < reps; round++) {
            for (int k = 0; k < n; k++) {
                int i = Math.floorMod(k + round, n);
                double[] t = timed.seconds(i);
                if (round < 0) continue;
                pre[i][round] = cc.prompt() / t[0];
                dec[i][round] = cc.generate() / t[1];
                seq[i][round] = pg[1] / t[2];
            }
            if (round >= 0 && progress != null) progress.accept(round + 1);
        }
        Map<String, Speed> out = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            Throughput.Stat p = Throughput.Stat.of(pre[i]), d = Throughput.Stat.of(dec[i]), s = Throughput.Stat.of(seq[i]);
            out.put(names.get(i), new Speed(p.median(), d.median(), ReportModel.Spread.of(d), s.median(), ReportModel.Spread.of(s)));
        }
        return out;
    }

    /** This toolkit's decoders on the run's backend, after the parent's time settled and one untimed round. */
    private static Map<String, Speed> inToolkit(Run run, List<Plan> plans, int[] pg, List<String> names, LongConsumer progress) throws IOException {
        RunConfig.Compress cc = run.config.compress();
        List<Decoder> decoders = new ArrayList<>();
        for (Plan p : plans) {
            Checkpoint ck = p.kind() == Plan.Kind.PARENT ? run.parent : Checkpoints.load(RealizeStage.modelDir(run, p));
            decoders.add(new Decoder(ck, run.backend));
        }
        int[] toks = Throughput.tokens(Math.max(cc.prompt() + cc.generate(), pg[0] + pg[1]), run.parent.config().vocabSize());
        Decoder parent = decoders.get(0);
        Throughput.settle(() -> Throughput.once(parent, pg[0], pg[1]), 15_000_000_000L, System::nanoTime);
        return rounds(run, pg, names, 1, i -> {
            long[] b1 = Throughput.time(decoders.get(i), toks, cc.prompt(), cc.generate()), wl = Throughput.time(decoders.get(i), toks, pg[0], pg[1]);
            return new double[]{b1[0] / 1e9, b1[1] / 1e9, (wl[0] + wl[1]) / 1e9};
        }, progress);
    }

    /**
     * Each plan's GGUF for llama.cpp ({@code hardware: llamacpp-cpu}): the children's as compress wrote them, the
     * parent's written beside them ({@code RUN_DIR/compress/parent/model.gguf}); null when one of them has none (a
     * child llama.cpp cannot run): then every model is measured by this toolkit's harness instead, alike.
     */
    static List<Path> ggufs(Run run, List<Plan> plans) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Plan p : plans) {
            Path g = run.dir.layout().childGguf(p.name());
            if (p.kind() == Plan.Kind.PARENT && !Files.exists(g)) {
                Files.createDirectories(g.getParent());
                dev.puzzle.core.io.GgufWriter.write(run.parent, g, null);
            }
            if (!Files.exists(g)) return null;
            out.add(g);
        }
        return out;
    }

    /**
     * The same rounds in real llama.cpp (one thread, {@link dev.puzzle.hardware.LlamaCpp}) on each model's GGUF, after the
     * parent's time settled; each timing has its own untimed repeat.
     */
    private static Map<String, Speed> inLlamaCpp(Run run, List<Path> ggufs, int[] pg, List<String> names, LongConsumer progress) throws IOException {
        RunConfig.Compress cc = run.config.compress();
        int V = run.parent.config().vocabSize();
        try (dev.puzzle.hardware.LlamaCpp llama = new dev.puzzle.hardware.LlamaCpp(run.config.llamaCppDir(), LlamaCppProfile.THREADS)) {
            Throughput.settle(() -> {
                try {
                    llama.time(ggufs.get(0), pg[0], pg[1], 1, V);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, 10_000_000_000L, System::nanoTime);
            return rounds(run, pg, names, 0, i -> {
                dev.puzzle.hardware.LlamaCpp.Times b1 = llama.time(ggufs.get(i), cc.prompt(), cc.generate(), 1, V), wl = llama.time(ggufs.get(i), pg[0], pg[1], 1, V);
                return new double[]{b1.prefillMs()[0] / 1e3, b1.decodeMs()[0] / 1e3, wl.sequenceMs()[0] / 1e3};
            }, progress);
        }
    }
}
