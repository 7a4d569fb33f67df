package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.pipeline.Cluster;
import dev.puzzle.pipeline.Run;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code puzzle cluster slurm|k8s CONFIG --shards N ...}: a run's stages as cluster jobs. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        header = "Run the stages of a config on a cluster: Slurm job arrays or Kubernetes Indexed Jobs.",
        description = "Four stages on a run directory every node shares: prepare (profile, library), distill (N shards), score (N shards), final (merge the scores, then search, realize, evaluate, report). Each starts when the one before ended well; a task requeued after a node failure resumes its shard. Follow a run with 'puzzle status RUN_DIR'.",
        subcommands = {ClusterCommand.Slurm.class, ClusterCommand.K8s.class})
final class ClusterCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "name the scheduler: slurm or k8s");
    }

    /**
     * How the nodes run this toolkit: this JVM's java and the self-contained artifact this command runs from — the
     * cli jar (or its classes) and every runtime jar the build copied beside it into {@code cli/target/lib} — by absolute
     * paths (the nodes share the filesystem); never the local Maven cache, which the nodes need not have.
     */
    static Cluster.Launcher launcher() {
        Path self;
        try {
            self = Path.of(ClusterCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        Path lib = self.resolveSibling("lib"); // beside target/cli-VERSION.jar, or target/classes
        List<String> cp = new ArrayList<>(List.of(self.toString()));
        try (var jars = java.nio.file.Files.list(lib)) {
            jars.filter(j -> j.getFileName().toString().endsWith(".jar")).sorted().forEach(j -> cp.add(j.toString()));
        } catch (IOException e) {
            throw new PuzzleException(lib + ": the toolkit's runtime jars are not there (build it with 'mvn package' or './puzzle --help' first)");
        }
        return new Cluster.Launcher(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"), String.join(java.io.File.pathSeparator, cp));
    }

    /** The per-task CPU and GPU counts both schedulers take. */
    static void checkCounts(int cpus, int gpus) {
        if (cpus < 1) throw new PuzzleException("--cpus " + cpus + ": needs at least 1");
        if (gpus < 0) throw new PuzzleException("--gpus " + gpus + ": cannot be negative");
    }

    @Command(name = "slurm", mixinStandardHelpOptions = true,
            header = "Write (and with --submit, submit) the Slurm batch scripts of a run.",
            description = "Writes RUN_DIR/cluster/slurm/{prepare,distill,score,final}.sbatch and submit.sh: distill and score are job arrays of N tasks (SLURM_ARRAY_TASK_ID is the shard), each stage submitted with --dependency=afterok on the one before, every task --requeue. With --submit, submits them and prints the job ids.",
            footer = {"", "Example:", "  puzzle cluster slurm examples/stories260K/puzzle.yaml --shards 4 \\", "      --partition cpu --time 02:00:00 --submit"})
    static final class Slurm implements java.util.concurrent.Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
        Path config;
        @Option(names = "--shards", required = true, paramLabel = "N", description = "Array tasks per sharded stage.")
        int shards;
        @Option(names = "--partition", paramLabel = "P", description = "Slurm partition (default: the cluster's).")
        String partition;
        @Option(names = "--time", paramLabel = "HH:MM:SS", description = "Time limit per task (default: the partition's).")
        String time;
        @Option(names = "--cpus", paramLabel = "C", description = "CPUs per task; distill trains that many jobs at once (default 1).")
        int cpus = 1;
        @Option(names = "--mem", paramLabel = "M", description = "Memory per task, as sbatch takes it (e.g. 16G).")
        String mem;
        @Option(names = "--gpus", paramLabel = "G", description = "GPUs per task (sbatch --gpus-per-task); the stages then compute with --backend cuda (default 0: the CPU).")
        int gpus;
        @Option(names = "--submit", description = "Submit the stages now (sbatch) and print their job ids.")
        boolean submit;

        @Override
        public Integer call() throws Exception {
            checkCounts(cpus, gpus);
            if (time != null && !time.matches("(\\d+-)?\\d{1,2}(:\\d{2}){0,2}")) throw new PuzzleException("--time " + time + ": expected HH:MM:SS (or D-HH:MM:SS)");
            if (mem != null && !mem.matches("\\d+[KMGT]?")) throw new PuzzleException("--mem " + mem + ": expected a size such as 16G");
            Run run = Run.open(config);
            List<Path> scripts = Cluster.writeSlurm(run, new Cluster.Slurm(shards, partition, time, cpus, mem, gpus), launcher());
            var out = spec.commandLine().getOut();
            out.printf("wrote %s (%s)%n", scripts.get(0).getParent(), String.join(", ", scripts.stream().map(p -> p.getFileName().toString()).toList()));
            if (!submit) {
                out.printf("submit with: %s%n", scripts.get(0).resolveSibling("submit.sh"));
                return ExitCodes.OK;
            }
            String prev = null;
            List<String> ids = new ArrayList<>();
            for (Path s : scripts) {
                List<String> cmd = new ArrayList<>(List.of("sbatch", "--parsable"));
                if (prev != null) cmd.add("--dependency=afterok:" + prev);
                cmd.add(s.toString());
                prev = sbatch(cmd);
                ids.add(s.getFileName().toString().replace(".sbatch", "") + " " + prev);
            }
            out.println("submitted: " + String.join(", ", ids));
            return ExitCodes.OK;
        }

        static String sbatch(List<String> cmd) throws IOException, InterruptedException {
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            } catch (IOException e) {
                throw new PuzzleException("sbatch: cannot run it (" + e.getMessage() + "); is Slurm installed here?");
            }
            String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (p.waitFor() != 0 || !said.matches("\\d+(;\\S+)?")) throw new PuzzleException("sbatch " + cmd.get(cmd.size() - 1) + ": " + said.replace('\n', ' '));
            return said.split(";")[0];
        }
    }

    @Command(name = "k8s", mixinStandardHelpOptions = true,
            header = "Write the Kubernetes Jobs of a run (Indexed Jobs for the sharded stages).",
            description = "Writes RUN_DIR/cluster/k8s/{1-prepare,2-distill,3-score,4-final}.yaml and run.sh (kubectl apply, then kubectl wait for completion, stage by stage). Distill and score are Indexed Jobs (completionMode: Indexed) of N completions whose pods read their shard from JOB_COMPLETION_INDEX. The PersistentVolumeClaim is mounted at the config's directory, so the config's paths resolve in the pods as here; run_dir must lie under it, and the image must have 'puzzle' on its PATH.",
            footer = {"", "Example:", "  puzzle cluster k8s examples/stories260K/puzzle.yaml --shards 4 --image registry.example/puzzle:0.1 --volume puzzle-runs"})
    static final class K8s implements java.util.concurrent.Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
        Path config;
        @Option(names = "--shards", required = true, paramLabel = "N", description = "Pods (indexes) per sharded stage.")
        int shards;
        @Option(names = "--image", required = true, paramLabel = "IMAGE", description = "Container image with puzzle on its PATH.")
        String image;
        @Option(names = "--volume", required = true, paramLabel = "CLAIM", description = "PersistentVolumeClaim holding the config's directory (the run directory among it).")
        String volume;
        @Option(names = "--cpus", paramLabel = "C", description = "CPUs requested per pod (default 1).")
        int cpus = 1;
        @Option(names = "--mem", paramLabel = "M", description = "Memory per pod, as Kubernetes takes it (default 4Gi).")
        String mem;
        @Option(names = "--gpus", paramLabel = "G", description = "GPUs per pod (limits nvidia.com/gpu); the stages then compute with --backend cuda (default 0: the CPU).")
        int gpus;

        @Override
        public Integer call() throws Exception {
            checkCounts(cpus, gpus);
            if (mem != null && !mem.matches("\\d+(Ki|Mi|Gi|Ti|[kMGT])?")) throw new PuzzleException("--mem " + mem + ": expected a quantity such as 16Gi");
            List<Path> files = Cluster.writeK8s(Run.open(config), new Cluster.K8s(shards, image, volume, cpus, mem, gpus));
            spec.commandLine().getOut().printf("wrote %s (%s); apply with: %s%n", files.get(0).getParent(),
                    String.join(", ", files.stream().map(p -> p.getFileName().toString()).toList()), files.get(0).resolveSibling("run.sh"));
            return ExitCodes.OK;
        }
    }
}
