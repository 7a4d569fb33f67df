package dev.puzzle.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.bld.Gkd;
import dev.puzzle.bld.Qad;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** {@code puzzle qad CHILD --parent PARENT --text FILE OUT_DIR}: quantization-aware distillation of a quantized child. */
@Command(name = "qad", mixinStandardHelpOptions = true,
        header = "Quantization-aware distillation: recover a quantized child's accuracy by distilling its full-precision parent into it.",
        description = {"The child's quantized matrices (q8_0, q4_0, mxfp4, nvfp4, fp8 — e.g. from puzzle convert --dtype) are trained against the parent"
                + " end to end (KL on the logits plus the final hidden states' cosine, AdamW, warmup + cosine learning rate) through the"
                + " straight-through estimator: each step computes with the weights rounded to their dtype, the gradient updates FP32"
                + " masters, which are re-quantized at the end. KL(parent || child) on held-out text (from --heldout-offset) is measured"
                + " before and after with the real quantized forward; the QAD result is kept only when its KL is lower, else the child"
                + " is written unchanged. Writes a Hugging Face directory (tokenizer included) and qad.json with both KLs and which was kept;"
                + " the directory appears only when complete, and an interrupted run resumes from its checkpoint."},
        footer = {"", "Example:", "  puzzle convert ../shared/models/stories260K/stories260K.bin --tokenizer \\",
                "      ../shared/models/stories260K/tok512.bin --to hf --dtype q4_0 out/q4",
                "  puzzle qad out/q4 --parent \\", "      ../shared/models/stories260K/stories260K.bin --text \\",
                "      ../shared/models/tinystories-val-text/tinystories_val.txt out/q4-qad"})
final class QadCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CHILD", description = "The quantized child.")
    String model;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "The Hugging Face directory to write.")
    Path out;

    @Option(names = "--parent", required = true, paramLabel = "PARENT", description = "The full-precision parent (the teacher).")
    String parent;

    @Option(names = "--tokens", paramLabel = "N", description = "Training tokens (default: ${DEFAULT-VALUE}).")
    long tokens = 65_536;

    @Option(names = "--batch", paramLabel = "B", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batch = 4;

    @Option(names = "--lr", paramLabel = "LR", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr = 5e-4;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the data order (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(names = "--force", description = "Replace OUT_DIR if it exists.")
    boolean force;

    @Mixin
    TextDataOptions data;

    @Mixin
    ModelOptions opts;

    @Mixin
    BackendOption backendOpt;

    @Override
    public Integer call() throws Exception {
        data.check();
        if (Files.exists(out) && !force) throw new PuzzleException(out + ": already exists (use --force to replace it)");
        Gkd.Settings st = new Gkd.Settings(tokens, batch, lr, 0.0, 50, seed);
        Checkpoint child = opts.load(model), teacher = opts.load(parent);
        Tokenizer tok = opts.tokenizer(child, model);
        child = child.withTokenizer(tok);
        if (child.config().vocabSize() != teacher.config().vocabSize()) {
            throw new PuzzleException(model + ": its vocabulary (" + child.config().vocabSize() + ") is not the parent's (" + teacher.config().vocabSize() + ")");
        }
        int[][] train = TokenData.sequences(data.text, tok, 0, data.sequences, data.seqLen), held = TokenData.sequences(data.text, tok, data.heldoutOffset, data.heldout, data.seqLen);
        Path abs = out.toAbsolutePath().normalize();
        Path ckpt = abs.resolveSibling("." + abs.getFileName() + ".qad-checkpoint.safetensors");
        Progress bar = new Progress(spec.commandLine().getErr(), "qad steps", st.steps(train));
        Qad.Result r = Qad.run(backendOpt.backend(opts.threads), teacher, child, train, held, st, ckpt, bar::update);
        ObjectNode j = r.json(st).put("child", model).put("parent", parent).put("seq_len", data.seqLen).put("heldout_sequences", data.heldout);
        Checkpoint result = r.child();
        AtomicFiles.writeDirectory(abs, tmp -> {
            Checkpoints.writeHfDir(result, tmp, null);
            AtomicFiles.writeString(tmp.resolve("qad.json"), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(j) + "\n");
        });
        Files.deleteIfExists(ckpt);
        spec.commandLine().getOut().printf(Locale.ROOT, "%s: %d quantized matrices; KL(parent || child) on held-out text %.5f before QAD, %.5f after: kept %s%n",
                out, r.quantized(), r.klBefore(), r.klAfter(), r.kept() ? "the QAD result" : "the child as it was (QAD did not lower its KL)");
        return ExitCodes.OK;
    }
}
