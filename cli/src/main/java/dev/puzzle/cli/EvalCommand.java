package dev.puzzle.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.MultipleChoice;
import dev.puzzle.core.eval.Perplexity;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** {@code puzzle eval MODEL --text FILE | --task FILE.jsonl}: teacher-forced mean NLL and perplexity, or multiple-choice accuracy. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        header = "Mean NLL and perplexity on a text file, or accuracy on a multiple-choice task.",
        description = {"--text: encodes FILE with BOS at its start and keeps the first N tokens of the stream (--max-tokens, default: the model's context length). A stream longer than the context is scored as consecutive windows of the context length (or --context), each window from its own first token; the mean negative log-likelihood is over every prediction of every window.",
                "--task: a JSON Lines file, one item per line, {\"context\": ..., \"choices\": [...], \"gold\": i}, scored as lm-evaluation-harness scores multiple choice: each choice's log-likelihood as the continuation \" choice\" of the context; accuracy (the gold choice is the most likely) and acc_norm (most likely per byte). compress writes one to RUN_DIR/tasks/ when its config names compress.task: {next_sentence: {offset, items}}.",
                "Progress on stderr."},
        footer = {"", "Examples:", "  puzzle eval ../shared/models/stories260K/stories260K.bin --tokenizer \\", "      ../shared/models/stories260K/tok512.bin \\",
                "      --text ../shared/models/tinystories-val-text/tinystories_val.txt \\", "      --max-tokens 512 --json",
                "  puzzle eval runs/stories260K/compress/puzzle-215000/model \\", "      --task runs/stories260K/tasks/next_sentence.jsonl"})
final class EvalCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "The model.")
    String model;

    /** What to evaluate on: text (perplexity) or a task (accuracy), exactly one. */
    static final class On {
        @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text to evaluate on.")
        Path text;

        @Option(names = "--task", required = true, paramLabel = "FILE", description = "A multiple-choice task (JSON Lines: context, choices, gold).")
        Path task;
    }

    @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
    On on;

    Path text, task;

    @Option(names = "--max-tokens", paramLabel = "N", description = "Tokens of the stream to score (default: the model's context length).")
    Integer maxTokens;

    @Option(names = "--context", paramLabel = "N", description = "Window length, at most the model's context (default: the model's context length).")
    Integer context;

    @Option(names = "--json", description = "Print one JSON object on stdout.")
    boolean json;

    @Mixin
    ModelOptions opts;

    @Mixin
    BackendOption backendOpt;

    @Override
    public Integer call() throws Exception {
        text = on.text;
        task = on.task;
        if (task != null) return task();
        if (!Files.isRegularFile(text)) throw new PuzzleException(text + ": no such file (--text)");
        if (maxTokens != null && maxTokens < 2) throw new PuzzleException("--max-tokens must be >= 2, got " + maxTokens);
        if (context != null && context < 2) throw new PuzzleException("--context must be >= 2, got " + context);
        Checkpoint ck = opts.load(model);
        int window = context != null ? context : ck.config().maxSeqLen();
        if (window > ck.config().maxSeqLen()) {
            throw new PuzzleException("--context " + window + ": exceeds the model's context length " + ck.config().maxSeqLen());
        }
        Tokenizer tok = opts.tokenizer(ck, model);
        int n = maxTokens != null ? maxTokens : ck.config().maxSeqLen();
        // Encode only as much text as N positions can need (a token is at least one byte), not the whole file.
        byte[] bytes = Files.readAllBytes(text);
        String s = new String(bytes.length > 8L * n + 64 ? Arrays.copyOf(bytes, 8 * n + 64) : bytes, StandardCharsets.UTF_8);
        int[] toks = tok.encode(s, true, false);
        if (toks.length < 2) throw new PuzzleException(text + ": too little text to predict anything");
        int[] used = Arrays.copyOf(toks, Math.min(n, toks.length));
        Decoder d = new Decoder(ck, backendOpt.backend(opts.threads));
        Progress p = new Progress(spec.commandLine().getErr(), "eval", used.length);
        long t0 = System.nanoTime();
        Perplexity.Result r = Perplexity.windowed(d, used, window, 128, p::update);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (json) {
            ObjectMapper m = new ObjectMapper();
            ObjectNode o = m.createObjectNode();
            o.put("model", model);
            o.put("text", text.toString());
            o.put("positions", used.length);
            o.put("predicted", r.predicted());
            o.put("windows", r.windows());
            o.put("context", window);
            o.put("mean_nll", r.meanNll());
            o.put("perplexity", r.perplexity());
            o.put("seconds", secs);
            o.put("tokens_per_second", used.length / secs);
            spec.commandLine().getOut().println(m.writeValueAsString(o));
        } else {
            spec.commandLine().getOut().printf(Locale.ROOT, "mean NLL %.6f nats, perplexity %.4f over %d predictions (%d tokens in %d window%s of %d, %.0f tok/s)%n",
                    r.meanNll(), r.perplexity(), r.predicted(), used.length, r.windows(), r.windows() == 1 ? "" : "s", window, used.length / secs);
        }
        return ExitCodes.OK;
    }

    private int task() throws Exception {
        if (!Files.isRegularFile(task)) throw new PuzzleException(task + ": no such file (--task)");
        if (maxTokens != null || context != null) throw new PuzzleException("--max-tokens and --context apply to --text, not --task");
        List<MultipleChoice.Item> items = MultipleChoice.read(task);
        Checkpoint ck = opts.load(model);
        Tokenizer tok = opts.tokenizer(ck, model);
        Decoder d = new Decoder(ck, backendOpt.backend(opts.threads));
        Progress p = new Progress(spec.commandLine().getErr(), "task", items.size());
        MultipleChoice.Result r = MultipleChoice.evaluate(d, tok, items, p::update);
        if (json) {
            ObjectMapper m = new ObjectMapper();
            ObjectNode o = m.createObjectNode();
            o.put("model", model);
            o.put("task", task.toString());
            o.put("items", r.items());
            o.put("accuracy", r.accuracy());
            o.put("accuracy_norm", r.accuracyNorm());
            spec.commandLine().getOut().println(m.writeValueAsString(o));
        } else {
            spec.commandLine().getOut().printf(Locale.ROOT, "accuracy %.4f, acc_norm %.4f over %d items of %s%n", r.accuracy(), r.accuracyNorm(), r.items(),
                    task.getFileName());
        }
        return ExitCodes.OK;
    }
}
