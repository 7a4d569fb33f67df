package dev.puzzle.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.backend.Backend;
import dev.puzzle.core.eval.Perplexity;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.infer.Decoder;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.model.BlockConfig;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The gpt-oss example end to end: examples/gpt-oss-tiny/make-parent.sh's gpt-oss-shaped parent made from stories260K,
 * then examples/gpt-oss-tiny/puzzle.yaml compressed (run directory in a temporary folder): a child with per-layer expert
 * counts and a full layer turned into a window, every model reloading to its reported LM loss, and requests/s beside
 * tokens/s in the report.
 */
class GptOssExampleTest {
    @Test
    void aGptOssParentIsMadeAndCompressedWithExpertsAndWindowsChosenPerLayer(@TempDir Path tmp) throws Exception {
        Path shared = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.exists(shared.resolve("models/stories260K/stories260K.bin")), "skipped: " + shared + " is absent");
        String script = Files.readString(Path.of("gpt-oss-tiny/make-parent.sh")).replaceAll("\\s*\\\\\\n\\s*", " ");
        String settings = "--layout gpt-oss --window 32 --experts 4 --top-k 3 --sequences 128 --tokens 65536 --gkd-tokens 131072";
        assertTrue(script.contains(settings), "the test runs make-parent.sh's settings");
        Path parent = tmp.resolve("parent");
        StringWriter out = new StringWriter(), err = new StringWriter();
        String text = shared.resolve("models/tinystories-val-text/tinystories_val.txt").toString();
        MoeExampleTest.moefy(shared, settings, parent);
        JsonNode mf = new ObjectMapper().readTree(parent.resolve("moefication.json").toFile());
        double dense = mf.get("heldout_nll_dense").asDouble(), made = mf.get("heldout_nll_moe").asDouble();
        assertEquals(1.6676, dense, 1e-3, "stories260K's held-out NLL");
        assertTrue(made > dense && made < 2.5, "the gpt-oss-shaped parent is worse than stories260K, but not by much: " + made);
        Checkpoint pc = Checkpoints.load(parent);
        assertEquals("GptOssForCausalLM", pc.config().architecture());
        assertTrue(pc.config().extensions().sinks() && pc.config().extensions().experts() != null);
        try (Safetensors st = Safetensors.open(parent.resolve("model.safetensors"))) {
            assertTrue(st.entries().containsKey("model.layers.1.mlp.experts.gate_up_proj") && st.entries().containsKey("model.layers.1.self_attn.sinks"),
                    "gpt-oss's own tensor layout");
        }

        String yaml = Files.readString(Path.of("gpt-oss-tiny/puzzle.yaml").toAbsolutePath())
                .replace("../../../shared/", shared + "/")
                .replace("parent: ../../runs/gpt-oss-tiny-parent", "parent: " + parent)
                .replace("run_dir: ../../runs/gpt-oss-tiny", "run_dir: " + tmp.resolve("run"));
        assertTrue(yaml.contains("parent: " + parent) && yaml.contains("run_dir: " + tmp.resolve("run")), yaml);
        Path cfg = tmp.resolve("puzzle.yaml");
        Files.writeString(cfg, yaml);
        assertEquals(0, MoeExampleTest.run(out, err, "compress", cfg.toString()), err.toString());

        JsonNode report = new ObjectMapper().readTree(tmp.resolve("run/report/report.json").toFile());
        int[][] held = TokenData.sequences(Path.of(text), pc.tokenizer(), 400000, 2, 512);
        boolean both = false;
        for (JsonNode m : report.get("models")) {
            Checkpoint ck = m.get("kind").asText().equals("parent") ? pc : Checkpoints.load(Path.of(m.get("model").asText()));
            assertEquals(m.get("lm_loss").asDouble(), lmLoss(ck, held), 1e-5, m.get("name").asText() + " reloads to its reported LM loss");
            Set<Integer> experts = new TreeSet<>();
            boolean fullToWindow = false;
            for (int l = 0; l < ck.config().numLayers(); l++) {
                BlockConfig b = ck.config().blocks().get(l);
                experts.add(b.ffn().numExperts());
                if (pc.config().blocks().get(l).attention().window() == 0 && b.attention().window() > 0) fullToWindow = true;
            }
            if (m.get("kind").asText().equals("puzzle") && experts.size() > 1 && fullToWindow) both = true;
        }
        assertTrue(both, "a Puzzle child keeps different expert counts per layer and turns a full-attention layer into a window");
        JsonNode rq = report.get("requests");
        assertEquals(3, rq.get("efforts").size());
        assertEquals(report.get("models").size(), rq.get("rows").size(), "every model's requests/s");
        for (JsonNode row : rq.get("rows")) {
            JsonNode m = null;
            for (JsonNode x : report.get("models")) if (x.get("name").asText().equals(row.get("name").asText())) m = x;
            assertNotNull(m);
            for (JsonNode rate : row.get("rates")) {
                double tpr = rate.get("tokens_per_request").asDouble();
                assertEquals(m.get("predicted_tokens_per_s").asDouble() / tpr, rate.get("predicted_requests_per_s").asDouble(), 1e-6 * tpr);
            }
        }
        String html = Files.readString(tmp.resolve("run/report/index.html"));
        assertTrue(html.contains("Request-level efficiency") && html.contains("requests/s at high effort"), "the report shows requests/s");
    }

    /** Mean NLL over the held-out sequences, each from its own first token in one prefill (the report's LM loss). */
    static double lmLoss(Checkpoint ck, int[][] held) {
        return Perplexity.meanNll(new Decoder(ck, Backend.cpu()), held, Integer.MAX_VALUE);
    }
}
