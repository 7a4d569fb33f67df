package dev.puzzle.pipeline;

import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.GgufWriter;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.hardware.LlamaCpp;
import dev.puzzle.hardware.LlamaCppCostModel;

import java.nio.file.Path;

/**
 * {@code hardware: llamacpp-cpu}: a run whose costs are timed in real llama.cpp on one thread
 * ({@link LlamaCppCostModel}), so that the child chosen is fast in the runtime it is deployed on. Its llama.cpp is the
 * one {@code compress.llama_cpp.dir} names; every candidate of the search space must be one llama.cpp runs (a GGUF
 * child), and the children are written as GGUF.
 */
final class LlamaCppProfile {
    private LlamaCppProfile() {}

    /** llama.cpp's threads: one, as a laptop's single request runs (and as {@code compress.llama_cpp} measures). */
    static final int THREADS = 1;
    /** Timed repeats per model (median). */
    static final int REPS = 5;

    static boolean applies(RunConfig rc) {
        return HardwareProfile.isLlamaCpp(rc.hardware());
    }

    /** Every check before any work: llama.cpp is there, the parent and every candidate have a GGUF encoding, the weights a GGUF type. */
    static void check(Run run) {
        RunConfig rc = run.config;
        if (!applies(rc)) return;
        if (rc.llamaCppDir() == null) {
            throw PuzzleException.field(rc.file, "compress.llama_cpp.dir", "(missing)", "hardware llamacpp-cpu times blocks in llama.cpp: name the npm prefix"
                    + " node-llama-cpp is installed under (npm i -E node-llama-cpp@" + LlamaCpp.VERSION + " --prefix DIR)");
        }
        if (rc.root.has("compress") && rc.root.child("compress").has("gguf") && rc.compress().gguf() == RunConfig.GgufExport.OFF) {
            throw PuzzleException.field(rc.file, "compress.gguf", false, "hardware llamacpp-cpu chooses children for llama.cpp: they are written as GGUF");
        }
        ModelConfig parent = run.parent.config();
        String whole = GgufWriter.refusal(parent);
        if (whole != null) throw PuzzleException.field(rc.file, "hardware", "llamacpp-cpu", "the parent cannot be written for llama.cpp: " + whole);
        try {
            LlamaCppCostModel.dtype(rc.workload().weightDtype());
        } catch (PuzzleException e) {
            throw PuzzleException.field(rc.file, "workload.weight_dtype", rc.workload().weightDtype(), "llama.cpp has no such weights (fp32, bf16 or fp16;"
                    + " 8- and 4-bit blocks come from search_space.precision)");
        }
        for (int l = 0; l < parent.numLayers(); l++) {
            for (SearchSpace.Candidate c : run.space.candidates(parent, l)) {
                String why = GgufWriter.refusal(parent, c.block());
                if (why != null) {
                    throw PuzzleException.field(rc.file, "search_space", c.block().toString(), "offered in layer " + l + ", but hardware llamacpp-cpu"
                            + " times blocks in llama.cpp, which cannot run it (" + why + "): leave it out of the search space");
                }
            }
        }
    }

    /** The cost model: llama.cpp under {@code compress.llama_cpp.dir}, one thread ({@link #check}ed by the profile first). */
    static LlamaCppCostModel costModel(Run run) {
        Path dir = run.config.llamaCppDir();
        return new LlamaCppCostModel(new LlamaCpp(dir, THREADS), run.parent.tokenizer(), REPS);
    }
}
