package dev.puzzle.examples.bench;

import dev.puzzle.core.io.Llama2cBin;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.RopeStyle;

import java.nio.file.Path;

/**
 * Writes a random-weight Llama of a given shape as a llama2.c legacy {@code .bin}, so this toolkit and
 * any llama2.c-compatible runner load the same file. Usage: RandomLlama2c OUT DIM LAYERS HEADS KV_HEADS HIDDEN VOCAB SEQ
 */
public final class RandomLlama2c {
    public static void main(String[] a) throws Exception {
        Path out = Path.of(a[0]);
        int dim = Integer.parseInt(a[1]), layers = Integer.parseInt(a[2]), heads = Integer.parseInt(a[3]), kv = Integer.parseInt(a[4]),
                hidden = Integer.parseInt(a[5]), vocab = Integer.parseInt(a[6]), seq = Integer.parseInt(a[7]);
        ModelConfig c = ModelConfig.builder("LlamaForCausalLM").dim(dim).layers(layers).heads(heads).kvHeads(kv).intermediateSize(hidden).vocabSize(vocab).maxSeqLen(seq).normEps(1e-5f).ropeTheta(10000f).ropeStyle(RopeStyle.INTERLEAVED).tiedEmbeddings(true).qkvBias(false).build();
        Llama2cBin.writeLegacy(out, RandomWeights.of(c, 1));
    }
}
