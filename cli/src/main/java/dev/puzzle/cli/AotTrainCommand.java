package dev.puzzle.cli;

import dev.puzzle.core.eval.Generator;
import dev.puzzle.core.eval.Perplexity;
import dev.puzzle.core.eval.Sampler;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.Llama2cBin;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import picocli.CommandLine.Command;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.Stream;

/**
 * {@code puzzle aot-train} (hidden): the training run of the launcher's ahead-of-time cache (JDK 25's
 * {@code -XX:AOTCacheOutput}). It writes a small random model as a llama2.c {@code .bin} and as a BF16
 * Hugging Face directory into a temporary directory, loads each the way the commands do, and runs what
 * a user's command runs most: greedy decode through {@link Generator} with a byte-level tokenizer, and a
 * batched prefill through {@link Perplexity}. The JVM records the classes loaded and the methods'
 * profiles; later runs start with them, so decode reaches compiled kernels in fewer tokens. Prints nothing
 * on success; the temporary directory is removed.
 */
@Command(name = "aot-train", hidden = true, description = "The launcher's ahead-of-time cache training run (internal).")
final class AotTrainCommand implements java.util.concurrent.Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        PuzzleCli.commandLine(); // every command's classes, as a run of each loads them (this run registers only itself)
        Path dir = Files.createTempDirectory("puzzle-aot-train");
        try {
            // stories15M's width, heads of 48 and a 4096-token vocabulary: profiles of the kernels at the shapes they meet
            // (against dim 128, 259 tokens: `puzzle generate` of the stories15M shape 289-312 -> 321-366 tok/s; training 5.7 -> 8.4 s, once per build)
            ModelConfig c = ModelConfig.builder("LlamaForCausalLM").dim(288).layers(4).heads(6).kvHeads(6).intermediateSize(768).vocabSize(4096).maxSeqLen(256).normEps(1e-5f).ropeTheta(10000f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(false).qkvBias(false).build();
            Checkpoint random = RandomWeights.of(c, 1);
            Path bin = dir.resolve("model.bin");
            Llama2cBin.writeLegacy(bin, random);
            Path hf = dir.resolve("hf");
            Checkpoints.writeHfDir(random, hf, DType.BF16);
            BpeTokenizer tok = BpeTokenizer.byteLevel(c.vocabSize());
            OutputStream sink = OutputStream.nullOutputStream();
            for (Path p : new Path[]{bin, hf}) {
                Checkpoint ck = Checkpoints.load(p);
                Decoder d = new Decoder(ck, Backend.cpu());
                for (int rep = 0; rep < 3; rep++) {
                    Generator.generate(d, tok, "Once upon a time", c.maxSeqLen(), new Sampler(d.backend(), 0f, 0.9f, 1), sink);
                    Generator.generate(d, tok, "", 64, new Sampler(d.backend(), 1f, 0.9f, rep), sink);
                }
                int[] tokens = new Random(2).ints(2 * c.maxSeqLen(), 3, c.vocabSize()).toArray();
                Perplexity.windowed(d, tokens, c.maxSeqLen(), 64, done -> { });
            }
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return ExitCodes.OK;
    }
}
