package dev.puzzle.bld;

import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.BlockNames;

import java.nio.file.Path;

/**
 * The layout of a run directory (DESIGN.md section 4), the one place that names its files: a folder per stage,
 * each model compress realizes under {@code compress/NAME}, and the run's own records. The stages of
 * {@code bld-distill} and {@code pipeline} both find their files here; {@code pipeline}'s RunDirectory adds the
 * lock, the fingerprint check and the readers of what profile wrote.
 */
public record RunLayout(Path root) {

    /** The parent's activations per layer on the calibration text (library, distill, fusion, MoE routing). */
    public Path cacheDir() {
        return root.resolve("cache");
    }

    /** Every candidate's initialized weights ({@code layer_L/ID.safetensors}). */
    public Path libraryDir() {
        return root.resolve("library");
    }

    /** The pairwise FFN dependency matrix of FFN fusion, measured on the calibration text. */
    public Path ffnDependency() {
        return libraryDir().resolve("ffn_dependency.json");
    }

    /** Every BLD job's trained weights, loss curve, start marker and divergence record ({@code layer_L/ID.*}). */
    public Path distillDir() {
        return root.resolve("distill");
    }

    public Path profileDir() {
        return root.resolve("profile");
    }

    /** Every candidate's costs, in the block_library.json layout (stats only). */
    public Path blockCosts() {
        return profileDir().resolve("block_costs.json");
    }

    /** Embeddings and head, and the parent's totals, on the run's hardware profile and workload. */
    public Path modelCosts() {
        return profileDir().resolve("model_costs.json");
    }

    /** What {@code profile --validate} found: random children predicted and measured. */
    public Path costValidation() {
        return profileDir().resolve("validation.json");
    }

    /** A multiple-choice task compress made from the run's text ({@code tasks/NAME.jsonl}). */
    public Path task(String name) {
        return root.resolve("tasks").resolve(name + ".jsonl");
    }

    /** Every candidate's replace-1-block scores ({@code layer_L/ATTN__FFN.json}), kept so that scoring resumes per candidate (and shards merge). */
    public Path scoreJobsDir() {
        return root.resolve("score").resolve("jobs");
    }

    /** One candidate's scores. */
    public Path scoreJob(int layer, BlockConfig b) {
        return scoreJobsDir().resolve("layer_" + layer).resolve(BlockNames.id(b.attention()) + "__" + BlockNames.id(b.ffn()) + ".json");
    }

    /** The scored block library (replace-1-block metrics with the profile's costs merged in). */
    public Path scoredLibrary() {
        return root.resolve("score").resolve("block_library.json");
    }

    /** Where compress keeps its models, one folder each. */
    public Path compressDir() {
        return root.resolve("compress");
    }

    /** Where compress keeps one model: {@code compress/NAME}. */
    public Path child(String name) {
        return compressDir().resolve(name);
    }

    /** Its realized Hugging Face directory. */
    public Path childModel(String name) {
        return child(name).resolve("model");
    }

    /** Its evaluation, kept so that a rerun does not measure it again. */
    public Path childEval(String name) {
        return child(name).resolve("eval.json");
    }

    /** Its GGUF for llama.cpp, or the record of why it has none. */
    public Path childGguf(String name) {
        return child(name).resolve("model.gguf");
    }

    public Path childGgufRefused(String name) {
        return child(name).resolve("gguf-refused.txt");
    }

    /** Its GKD checkpoint while GKD runs, and the record that GKD diverged (the pre-GKD child kept). */
    public Path childGkdCheckpoint(String name) {
        return child(name).resolve("gkd-checkpoint.safetensors");
    }

    public Path childGkdDiverged(String name) {
        return child(name).resolve("gkd-diverged.txt");
    }

    /** Its QAD checkpoint while QAD runs, and QAD's record (KL before and after, which child was kept). */
    public Path childQadCheckpoint(String name) {
        return child(name).resolve("qad-checkpoint.safetensors");
    }

    public Path childQad(String name) {
        return child(name).resolve("qad.json");
    }

    public Path reportDir() {
        return root.resolve("report");
    }

    /** The cluster scripts of one scheduler ({@code slurm}, {@code k8s}). */
    public Path clusterDir(String scheduler) {
        return root.resolve("cluster").resolve(scheduler);
    }

    /** The settings that shaped the run, checked on every resume. */
    public Path fingerprint() {
        return root.resolve("run.fingerprint.json");
    }

    /** The run config's path, for {@code puzzle status RUN_DIR}. */
    public Path configRecord() {
        return root.resolve("run.config.path");
    }

    /** The OS lock a running compress holds. */
    public Path lock() {
        return root.resolve(".lock");
    }
}
