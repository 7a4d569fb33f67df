package dev.puzzle.cli;

import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tokenizer.Tokenizer;
import dev.puzzle.pipeline.Hybridize;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** {@code puzzle hybridize MODEL --mamba-layers 1,3 --text FILE OUT_DIR}: a hybrid Mamba–Transformer parent made from a Transformer. */
@Command(name = "hybridize", mixinStandardHelpOptions = true,
        header = "Make a hybrid Mamba-Transformer model from a Transformer (attention -> Mamba-2 in chosen layers, distilled).",
        description = {"Replaces the attention of each --mamba-layers layer by a Mamba-2 mixer of the attention's shape, started from the"
                + " attention's projections (x <- V, B <- K, C <- Q, out_proj <- O) and trained against the attention's output on the text"
                + " (blockwise distillation, --tokens per layer), then the whole model end to end against the parent (--gkd-tokens)."
                + " Writes a Hugging Face directory (DeciLM block_configs with attention.mamba2, tokenizer included) and hybrid.json with the"
                + " held-out NLL of the parent and of the hybrid; the directory appears only when complete."},
        footer = {"", "Example (the parent of examples/stories260K-hybrid):",
                "  puzzle hybridize hf:karpathy/tinyllamas/stories260K/stories260K.bin \\", "      --tokenizer hf:karpathy/tinyllamas/stories260K/tok512.bin \\",
                "      --mirror ../shared/models --text \\", "      ../shared/models/tinystories-val-text/tinystories_val.txt \\",
                "      --mamba-layers 1,3 runs/stories260K-hybrid-parent"})
final class HybridizeCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "The Transformer parent.")
    String model;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "The Hugging Face directory to write.")
    Path out;

    @Option(names = "--mamba-layers", paramLabel = "L,L", split = ",", required = true, description = "The layers whose attention becomes Mamba-2.")
    List<Integer> layers = new ArrayList<>();

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
        train.check(out);
        Checkpoint ck = opts.load(model);
        Tokenizer tok = opts.tokenizer(ck, model);
        List<Integer> distinct = layers.stream().distinct().sorted().toList();
        Progress bar = new Progress(spec.commandLine().getErr(), "hybridize layers", distinct.size());
        Hybridize.Result r = Hybridize.run(backendOpt.backend(opts.threads), ck, tok, data.text,
                new Hybridize.Settings(distinct, data.seqLen, data.sequences, data.heldoutOffset, data.heldout, train.tokens, train.lr, train.gkdTokens, train.seed), out, bar::update);
        spec.commandLine().getOut().printf(Locale.ROOT, "%s: attention -> Mamba-2 in layers %s; held-out NLL parent %.4f, hybrid %.4f%n",
                out, distinct, r.parentNll(), r.hybridNll());
        return ExitCodes.OK;
    }
}
