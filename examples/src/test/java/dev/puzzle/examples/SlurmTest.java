package dev.puzzle.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.cli.PuzzleCli;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A smaller job of the bundled example (its parent, data and settings, a search space of one KV-head count, one
 * width and the no-ops, one target: 10 BLD jobs, 45 candidates) on a real single-node Slurm (Debian's slurm-wlm
 * and munge, started here by .ci/slurm.sh): {@code puzzle cluster slurm --shards 3 --submit} runs prepare,
 * distill and score as 3 array tasks each, and the final job; the block library and the children equal the
 * one-process run's of the same config (the tolerance below: sharded jobs train with one thread, the one-process
 * run with two, which sums in another order), though one of its distill tasks is requeued mid-job (scontrol
 * requeue: it is cancelled and queued again, as after a node failure). Skipped, saying why, where Slurm cannot start.
 */
class SlurmTest {
    @TempDir
    static Path tmp;
    static String slurmConf;

    /** Relative tolerance between the sharded and the one-process numbers. */
    static final double TOL = 1e-3;

    @BeforeAll
    static void startSlurm() throws Exception {
        ExampleRun.shared();
        Path script = Path.of("../.ci/slurm.sh").toAbsolutePath().normalize();
        Process p = new ProcessBuilder(script.toString(), "start", tmp.resolve("slurm").toString()).redirectErrorStream(true).start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        Assumptions.assumeTrue(p.exitValue() == 0, "skipped: a single-node Slurm could not start here: " + said);
        slurmConf = said.lines().reduce((a, b) -> b).orElseThrow();
    }

    @AfterAll
    static void stopSlurm() throws Exception {
        if (slurmConf == null) return;
        new ProcessBuilder(Path.of("../.ci/slurm.sh").toAbsolutePath().normalize().toString(), "stop", tmp.resolve("slurm").toString())
                .redirectErrorStream(true).start().waitFor(60, TimeUnit.SECONDS);
    }

