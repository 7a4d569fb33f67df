package dev.puzzle.pipeline;

import dev.puzzle.core.model.LibraryKeys;
import dev.puzzle.hardware.TokenRate;
import dev.puzzle.mip.Budget;

import java.util.Map;

/**
 * The one conversion of a budget a user states — on the whole model — into the budget the MIP checks — on the
 * sum of the layers' costs: the share of the embeddings and the head ({@code fixed}, by stats key, from the
 * profile's {@code model_costs.json}) is subtracted. Empty {@code fixed}: the library's own layers are the whole.
 */
public record WholeModel(Map<String, Double> fixed) {
    public WholeModel {
        fixed = Map.copyOf(fixed);
    }

    /** At most {@code wholeModel} of {@code key} for the whole model. */
    public Budget atMost(String key, double wholeModel) {
        return Budget.atMost(key, wholeModel - fixed.getOrDefault(key, 0.0));
    }

    /** At least {@code tokensPerSecond} for a workload of {@code batch} sequences generating {@code generationLength} tokens. */
    public Budget throughput(double tokensPerSecond, int batch, int generationLength) {
        return atMost(LibraryKeys.RUNTIME_MS, TokenRate.runtimeMs(tokensPerSecond, batch, generationLength));
    }
}
