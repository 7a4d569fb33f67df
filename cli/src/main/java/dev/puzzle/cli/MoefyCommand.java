package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tokenizer.Tokenizer;
import dev.puzzle.pipeline.Moefy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.Locale;

/** {@code puzzle moefy MODEL --text FILE OUT_DIR}: a mixture-of-experts parent made from a dense one. */
@Command(name = "moefy", mixinStandardHelpOptions = true,
        header = "Make a mixture-of-experts model from a dense one (MoEfication + distilled routers).",
        description = {"Splits every layer's SwiGLU FFN into --experts experts by clustering its neurons' co-activation on the text,"
                + " fits a router per layer, then trains router and experts against the dense FFN's output (blockwise distillation,"
                + " --tokens per layer), then the whole model end to end against the dense parent (--gkd-tokens). Writes a MixtralForCausalLM (or, --layout gpt-oss, a GptOssForCausalLM) Hugging Face directory (tokenizer included) and moefication.json"
                + " with the held-out NLL of the dense parent and of the MoE model; the directory appears only when complete."},
        footer = {"", "Example (the parent of examples/stories260K-moe):",
                "  puzzle moefy hf:karpathy/tinyllamas/stories260K/stories260K.bin \\", "      --tokenizer hf:karpathy/tinyllamas/stories260K/tok512.bin \\",
                "      --mirror ../shared/models --text \\", "      ../shared/models/tinystories-val-text/tinystories_val.txt --experts 4 \\", "      --top-k 2 runs/stories260K-moe-parent"})
final class MoefyCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "The dense parent.")
    String model;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "The Hugging Face directory to write.")
    Path out;

    @Option(names = "--experts", paramLabel = "E", description = "Experts per layer; must divide each FFN width (default: ${DEFAULT-VALUE}).")
    int experts = 4;

    @Option(names = "--top-k", paramLabel = "K", description = "Experts per token (default: ${DEFAULT-VALUE}).")
    int topK = 2;

    @Option(names = "--layout", paramLabel = "L", description = "mixtral (MixtralForCausalLM), or gpt-oss: GptOssForCausalLM with gpt-oss's"
            + " clamped-SwiGLU experts and biased router, q/k/v/o biases, attention sinks and sliding (--window) and full layers alternating;"
            + " biases and sinks start at zero and the end-to-end distillation tunes them (default: ${DEFAULT-VALUE}).")
    String layout = "mixtral";

    @Option(names = "--window", paramLabel = "W", description = "With --layout gpt-oss: the sliding layers' window (default: ${DEFAULT-VALUE}).")
    int window = 64;

    @Mixin
    DistilledParentOptions train;

    @Mixin
    TextDataOptions data;

    @Mixin
    ModelOptions opts;

    @Mixin
    BackendOption backendOpt;

    @Override
    public Integer call() throws Exception {
        data.check();
        if (!layout.equals("mixtral") && !layout.equals("gpt-oss")) throw new PuzzleException("--layout must be mixtral or gpt-oss, got " + layout);
        if (window < 1) throw new PuzzleException("--window must be >= 1, got " + window);
        train.check(out);
        Checkpoint ck = opts.load(model);
        Tokenizer tok = opts.tokenizer(ck, model);
        Progress bar = new Progress(spec.commandLine().getErr(), "moefy layers", ck.config().numLayers());
        Moefy.Result r = Moefy.run(backendOpt.backend(opts.threads), ck, tok, data.text,
                new Moefy.Settings(experts, topK, data.seqLen, data.sequences, data.heldoutOffset, data.heldout, train.tokens, train.lr, train.gkdTokens, train.seed,
                        layout.equals("gpt-oss") ? new Moefy.GptOss(window) : null), out, bar::update);
        spec.commandLine().getOut().printf(Locale.ROOT, "%s: %d layers of %d experts (top-%d); held-out NLL dense %.4f, MoE %.4f%n",
                out, r.layers(), experts, topK, r.denseNll(), r.moeNll());
        return ExitCodes.OK;
    }
}
