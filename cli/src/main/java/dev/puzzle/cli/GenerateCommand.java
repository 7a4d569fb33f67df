package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.Generator;
import dev.puzzle.core.eval.Sampler;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.OutputStream;
import java.util.Locale;

/** {@code puzzle generate MODEL}: text on stdout (prompt included, as llama2.c's run.c prints it), tokens/s on stderr. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        header = "Generate text from a model (stdout), with tokens/s on stderr.",
        description = "Samples as llama2.c's run.c does: the prompt is encoded with BOS and echoed, --steps counts positions including the prompt, temperature 0 is greedy, otherwise top-p sampling with a seeded generator.",
        footer = {"", "Example:", "  puzzle generate hf:karpathy/tinyllamas/stories260K/stories260K.bin \\", "      --tokenizer hf:karpathy/tinyllamas/stories260K/tok512.bin \\",
                "      --mirror ../shared/models --prompt \"Once upon a time\" --temperature 0 \\", "      --steps 100"})
final class GenerateCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "The model.")
    String model;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "The prompt (default: empty).")
    String prompt = "";

    @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature = 1.0f;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling threshold in [0, 1]; 0 or 1 = off (default: ${DEFAULT-VALUE}).")
    float topP = 0.9f;

    @Option(names = "--steps", paramLabel = "N", description = "Positions to run, prompt included (default: ${DEFAULT-VALUE}; capped at the context length).")
    int steps = 256;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed (default: the current time).")
    Long seed;

    @Mixin
    ModelOptions opts;

    @Mixin
    BackendOption backendOpt;

    @Override
    public Integer call() throws Exception {
        if (steps < 1) throw new PuzzleException("--steps must be >= 1, got " + steps);
        if (!(temperature >= 0)) throw new PuzzleException("--temperature must be >= 0, got " + temperature);
        if (!(topP >= 0 && topP <= 1)) throw new PuzzleException("--top-p must be in [0, 1], got " + topP);
        Checkpoint ck = opts.load(model);
        Tokenizer tok = opts.tokenizer(ck, model);
        Decoder d = new Decoder(ck, backendOpt.backend(opts.threads));
        Sampler sampler = new Sampler(d.backend(), temperature, topP, seed != null ? seed : System.currentTimeMillis());
        OutputStream out = new Utf8Sink(spec.commandLine().getOut());
        Generator.Stats s = Generator.generate(d, tok, prompt, steps, sampler, out);
        String achieved = s.timedAfterFirst()
                ? String.format(Locale.ROOT, "achieved tok/s: %.1f (after the first forward call, as llama2.c's run.c times it)", s.tokensPerSecond())
                : "achieved tok/s: n/a (the run ended with its first forward call: no positions after it to time)";
        spec.commandLine().getErr().printf(Locale.ROOT, "%s; whole run: %.1f tok/s (%d positions, %d prompt tokens, %.3f s, the first call %.3f s)%n",
                achieved, s.wholeRunTokensPerSecond(), s.tokens(), s.promptTokens(), s.seconds(), s.firstSeconds());
        return ExitCodes.OK;
    }
}
