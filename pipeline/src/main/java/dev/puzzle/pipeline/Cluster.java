package dev.puzzle.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.puzzle.bld.Bld;
import dev.puzzle.bld.RunLayout;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.AtomicFiles;
import dev.puzzle.core.model.ModelConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A run on a cluster, by its own scheduler: four stages on a run directory every node sees — prepare
 * (profile, library: the activation cache and the candidates' initializations), distill as N array tasks
 * ({@code distill --shard i/N}), score as N array tasks ({@code score --shard i/N}), and the final job
 * (the merge that checks every candidate was scored once, then search, realize, evaluate and report: a
 * {@code compress} that finds the rest done). Each stage starts when the one before ended well. A task
 * requeued after a node failure or a preemption resumes its shard: finished jobs are kept per job.
 * Writes Slurm batch scripts ({@code RUN_DIR/cluster/slurm/}) or Kubernetes Jobs ({@code RUN_DIR/cluster/k8s/},
 * Indexed Jobs for the sharded stages).
 */
public final class Cluster {
    private Cluster() {}

    /** How the nodes start this toolkit: a java binary, its options and the class path (absolute paths on the shared filesystem). */
    public record Launcher(String java, List<String> jvmOptions, String classPath) {
        /** The shell command line: arguments quoted, those naming a shell variable ({@code ${...}}) in double quotes so they expand. */
        String command(String... args) {
            StringBuilder sb = new StringBuilder(quote(java));
            for (String o : jvmOptions) sb.append(' ').append(quote(o));
            sb.append(" ${PUZZLE_JAVA_OPTS:-} -cp ").append(quote(classPath)).append(" dev.puzzle.cli.PuzzleCli");
            for (String a : args) sb.append(' ').append(a.contains("${") ? "\"" + a + "\"" : quote(a));
            return sb.toString();
        }
    }

    /** Slurm settings: shards, and what each task asks for (null: the cluster's default). */
    public record Slurm(int shards, String partition, String time, int cpus, String mem, int gpus) {}

    /** The arguments that put a stage's computing on the GPU (the CUDA backend) when tasks are given GPUs. */
    private static String[] onGpu(int gpus, String... args) {
        if (gpus == 0) return args;
        String[] out = java.util.Arrays.copyOf(args, args.length + 2);
        out[args.length] = "--backend";
        out[args.length + 1] = "cuda";
        return out;
    }

    /** The stages' job counts: BLD jobs and candidates to score. */
    public record Work(int distillJobs, int scoreCandidates) {}

    /**
     * Checks the settings against the run: at least one shard, no more shards than the smaller stage has
     * jobs, and a run directory on a filesystem the nodes can share (not a machine's memory).
     */
    public static Work check(Run run, int shards) throws IOException {
        Compress.validate(run); // the final stage runs compress: its checks, before anything is written or queued
        ModelConfig c = run.parent.config();
        int bld = Bld.jobs(c, run.space, run.config.distill().coupled()).size(), score = 0;
        for (int l = 0; l < c.numLayers(); l++) score += run.space.candidates(c, l).size();
        if (shards < 1) throw PuzzleException.setting("shards", shards, "needs at least 1");
        if (shards > Math.min(bld, score)) {
            throw PuzzleException.setting("shards", shards, "more shards than jobs (" + bld + " distillation jobs, " + score
                    + " candidates to score); use at most " + Math.max(1, Math.min(bld, score)));
        }
        Path root = run.dir.root().toAbsolutePath();
        Files.createDirectories(root);
        String type = Files.getFileStore(root).type().toLowerCase(Locale.ROOT);
        if (type.equals("tmpfs") || type.equals("ramfs")) {
            throw PuzzleException.field(run.config.file, "run_dir", root, "is on " + type + ", this machine's memory: the cluster's nodes cannot share it;"
                    + " put run_dir on a shared filesystem (NFS, Lustre, a mounted volume)");
        }
        return new Work(bld, score);
    }

    static String quote(String s) {
        return s.matches("[A-Za-z0-9_./:=@%+,-]+") ? s : "'" + s.replace("'", "'\"'\"'") + "'";
    }

    /** The scripts of a Slurm run, written to RUN_DIR/cluster/slurm; returns them in submission order. */
    public static List<Path> writeSlurm(Run run, Slurm s, Launcher launcher) throws IOException {
        check(run, s.shards());
        Path dir = new RunLayout(run.dir.root().toAbsolutePath()).clusterDir("slurm"), logs = dir.resolve("logs");
        Files.createDirectories(logs);
        recordConfig(run);
        String cfg = run.config.file.toAbsolutePath().toString(), n = String.valueOf(s.shards());
        String threads = "${SLURM_CPUS_PER_TASK:-1}", task = "${SLURM_ARRAY_TASK_ID}";
        List<Path> out = new ArrayList<>();
        int g = s.gpus();
        out.add(sbatch(dir, "prepare", s, false, logs, launcher.command(onGpu(g, "profile", cfg)) + " \\\n  && " + launcher.command("library", cfg)));
        out.add(sbatch(dir, "distill", s, true, logs, launcher.command(onGpu(g, "distill", cfg, "--shard", task + "/" + n, "--threads", threads))));
        out.add(sbatch(dir, "score", s, true, logs, launcher.command(onGpu(g, "score", cfg, "--shard", task + "/" + n))));
        out.add(sbatch(dir, "final", s, false, logs, launcher.command("score", cfg, "--merge", n) + " \\\n  && " + launcher.command(onGpu(g, "compress", cfg))));
        StringBuilder submit = new StringBuilder("#!/bin/bash\n# Submits the stages of this Puzzle run, each after the one before ended well (afterok).\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n");
        submit.append("prepare=$(sbatch --parsable prepare.sbatch)\n")
                .append("distill=$(sbatch --parsable --dependency=afterok:$prepare distill.sbatch)\n")
                .append("score=$(sbatch --parsable --dependency=afterok:$distill score.sbatch)\n")
                .append("final=$(sbatch --parsable --dependency=afterok:$score final.sbatch)\n")
                .append("echo \"prepare $prepare, distill $distill (").append(n).append(" tasks), score $score (").append(n).append(" tasks), final $final\"\n");
        Path sub = dir.resolve("submit.sh");
        AtomicFiles.writeString(sub, submit.toString());
        sub.toFile().setExecutable(true);
        return out;
    }

    private static Path sbatch(Path dir, String stage, Slurm s, boolean array, Path logs, String command) throws IOException {
        StringBuilder b = new StringBuilder("#!/bin/bash\n");
        b.append("#SBATCH --job-name=puzzle-").append(stage).append('\n');
        if (array) b.append("#SBATCH --array=0-").append(s.shards() - 1).append('\n');
        b.append("#SBATCH --output=").append(logs.resolve(stage + (array ? "-%A_%a.out" : "-%j.out"))).append('\n');
        b.append("#SBATCH --open-mode=append\n#SBATCH --requeue\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n");
        b.append("#SBATCH --cpus-per-task=").append(s.cpus()).append('\n');
        if (s.partition() != null) b.append("#SBATCH --partition=").append(s.partition()).append('\n');
        if (s.time() != null) b.append("#SBATCH --time=").append(s.time()).append('\n');
        if (s.mem() != null) b.append("#SBATCH --mem=").append(s.mem()).append('\n');
        if (s.gpus() > 0) b.append("#SBATCH --gpus-per-task=").append(s.gpus()).append('\n');
        b.append("# Puzzle stage '").append(stage).append("'").append(array ? ": one shard per array task (SLURM_ARRAY_TASK_ID); a requeued task resumes its shard" : "")
                .append(".\nset -euo pipefail\n");
        b.append("echo \"puzzle ").append(stage).append(array ? " shard ${SLURM_ARRAY_TASK_ID}" : "").append(" on $(hostname), restart ${SLURM_RESTART_COUNT:-0}\"\n");
        b.append(command).append('\n');
        Path f = dir.resolve(stage + ".sbatch");
        AtomicFiles.writeString(f, b.toString());
        return f;
    }

    /** The run directory remembers its config, for {@code puzzle status RUN_DIR}. */
    public static void recordConfig(Run run) throws IOException {
        Path rec = Status.configRecord(run.dir.root());
        String text = run.config.file.toAbsolutePath() + "\n";
        if (!Files.exists(rec) || !Files.readString(rec).equals(text)) AtomicFiles.writeString(rec, text); // written once, not on every resume
    }

    /** Kubernetes settings: shards, the image (with {@code puzzle} on its PATH) and the claim of the shared volume. */
    public record K8s(int shards, String image, String claim, int cpus, String mem, int gpus) {}

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    /**
     * Kubernetes Jobs for the four stages ({@code RUN_DIR/cluster/k8s/}, applied in order by its run.sh):
     * the sharded ones are Indexed Jobs whose pods read their shard from {@code JOB_COMPLETION_INDEX}. The
     * volume (claim {@code k.claim()}) is mounted at the config's directory, so the config's relative paths
     * (parent, data, run_dir) resolve in the pods as here; run_dir must lie under it.
     */
    public static List<Path> writeK8s(Run run, K8s k) throws IOException {
        check(run, k.shards());
        if (k.image() == null || k.image().isBlank()) throw PuzzleException.setting("image", null, "name the container image (with puzzle on its PATH)");
        if (k.claim() == null || !k.claim().matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?")) {
            throw PuzzleException.setting("volume", k.claim(), "a PersistentVolumeClaim name (lowercase letters, digits, '-' and '.')");
        }
        Path base = run.config.file.toAbsolutePath().getParent(), root = run.dir.root().toAbsolutePath().normalize();
        if (!root.startsWith(base)) {
            throw PuzzleException.field(run.config.file, "run_dir", root, "must lie under the config's directory " + base + ", which the volume holds");
        }
        recordConfig(run);
        Path dir = new RunLayout(root).clusterDir("k8s");
        Files.createDirectories(dir);
        String name = "puzzle-" + root.getFileName().toString().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-").replaceAll("^-+|-+$", "");
        if (name.length() > 40) name = name.substring(0, 40).replaceAll("-+$", "");
        String cfg = run.config.file.toAbsolutePath().toString(), n = String.valueOf(k.shards());
        List<Path> out = new ArrayList<>();
        String gpu = k.gpus() > 0 ? " --backend cuda" : "";
        out.add(job(dir, "1-prepare", name + "-prepare", k, base, 0, "puzzle profile " + quote(cfg) + gpu + " && puzzle library " + quote(cfg)));
        out.add(job(dir, "2-distill", name + "-distill", k, base, k.shards(), "puzzle distill " + quote(cfg) + " --shard \"${JOB_COMPLETION_INDEX}/" + n + "\"" + gpu));
        out.add(job(dir, "3-score", name + "-score", k, base, k.shards(), "puzzle score " + quote(cfg) + " --shard \"${JOB_COMPLETION_INDEX}/" + n + "\"" + gpu));
        out.add(job(dir, "4-final", name + "-final", k, base, 0, "puzzle score " + quote(cfg) + " --merge " + n + " && puzzle compress " + quote(cfg) + gpu));
        StringBuilder sh = new StringBuilder("#!/bin/bash\n# Applies the stages of this Puzzle run in order, each once the one before completed.\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n");
        for (Path f : out) {
            String job = YAML.readTree(f.toFile()).path("metadata").path("name").asText();
            sh.append("kubectl apply -f ").append(f.getFileName()).append('\n')
                    .append("kubectl wait --for=condition=complete --timeout=-1s job/").append(job).append('\n');
        }
        Path run_ = dir.resolve("run.sh");
        AtomicFiles.writeString(run_, sh.toString());
        run_.toFile().setExecutable(true);
        return out;
    }

    private static Path job(Path dir, String file, String name, K8s k, Path base, int indexed, String command) throws IOException {
        ObjectNode j = YAML.createObjectNode();
        j.put("apiVersion", "batch/v1");
        j.put("kind", "Job");
        ObjectNode meta = j.putObject("metadata");
        meta.put("name", name);
        meta.putObject("labels").put("app.kubernetes.io/name", "puzzle").put("puzzle/stage", file.substring(2));
        ObjectNode spec = j.putObject("spec");
        if (indexed > 0) {
            spec.put("completionMode", "Indexed");
            spec.put("completions", indexed);
            spec.put("parallelism", indexed);
            spec.put("backoffLimitPerIndex", 3); // a failed or evicted pod of one shard is retried; it resumes its shard
            spec.put("maxFailedIndexes", 0);
        } else {
            spec.put("completions", 1);
            spec.put("parallelism", 1);
            spec.put("backoffLimit", 3);
        }
        ObjectNode pod = spec.putObject("template").putObject("spec");
        pod.put("restartPolicy", "Never");
        ObjectNode c = pod.putArray("containers").addObject();
        c.put("name", "puzzle");
        c.put("image", k.image());
        c.put("workingDir", base.toString());
        ArrayNode cmd = c.putArray("command");
        cmd.add("/bin/sh").add("-c").add(command);
        ObjectNode res = c.putObject("resources");
        res.putObject("requests").put("cpu", String.valueOf(k.cpus())).put("memory", k.mem() == null ? "4Gi" : k.mem());
        ObjectNode limits = res.putObject("limits").put("memory", k.mem() == null ? "4Gi" : k.mem());
        if (k.gpus() > 0) limits.put("nvidia.com/gpu", k.gpus()); // the NVIDIA device plugin's resource
        c.putArray("volumeMounts").addObject().put("name", "run").put("mountPath", base.toString());
        pod.putArray("volumes").addObject().put("name", "run").putObject("persistentVolumeClaim").put("claimName", k.claim());
        Path f = dir.resolve(file + ".yaml");
        AtomicFiles.writeString(f, YAML.writeValueAsString(j));
        return f;
    }
}