    static String slurm(String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SLURM_CONF", slurmConf);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    /** Submits the example's stages with 3 shards (the command in its own process, SLURM_CONF in its environment); returns the final job's id. */
    static String submit(Path cfg) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), "dev.puzzle.cli.PuzzleCli",
                "cluster", "slurm", cfg.toString(), "--shards", "3", "--cpus", "1", "--time", "00:30:00", "--submit"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SLURM_CONF", slurmConf);
        Process p = pb.start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), said);
        assertTrue(said.matches("(?s).*submitted: prepare \\d+, distill \\d+, score \\d+, final \\d+\\s*"), said);
        return said.replaceAll("(?s).*final (\\d+)\\s*$", "$1");
    }

    /** Waits until no job of the cluster is pending or running; the final job must have completed. */
    static void await(String finalJob, Path runDir, Runnable meanwhile) throws Exception {
        long deadline = System.currentTimeMillis() + 900_000;
        while (System.currentTimeMillis() < deadline) {
            if (meanwhile != null) meanwhile.run();
            String q = slurm("squeue", "-h", "-o", "%i %T %r");
            if (q.isBlank()) break;
            assertFalse(q.contains("DependencyNeverSatisfied"), "a stage failed:\n" + q + logs(runDir));
            Thread.sleep(500);
        }
        assertTrue(Files.exists(runDir.resolve("report/report.json")), "the final job wrote the report\n" + logs(runDir));
    }

    static String logs(Path runDir) throws IOException {
        StringBuilder sb = new StringBuilder();
        Path d = runDir.resolve("cluster/slurm/logs");
        if (!Files.isDirectory(d)) return "";
        try (var s = Files.list(d)) {
            for (Path f : s.sorted().toList()) {
                String t = Files.readString(f);
                sb.append("\n== ").append(f.getFileName()).append('\n').append(t.length() > 1500 ? t.substring(t.length() - 1500) : t);
            }
        }
        return sb.toString();
    }

    /** The bundled example's config made smaller for the cluster runs (the check is the same: a real Slurm, requeue, equal results). */
    static Path smallConfig(Path dir) throws IOException {
        Path cfg = ExampleRun.config(dir);
        String yaml = Files.readString(cfg);
        String small = yaml
                .replaceAll("attention: \\{kv_heads: \\[4, 2, 1\\], window: \\[64\\], linear: true, no_op: true, mamba2: true\\}", "attention: {kv_heads: [2], no_op: true}")
                .replaceAll("ffn: \\{widths: \\[1.0, 0.75, 0.5, 0.25\\], linear: true, no_op: true\\}", "ffn: {widths: [0.5], no_op: true}")
                .replaceAll("(?m)^  ffn_fusion:.*\n", "")
                .replaceAll("throughputs: \\[[^\\]]*\\]", "throughputs: [2.6e5]")
                .replaceAll("tokens: 24576", "tokens: 49152")
                .replaceAll("reps: 5", "reps: 1");
        for (String s : new String[]{"attention: {kv_heads: [2], no_op: true}", "ffn: {widths: [0.5], no_op: true}", "throughputs: [2.6e5]", "tokens: 49152"}) {
            assertTrue(small.contains(s), "the example's config has the expected shape (" + s + "):\n" + yaml);
        }
        assertFalse(small.contains("ffn_fusion"), small);
        Files.writeString(cfg, small);
        return cfg;
    }

    private static Path oneProcess;

    /** The small config compressed in this process, once: the reference of both cluster runs. */
    static synchronized Path oneProcessRun() throws Exception {
        if (oneProcess != null) return oneProcess;
        Path cfg = smallConfig(tmp.resolve("one-process"));
        CommandLine cl = PuzzleCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        assertEquals(0, cl.execute("compress", cfg.toString()), out + "\n" + err);
        oneProcess = tmp.resolve("one-process/run");
        return oneProcess;
    }

    /** The sharded run's library and children equal the one-process run's. */
    static void sameAsOneProcess(Path runDir) throws Exception {
        Path oneRun = oneProcessRun();
        ObjectMapper json = new ObjectMapper();
        JsonNode a = json.readTree(oneRun.resolve("score/block_library.json").toFile()), b = json.readTree(runDir.resolve("score/block_library.json").toFile());
        assertEquals(names(a), names(b), "the same layers and variants");
        int compared = 0;
        for (Iterator<String> layers = a.fieldNames(); layers.hasNext(); ) {
            String layer = layers.next();
            for (Iterator<String> vs = a.get(layer).fieldNames(); vs.hasNext(); ) {
                String v = vs.next();
                for (Iterator<Map.Entry<String, JsonNode>> m = a.get(layer).get(v).get("metrics").fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = m.next();
                    double x = e.getValue().asDouble(), y = b.get(layer).get(v).get("metrics").get(e.getKey()).asDouble();
                    assertEquals(x, y, TOL * Math.max(1e-2, Math.abs(x)), layer + " " + v + " " + e.getKey());
                    compared++;
                }
            }
        }
        assertTrue(compared > 100, compared + " metrics compared");
        JsonNode ra = json.readTree(oneRun.resolve("report/report.json").toFile()), rb = json.readTree(runDir.resolve("report/report.json").toFile());
        assertTrue(ra.get("models").size() >= 2, "the parent and at least one child: " + ra.get("models").size());
        assertEquals(ra.get("models").size(), rb.get("models").size());
        for (int i = 0; i < ra.get("models").size(); i++) {
            JsonNode ma = ra.get("models").get(i), mb = rb.get("models").get(i);
            assertEquals(ma.get("name"), mb.get("name"));
            assertEquals(ma.get("blocks"), mb.get("blocks"), ma.get("name") + ": the same block in every layer");
            assertEquals(ma.get("kl_div").asDouble(), mb.get("kl_div").asDouble(), TOL * Math.max(1e-2, ma.get("kl_div").asDouble()), ma.get("name") + " KL");
            if (ma.get("kind").asText().equals("parent")) continue;
            Checkpoint ca = Checkpoints.load(Path.of(ma.get("model").asText())), cb = Checkpoints.load(Path.of(mb.get("model").asText()));
            for (Map.Entry<String, Tensor> e : ca.tensors().entrySet()) {
                float[] x = e.getValue().data(), y = cb.tensors().get(e.getKey()).data();
                double num = 0, den = 0;
                for (int k = 0; k < x.length; k++) {
                    num += (x[k] - y[k]) * (double) (x[k] - y[k]);
                    den += (double) x[k] * x[k];
                }
                assertTrue(Math.sqrt(num / Math.max(den, 1e-30)) <= TOL, ma.get("name") + " " + e.getKey() + ": relative difference " + Math.sqrt(num / Math.max(den, 1e-30)));
            }
        }
    }

    static List<String> names(JsonNode lib) {
        List<String> out = new ArrayList<>();
        lib.fields().forEachRemaining(l -> l.getValue().fieldNames().forEachRemaining(v -> out.add(l.getKey() + " " + v)));
        return out;
    }

    /**
     * One cluster run checks both (two took half of CI's time): every stage as array tasks, each shard its own
     * task, and a distill task requeued in the middle of a job resumes; the run ends as the one-process run.
     */
    @Test
    void theExampleAsArrayTasksWithADistillTaskRequeuedMidJobEqualsTheOneProcessRun() throws Exception {
        Path cfg = smallConfig(tmp.resolve("requeued"));
        Path run = tmp.resolve("requeued/run");
        String last = submit(cfg);
        boolean[] requeued = {false};
        String[] requeuedTask = {null};
        await(last, run, () -> {
            try {
                if (requeuedTask[0] != null) {
                    // Slurm holds a requeued job back for two minutes (its BeginTime; most of this test's time when
                    // waited out): start it now, as an operator would. The resume is checked all the same.
                    String state = slurm("squeue", "-h", "-j", requeuedTask[0], "-o", "%T %r").strip();
                    if (state.equals("PENDING BeginTime")) {
                        slurm("scontrol", "update", "JobId=" + requeuedTask[0], "StartTime=now");
                        requeuedTask[0] = null;
                    }
                    return;
                }
                if (requeued[0]) return;
                // A distill task that has finished some of its jobs and is in the middle of another.
                String running = slurm("squeue", "-h", "-t", "R", "-n", "puzzle-distill", "-o", "%i").strip();
                if (running.isEmpty() || countFinished(run) < 2) return;
                String task = running.lines().findFirst().orElseThrow();
                slurm("scontrol", "requeue", task);
                requeued[0] = true;
                requeuedTask[0] = task;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertTrue(requeued[0], "a distill task was requeued while it ran");
        assertTrue(logs(run).contains("restart 1"), "the requeued task ran again" + logs(run));
        CommandLine cl = PuzzleCli.commandLine();
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out));
        assertEquals(0, cl.execute("status", run.toString()));
        assertTrue(out.toString().matches("(?s).*\\ndistill +(\\d+) +0 +0 +\\1  done\\n.*score +(\\d+) +0 +0 +\\2  done\\n.*report: written\\n.*"), out.toString());
        sameAsOneProcess(run);
        String logs = logs(run);
        for (String stage : new String[]{"distill shard 0", "distill shard 1", "distill shard 2", "score shard 0", "score shard 1", "score shard 2"}) {
            assertTrue(logs.contains("puzzle " + stage + " on "), stage + " ran as its own task" + logs);
        }
    }

    static int countFinished(Path run) throws IOException {
        Path d = run.resolve("distill");
        if (!Files.isDirectory(d)) return 0;
        try (var s = Files.walk(d)) {
            return (int) s.filter(f -> f.getFileName().toString().endsWith(".loss.json")).count();
        }
    }
}
