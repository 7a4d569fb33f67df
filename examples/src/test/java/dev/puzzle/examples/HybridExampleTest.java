package dev.puzzle.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The hybrid example end to end: examples/stories260K-hybrid/make-parent.sh's Mamba–Transformer parent made from
 * stories260K (attention → Mamba-2 in layers 1 and 3, distilled), then examples/stories260K-hybrid/puzzle.yaml compressed
 * on its 8k-token workload (run directory in a temporary folder): every model reloads to its reported LM loss, a Puzzle
 * child turns an attention layer into Mamba-2, and each attention layer a child gives up takes its whole KV cache off the
 * predicted memory — the KV bytes of the workload's batch and context, computed here from the definition.
 */
class HybridExampleTest {
    @Test
    void aHybridParentIsMadeAndCompressedWithTheMambaAxes(@TempDir Path tmp) throws Exception {
        Path shared = Path.of(System.getProperty("puzzle.shared", "../shared")).toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.exists(shared.resolve("models/stories260K/stories260K.bin")), "skipped: " + shared + " is absent");
        String script = Files.readString(Path.of("stories260K-hybrid/make-parent.sh")).replaceAll("\\s*\\\\\\n\\s*", " ");
        String settings = "--mamba-layers 1,3 --sequences 128 --tokens 32768 --gkd-tokens 65536";
        assertTrue(script.contains(settings), "the test runs make-parent.sh's settings");
        Path parent = tmp.resolve("parent");
        StringWriter out = new StringWriter(), err = new StringWriter();
        String text = shared.resolve("models/tinystories-val-text/tinystories_val.txt").toString();
        MoeExampleTest.makeParent(shared, "hybridize", settings, parent);
        JsonNode hj = new ObjectMapper().readTree(parent.resolve("hybrid.json").toFile());
        double dense = hj.get("heldout_nll_parent").asDouble(), made = hj.get("heldout_nll_hybrid").asDouble();
        assertEquals(1.6676, dense, 1e-3, "stories260K's held-out NLL");
        assertTrue(made > dense && made < 2.3, "the hybrid is worse than stories260K, but not by much: " + made);
        Checkpoint pc = Checkpoints.load(parent);
        for (int l = 0; l < 5; l++) {
            assertEquals(l == 1 || l == 3, pc.config().blocks().get(l).attention() instanceof AttentionConfig.Mamba2, "layer " + l + ": " + pc.config().blocks().get(l));
        }

        String yaml = Files.readString(Path.of("stories260K-hybrid/puzzle.yaml").toAbsolutePath())
                .replace("../../../shared/", shared + "/")
                .replace("parent: ../../runs/stories260K-hybrid-parent", "parent: " + parent)
                .replace("run_dir: ../../runs/stories260K-hybrid", "run_dir: " + tmp.resolve("run"));
        assertTrue(yaml.contains("parent: " + parent) && yaml.contains("run_dir: " + tmp.resolve("run")), yaml);
        Path cfg = tmp.resolve("puzzle.yaml");
        Files.writeString(cfg, yaml);
        assertEquals(0, MoeExampleTest.run(out, err, "compress", cfg.toString()), err.toString());

        JsonNode report = new ObjectMapper().readTree(tmp.resolve("run/report/report.json").toFile());
        JsonNode w = report.get("workload");
        // One attention layer's KV cache at the workload: K and V, batch × (prefill + generation) positions × KV heads × head dim, BF16.
        double kvMib = 2.0 * w.get("batch").asInt() * (w.get("prefill_length").asInt() + w.get("generation_length").asInt()) * 4 * 8 * 2 / (1 << 20);
        int[][] held = TokenData.sequences(Path.of(text), pc.tokenizer(), 400000, 2, 512);
        double parentMib = 0;
        boolean tookMamba = false;
        for (JsonNode m : report.get("models")) if (m.get("kind").asText().equals("parent")) parentMib = m.get("predicted_memory_mib").asDouble();
        for (JsonNode m : report.get("models")) {
            Checkpoint ck = m.get("kind").asText().equals("parent") ? pc : Checkpoints.load(Path.of(m.get("model").asText()));
            assertEquals(m.get("lm_loss").asDouble(), GptOssExampleTest.lmLoss(ck, held), 1e-5, m.get("name").asText() + " reloads to its reported LM loss");
            if (!m.get("kind").asText().equals("puzzle")) continue;
            int kvLayersGone = 0;
            for (int l = 0; l < 5; l++) {
                BlockConfig p = pc.config().blocks().get(l), b = ck.config().blocks().get(l);
                if (p.attention().kvHeads() > 0 && b.attention().kvHeads() == 0) kvLayersGone++;
                if (p.attention() instanceof AttentionConfig.Gqa && b.attention() instanceof AttentionConfig.Mamba2) tookMamba = true;
            }
            double saved = parentMib - m.get("predicted_memory_mib").asDouble();
            assertTrue(kvLayersGone > 0, m.get("name").asText() + " fits the memory budget only without some KV caches");
            assertTrue(saved >= kvLayersGone * kvMib * 0.99, m.get("name").asText() + ": " + saved + " MiB saved for " + kvLayersGone + " KV caches of " + kvMib);
        }
        assertTrue(tookMamba, "a Puzzle child turns an attention layer into Mamba-2");
        assertTrue(report.get("summary").asText().contains("the MIP took it in"), report.get("summary").asText());
    }
}
