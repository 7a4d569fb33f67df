package dev.puzzle.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.cli.PuzzleCli;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The MoE example end to end: examples/stories260K-moe/make-parent.sh's MoEfication of stories260K, then
 * examples/stories260K-moe/puzzle.yaml compressed (run directory in a temporary folder).
 */
class MoeExampleTest {
    static int run(StringWriter out, StringWriter err, String... args) {
        CommandLine cl = PuzzleCli.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        return cl.execute(args);
    }

    /** `puzzle moefy` of stories260K on TinyStories with {@code settings} (space-separated options) into {@code out}. */
    static void moefy(Path shared, String settings, Path out) {
        makeParent(shared, "moefy", settings, out);
    }

    /** A command that makes a parent from stories260K on TinyStories (moefy, hybridize), with {@code settings}, into {@code out}. */
    static void makeParent(Path shared, String command, String settings, Path out) {
        StringWriter o = new StringWriter(), err = new StringWriter();
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(command, shared.resolve("models/stories260K/stories260K.bin").toString(),
                "--tokenizer", shared.resolve("models/stories260K/tok512.bin").toString(), "--text",
                shared.resolve("models/tinystories-val-text/tinystories_val.txt").toString()));
        args.addAll(java.util.List.of(settings.split(" ")));
        args.add(out.toString());
        assertEquals(0, run(o, err, args.toArray(String[]::new)), err.toString());
    }

    @Test
    void moeParentIsMadeAndCompressedWithPerLayerExpertCountsAgainstUniformExpertPruning(@TempDir Path tmp) throws Exception {
        Path shared = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.exists(shared.resolve("models/stories260K/stories260K.bin")), "skipped: " + shared + " is absent");
        String script = Files.readString(Path.of("stories260K-moe/make-parent.sh"));
        String settings = "--experts 4 --top-k 3 --sequences 128 --tokens 131072";
        assertTrue(script.replaceAll("\\s*\\\\\\n\\s*", " ").contains(settings + " --gkd-tokens 0"), "the test runs make-parent.sh's settings");
        Path parent = tmp.resolve("parent");
        StringWriter out = new StringWriter(), err = new StringWriter();
        moefy(shared, settings + " --gkd-tokens 0", parent);
        JsonNode mf = new ObjectMapper().readTree(parent.resolve("moefication.json").toFile());
        double dense = mf.get("heldout_nll_dense").asDouble(), moe = mf.get("heldout_nll_moe").asDouble();
        assertEquals(1.6676, dense, 1e-3, "stories260K's held-out NLL");
        assertTrue(moe > dense && moe < 2.3, "the MoE parent is worse than the dense one, but not by much: " + moe);
        Checkpoint pc = Checkpoints.load(parent);
        assertEquals("MixtralForCausalLM", pc.config().architecture());
        try (Safetensors st = Safetensors.open(parent.resolve("model.safetensors"))) {
            assertTrue(st.entries().containsKey("model.layers.0.block_sparse_moe.experts.3.w2.weight"), "Mixtral's names");
        }

        Path example = Path.of("stories260K-moe/puzzle.yaml").toAbsolutePath();
        String yaml = Files.readString(example)
                .replace("../../../shared/", shared + "/")
                .replace("parent: ../../runs/stories260K-moe-parent", "parent: " + parent)
                .replace("run_dir: ../../runs/stories260K-moe", "run_dir: " + tmp.resolve("run"));
        assertTrue(yaml.contains("parent: " + parent) && yaml.contains("run_dir: " + tmp.resolve("run")), yaml);
        Path cfg = tmp.resolve("puzzle.yaml");
        Files.writeString(cfg, yaml);
        assertEquals(0, run(out, err, "compress", cfg.toString()), err.toString());
        JsonNode costs = new ObjectMapper().readTree(tmp.resolve("run/profile/block_costs.json").toFile());
        int moeEntries = 0;
        for (JsonNode layer : costs) {
            for (var it = layer.fields(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getKey().contains("ffn = moe")) continue;
                double active = e.getValue().get("stats").get("moe_active_experts").asDouble();
                int n = Integer.parseInt(e.getKey().replaceAll(".*ffn = moe (\\d+) experts.*", "$1"));
                assertTrue(active > 0 && active <= n + 1e-9, e.getKey() + ": " + active);
                moeEntries++;
            }
        }
        assertTrue(moeEntries >= 5 * 4, "every layer's MoE candidates are costed with their routing: " + moeEntries);
        JsonNode report = new ObjectMapper().readTree(tmp.resolve("run/report/report.json").toFile());
        assertEquals(3, report.get("frontier").size(), "one Puzzle child per throughput target");
        boolean heterogeneous = false;
        int uniform = 0;
        for (JsonNode m : report.get("models")) {
            String kind = m.get("kind").asText();
            if (kind.equals("parent")) continue;
            Checkpoint ck = Checkpoints.load(Path.of(m.get("model").asText()));
            assertEquals(m.get("parameters").asLong(), ck.parameterCount(), m.get("name").asText());
            Set<Integer> counts = new TreeSet<>();
            for (BlockConfig b : ck.config().blocks()) if (b.ffn() instanceof FfnConfig.Moe e) counts.add(e.numExperts());
            if (kind.equals("puzzle") && counts.size() > 1) heterogeneous = true;
            if (kind.equals("uniform")) {
                assertEquals(1, counts.size(), "uniform expert pruning keeps one count everywhere: " + counts);
                assertTrue(m.get("solved_by").asText().startsWith("uniform expert pruning (reap)"), m.toString());
                uniform++;
            }
        }
        assertTrue(heterogeneous, "at least one Puzzle child keeps different expert counts in different layers");
        assertEquals(3, uniform, "uniform REAP pruning at every budget");
    }
}
