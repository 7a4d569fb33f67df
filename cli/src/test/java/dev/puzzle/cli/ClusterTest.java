package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.puzzle.cli.CliTest.badInput;
import static dev.puzzle.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The cluster commands' output, checked without a cluster: Slurm batch scripts (arrays, requeue, afterok
 * chaining) and Kubernetes Jobs field by field against the Indexed Job specification (batch/v1); bad
 * settings refused with one line. (A real Slurm runs the example in the examples module's SlurmTest.)
 */
class ClusterTest {
    @TempDir
    Path tmp;

    @Test
    void slurmScriptsShardDistillAndScoreAsRequeueableArraysChainedByAfterok() throws Exception {
        Path d = tmp.resolve("slurm");
        Path cfg = CompressTest.config(d, "[2.15e5]");
        CliTest.Run r = run("cluster", "slurm", cfg.toString(), "--shards", "4", "--partition", "cpu", "--time", "02:00:00", "--cpus", "2", "--mem", "8G");
        assertEquals(0, r.code(), r.err());
        Path dir = d.resolve("run/cluster/slurm");
        String distill = Files.readString(dir.resolve("distill.sbatch")), score = Files.readString(dir.resolve("score.sbatch"));
        for (String s : List.of(distill, score)) {
            for (String line : List.of("#SBATCH --array=0-3", "#SBATCH --requeue", "#SBATCH --partition=cpu", "#SBATCH --time=02:00:00",
                    "#SBATCH --cpus-per-task=2", "#SBATCH --mem=8G")) {
                assertTrue(s.contains(line + "\n"), line + " missing:\n" + s);
            }
        }
        assertTrue(distill.contains(" distill " + cfg.toAbsolutePath() + " --shard \"${SLURM_ARRAY_TASK_ID}/4\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n"), distill);
        assertTrue(score.contains(" score " + cfg.toAbsolutePath() + " --shard \"${SLURM_ARRAY_TASK_ID}/4\"\n"), score);
        String fin = Files.readString(dir.resolve("final.sbatch"));
        assertTrue(fin.contains(" score " + cfg.toAbsolutePath() + " --merge 4") && fin.contains(" compress " + cfg.toAbsolutePath()), fin);
        assertFalse(fin.contains("--array"), fin);
        String prep = Files.readString(dir.resolve("prepare.sbatch"));
        assertTrue(prep.contains(" profile ") && prep.contains(" library "), prep);
        String submit = Files.readString(dir.resolve("submit.sh"));
        int a = submit.indexOf("prepare.sbatch"), b = submit.indexOf("--dependency=afterok:$prepare distill.sbatch"),
                c = submit.indexOf("--dependency=afterok:$distill score.sbatch"), e = submit.indexOf("--dependency=afterok:$score final.sbatch");
        assertTrue(a >= 0 && a < b && b < c && c < e, submit);
        assertTrue(Files.isExecutable(dir.resolve("submit.sh")));
        for (String f : List.of("prepare.sbatch", "distill.sbatch", "score.sbatch", "final.sbatch", "submit.sh")) {
            String text = Files.readString(dir.resolve(f));
            assertFalse(text.contains("/.m2/") || text.matches("(?s).*junit[^/]*\\.jar.*"), f + " runs from the self-contained artifact, not the local Maven cache:\n" + text);
            if (f.endsWith(".sbatch")) assertTrue(text.contains("/cli/target/lib/"), f + ": the artifact's runtime jars\n" + text);
            Process p = new ProcessBuilder("bash", "-n", dir.resolve(f).toString()).redirectErrorStream(true).start();
            assertEquals(0, p.waitFor(), f + ": " + new String(p.getInputStream().readAllBytes()));
        }
        // The run directory remembers its config: status reads it alone.
        CliTest.Run s = run("status", d.resolve("run").toString());
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().contains("\ndistill ") && s.out().contains("\nscore ") && s.out().contains("report: not yet"), s.out());
        assertTrue(s.out().contains("\ncounted: cache = parent layers whose activations are cached; init = candidate parts"), "status says what it counts: " + s.out());
    }

    @Test
    void kubernetesJobsAreIndexedJobsFieldByField() throws Exception {
        Path d = tmp.resolve("k8s");
        Path cfg = CompressTest.config(d, "[2.15e5]");
        CliTest.Run r = run("cluster", "k8s", cfg.toString(), "--shards", "3", "--image", "registry.example/puzzle:0.1", "--volume", "puzzle-runs",
                "--cpus", "2", "--mem", "8Gi");
        assertEquals(0, r.code(), r.err());
        Path dir = d.resolve("run/cluster/k8s");
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        String base = cfg.toAbsolutePath().getParent().toString();
        String[] files = {"1-prepare.yaml", "2-distill.yaml", "3-score.yaml", "4-final.yaml"};
        String[] stages = {"prepare", "distill", "score", "final"};
        for (int i = 0; i < files.length; i++) {
            JsonNode j = yaml.readTree(dir.resolve(files[i]).toFile());
            assertEquals("batch/v1", j.get("apiVersion").asText());
            assertEquals("Job", j.get("kind").asText());
            String name = j.get("metadata").get("name").asText();
            assertTrue(name.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?") && name.length() <= 63 && name.endsWith("-" + stages[i]), name);
            JsonNode spec = j.get("spec"), pod = spec.get("template").get("spec");
            boolean indexed = i == 1 || i == 2;
            if (indexed) {
                assertEquals("Indexed", spec.get("completionMode").asText());
                assertEquals(3, spec.get("completions").asInt());
                assertEquals(3, spec.get("parallelism").asInt());
                assertTrue(spec.get("backoffLimitPerIndex").asInt() >= 1, "a failed shard is retried on its own");
            } else {
                assertFalse(spec.has("completionMode"), "one pod: a NonIndexed Job");
                assertEquals(1, spec.get("completions").asInt());
            }
            assertTrue(List.of("Never", "OnFailure").contains(pod.get("restartPolicy").asText()), "Indexed Jobs need Never or OnFailure");
            JsonNode c = pod.get("containers").get(0);
            assertEquals("registry.example/puzzle:0.1", c.get("image").asText());
            assertEquals(base, c.get("workingDir").asText());
            String cmd = c.get("command").get(2).asText();
            assertEquals("/bin/sh", c.get("command").get(0).asText());
            if (indexed) assertTrue(cmd.contains("puzzle " + stages[i] + " " + cfg.toAbsolutePath() + " --shard \"${JOB_COMPLETION_INDEX}/3\""), cmd);
            assertFalse(cmd.contains("SLURM"), cmd);
            assertEquals("2", c.get("resources").get("requests").get("cpu").asText());
            assertEquals("8Gi", c.get("resources").get("limits").get("memory").asText());
            assertEquals("run", c.get("volumeMounts").get(0).get("name").asText());
            assertEquals(base, c.get("volumeMounts").get(0).get("mountPath").asText());
            assertEquals("puzzle-runs", pod.get("volumes").get(0).get("persistentVolumeClaim").get("claimName").asText());
            assertEquals("run", pod.get("volumes").get(0).get("name").asText());
        }
        String sh = Files.readString(dir.resolve("run.sh"));
        int last = -1;
        for (String f : files) {
            int at = sh.indexOf("kubectl apply -f " + f + "\nkubectl wait --for=condition=complete");
            assertTrue(at > last, "stage " + f + " applied after the one before completed:\n" + sh);
            last = at;
        }
    }

    @Test
    void gpusPutTheComputingStagesOnTheCudaBackend() throws Exception {
        Path d = tmp.resolve("gpu");
        Path cfg = CompressTest.config(d, "[2.15e5]");
        assertEquals(0, run("cluster", "slurm", cfg.toString(), "--shards", "2", "--gpus", "1").code());
        Path dir = d.resolve("run/cluster/slurm");
        for (String stage : List.of("prepare", "distill", "score", "final")) {
            String s = Files.readString(dir.resolve(stage + ".sbatch"));
            assertTrue(s.contains("#SBATCH --gpus-per-task=1\n"), s);
        }
        assertTrue(Files.readString(dir.resolve("distill.sbatch")).contains(" --threads \"${SLURM_CPUS_PER_TASK:-1}\" --backend cuda\n"));
        assertTrue(Files.readString(dir.resolve("score.sbatch")).contains("--shard \"${SLURM_ARRAY_TASK_ID}/2\" --backend cuda\n"));
        String fin = Files.readString(dir.resolve("final.sbatch")), prep = Files.readString(dir.resolve("prepare.sbatch"));
        assertTrue(fin.contains(" --merge 2 \\") && fin.contains(" compress " + cfg.toAbsolutePath() + " --backend cuda\n"), "merge computes nothing: " + fin);
        assertTrue(prep.contains(" profile " + cfg.toAbsolutePath() + " --backend cuda \\") && !prep.contains("library " + cfg.toAbsolutePath() + " --backend"), prep);
        assertEquals(0, run("cluster", "k8s", cfg.toString(), "--shards", "2", "--image", "i", "--volume", "v", "--gpus", "2").code());
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        for (String f : List.of("1-prepare.yaml", "2-distill.yaml", "3-score.yaml", "4-final.yaml")) {
            JsonNode c = yaml.readTree(d.resolve("run/cluster/k8s").resolve(f).toFile()).get("spec").get("template").get("spec").get("containers").get(0);
            assertEquals(2, c.get("resources").get("limits").get("nvidia.com/gpu").asInt(), f);
            assertTrue(c.get("command").get(2).asText().contains(" --backend cuda"), f);
        }
        // Without --gpus nothing names a GPU.
        assertEquals(0, run("cluster", "slurm", cfg.toString(), "--shards", "2").code());
        String cpu = Files.readString(dir.resolve("distill.sbatch"));
        assertFalse(cpu.contains("--gpus-per-task") || cpu.contains("--backend"), cpu);
        badInput(run("cluster", "slurm", cfg.toString(), "--shards", "2", "--gpus", "-1"), "--gpus -1", "cannot be negative");
    }

    @Test
    void badClusterSettingsAreRefusedWithOneLine() throws Exception {
        Path d = tmp.resolve("bad");
        Path cfg = CompressTest.config(d, "[2.15e5]");
        badInput(run("cluster", "slurm", cfg.toString(), "--shards", "0"), "--shards 0", "at least 1");
        badInput(run("cluster", "slurm", cfg.toString(), "--shards", "100000"), "--shards 100000", "more shards than jobs", "distillation jobs");
        badInput(run("cluster", "slurm", cfg.toString(), "--shards", "2", "--time", "two hours"), "--time two hours");
        badInput(run("cluster", "k8s", cfg.toString(), "--shards", "2", "--image", "x", "--volume", "Not_A_Claim"), "--volume Not_A_Claim");
        // The whole config is checked as compress checks it, before a script is written (the error would otherwise come after the jobs ran).
        Path h = tmp.resolve("badhw");
        Path hcfg = CompressTest.config(h, "[2.15e5]");
        Files.writeString(hcfg, Files.readString(hcfg).replace("hardware: h100-80gb-sxm", "hardware: h900"));
        for (String[] args : new String[][]{{"cluster", "slurm", hcfg.toString(), "--shards", "2"},
                {"cluster", "k8s", hcfg.toString(), "--shards", "2", "--image", "x", "--volume", "v"}}) {
            CliTest.Run r = run(args);
            assertEquals(ExitCodes.INPUT, r.code(), r.err());
            assertEquals("puzzle: " + hcfg + ": field 'hardware' = h900: neither a file nor a built-in profile (h100-80gb-sxm, h200, a100-80gb, l40s, rtx-4090, local-cpu, llamacpp-cpu)",
                    r.err().strip());
            assertFalse(Files.exists(h.resolve("run/cluster")), "no script written");
        }
        Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.getFileStore(shm).type().equals("tmpfs"), "skipped the shared-filesystem check: no tmpfs /dev/shm here");
        Path local = Files.createTempDirectory(shm, "puzzle-cluster-test");
        try {
            Files.writeString(cfg, Files.readString(cfg).replace("run_dir: run", "run_dir: " + local.resolve("run")));
            badInput(run("cluster", "slurm", cfg.toString(), "--shards", "2"), "run_dir", "tmpfs", "cannot share it");
            badInput(run("cluster", "k8s", cfg.toString(), "--shards", "2", "--image", "x", "--volume", "v"), "run_dir");
        } finally {
            dev.puzzle.core.io.AtomicFiles.deleteTree(local);
        }
    }
}
