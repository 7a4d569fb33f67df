package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.GgufWriter;
import dev.puzzle.core.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** {@code puzzle convert MODEL --to hf|gguf OUT}: any model the toolkit reads to a Hugging Face directory or a GGUF file for llama.cpp. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        header = "Convert a model to a Hugging Face safetensors directory or to a GGUF file for llama.cpp.",
        description = "hf: config.json, model.safetensors and the tokenizer (when the model carries one or --tokenizer names one); q/k projection rows are permuted for Hugging Face's RoPE convention; logits are unchanged; the directory appears only when complete. gguf: architecture llama for a uniform model, deci (per-layer head counts and FFN lengths) for a heterogeneous child, the tokenizer in tokenizer.ggml.*, q/k rows in llama.cpp's RoPE order; variants llama.cpp cannot run exactly (sliding windows, linear FFNs, FP8 KV, MoE, biases, q/k norms) are refused with one line naming the layer, exit 3, and no file.",
        footer = {"", "Examples:", "  puzzle convert ../shared/models/stories260K/stories260K.bin --tokenizer \\", "      ../shared/models/stories260K/tok512.bin --to hf out/stories260K-hf",
                "  puzzle convert runs/stories260K/compress/puzzle-300000/model --to gguf \\", "      out/child.gguf"})
final class ConvertCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "The model to convert.")
    String model;

    @Option(names = "--to", required = true, paramLabel = "FORMAT", description = "Output format: hf (a directory) or gguf (one file llama.cpp runs).")
    String to;

    @Parameters(index = "1", paramLabel = "OUT", description = "The directory (hf) or file (gguf) to write (must not exist, or be an empty directory).")
    Path outDir;

    @Option(names = "--dtype", paramLabel = "DTYPE", description = "Weight dtype of the output: f32, f16, bf16, or a quantized type for the layers' matrices"
            + " (q8_0, q4_0, mxfp4 — llama.cpp's; nvfp4, fp8 — hf only), quantized by round to nearest; a matrix whose rows are not whole blocks, the"
            + " embeddings and the norms keep the 16/32-bit type (default: as stored, quantized matrices included).")
    String dtype;

    @Option(names = "--embedding-dtype", paramLabel = "DTYPE", description = "Quantized type of the token embeddings and the classifier"
            + " (q8_0, q4_0, mxfp4; nvfp4, fp8 — hf only), round to nearest, as llama.cpp's quantize also stores them (default: kept in the"
            + " 16/32-bit type).")
    String embeddingDtype;

    @Option(names = "--force", description = "Replace OUT_DIR if it exists.")
    boolean force;

    @Mixin
    ModelOptions opts;

    @Override
    public Integer call() throws IOException {
        if (!to.equals("hf") && !to.equals("gguf")) throw new PuzzleException("--to " + to + ": unsupported output format (supported: hf, gguf)");
        DType dt = dtype == null ? null : DType.fromName(dtype);
        if (dtype != null && dt == null) throw new PuzzleException("--dtype " + dtype + ": unsupported (" + DType.names() + ")");
        if (Files.exists(outDir) && !force && (!Files.isDirectory(outDir) || hasEntries(outDir))) {
            throw new PuzzleException(outDir + ": already exists and is not empty (use --force to replace it)");
        }
        Checkpoint ck = opts.load(model);
        if (opts.tokenizer != null || ck.tokenizer() != null) {
            try {
                ck = ck.withTokenizer(opts.tokenizer(ck, model));
            } catch (PuzzleException e) {
                if (opts.tokenizer != null) throw e;
            }
        }
        if (embeddingDtype != null) ck = quantizedEmbeddings(ck, embeddingDtype);
        Path abs = outDir.toAbsolutePath().normalize();
        Checkpoint out = ck;
        if (to.equals("gguf")) {
            try {
                GgufWriter.write(ck, abs, dt);
            } catch (GgufWriter.Unsupported e) { // say which model
                throw new GgufWriter.Unsupported(e.getMessage().startsWith("layer ") ? model + ": " + e.getMessage() : e.getMessage());
            }
            spec.commandLine().getOut().printf("wrote %s (GGUF %s, %,d parameters, tokenizer of %d tokens)%n", outDir,
                    GgufWriter.architecture(ck.config()), ck.parameterCount(), ck.tokenizer().vocabSize());
            return ExitCodes.OK;
        }
        AtomicFiles.writeDirectory(abs, tmp -> Checkpoints.writeHfDir(out, tmp, dt));
        spec.commandLine().getOut().printf("wrote %s (%s, %,d parameters%s)%n", outDir, Checkpoints.load(abs).config().architecture(),
                ck.parameterCount(), ck.tokenizer() != null ? ", tokenizer.bin" : ", no tokenizer");
        return ExitCodes.OK;
    }

    private static boolean hasEntries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isPresent();
        }
    }

    /** The checkpoint with its embeddings (and untied classifier) stored in {@code name}, a quantized type; refused naming the option otherwise. */
    private static Checkpoint quantizedEmbeddings(Checkpoint ck, String name) {
        DType e = DType.fromName(name);
        if (e == null || !e.isQuantized()) throw new PuzzleException("--embedding-dtype " + name + ": not a quantized type (q8_0, q4_0, mxfp4, nvfp4, fp8)");
        if (!e.fits(ck.config().dim())) {
            throw new PuzzleException("--embedding-dtype " + name + ": rows of " + ck.config().dim() + " are not whole " + e.configName() + " blocks");
        }
        java.util.Map<String, dev.puzzle.core.tensor.Tensor> t = new java.util.LinkedHashMap<>(ck.tensors());
        java.util.Map<String, DType> types = new java.util.LinkedHashMap<>(ck.storedTypes());
        for (String n : new String[]{dev.puzzle.core.io.TensorNames.EMBED, dev.puzzle.core.io.TensorNames.LM_HEAD}) {
            if (!t.containsKey(n)) continue;
            t.put(n, t.get(n).quantized(e));
            types.put(n, e);
        }
        return new Checkpoint(ck.config(), t, types, ck.tokenizer(), ck.source());
    }
}
