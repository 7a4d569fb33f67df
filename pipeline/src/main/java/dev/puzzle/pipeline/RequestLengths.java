package dev.puzzle.pipeline;

import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tokenizer.Tokenizer;
import dev.puzzle.pipeline.report.ReportModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * How many tokens each model generates per request (issue #23: request-level efficiency): greedy generation from
 * {@link #PROMPTS} held-out prompts of {@link #PROMPT_TOKENS} tokens (consecutive pieces of the held-out region, each
 * with BOS) until the model ends its text (EOS, or BOS: a llama2.c story's end) or {@code cap} tokens. A child that
 * says the same in more tokens serves fewer requests per second at the same tokens/s; the report scales each workload
 * effort's tokens per request by the child's measured length over the parent's. Kept in
 * {@code RUN_DIR/compress/lengths.json} (a rerun with the same models and cap reuses it).
 */
final class RequestLengths {
    private RequestLengths() {}

    static final int PROMPTS = 8, PROMPT_TOKENS = 16;

    /** The file: the cap and models it was measured over, and each model's mean generated tokens per prompt. */
    record File(int cap, List<String> models, Map<String, Double> generated) {}

    static Path file(Run run) {
        return run.dir.layout().compressDir().resolve("lengths.json");
    }

    /** The cap: the most tokens any effort asks for, within the parent's context after the prompt. */
    static int cap(Run run, Map<String, Integer> requests) {
        int most = requests.values().stream().mapToInt(Integer::intValue).max().orElse(0);
        return Math.max(1, Math.min(most, run.parent.config().maxSeqLen() - PROMPT_TOKENS));
    }

    /** Each plan's mean generated tokens per prompt (measured, or read back when measured over the same models and cap). */
    static Map<String, Double> measure(Run run, List<Plan> plans, Map<String, Integer> requests, LongConsumer progress) throws IOException {
        int cap = cap(run, requests);
        List<String> names = plans.stream().map(Plan::name).toList();
        Path f = file(run);
        if (Files.exists(f)) {
            File done = ReportModel.read(f, File.class, "the run's generated lengths");
            if (done.cap() == cap && done.models().equals(names)) return done.generated();
        }
        RunConfig.Data d = run.config.data();
        Tokenizer tok = run.tokenizer();
        int[][] prompts = TokenData.sequences(d.text(), tok, d.heldoutOffset(), PROMPTS, PROMPT_TOKENS);
        Map<String, Double> out = new LinkedHashMap<>();
        long done = 0;
        for (Plan p : plans) {
            Checkpoint ck = p.kind() == Plan.Kind.PARENT ? run.parent : Checkpoints.load(RealizeStage.modelDir(run, p));
            Decoder dec = new Decoder(ck, run.backend);
            long sum = 0;
            for (int[] prompt : prompts) sum += generated(dec, prompt, cap, tok);
            out.put(p.name(), (double) sum / prompts.length);
            if (progress != null) progress.accept(++done);
        }
        dev.puzzle.core.io.AtomicFiles.writeString(f, ReportModel.json(new File(cap, names, out)));
        return out;
    }

    /** Greedy tokens after {@code prompt} until EOS or BOS (not counted) or {@code cap}. */
    static int generated(Decoder dec, int[] prompt, int cap, Tokenizer tok) {
        Decoder.State st = dec.newState(prompt.length + cap);
        int V = dec.config().vocabSize();
        float[] logits = dec.forward(st, prompt, 0, prompt.length, false);
        int n = 0;
        while (n < cap) {
            int next = dev.puzzle.core.eval.Losses.argmax(logits, 0, V);
            if (next == tok.eosId() || next == tok.bosId()) break;
            n++;
            if (n == cap) break;
            logits = dec.forward(st, new int[]{next}, 0, 1, false);
        }
        return n;
    }
}
