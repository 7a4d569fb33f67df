package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.Gguf;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static dev.puzzle.cli.CliTest.run;
import static dev.puzzle.cli.CliTest.shared;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Weight precision as a search axis, end to end on stories260K: {@code search_space.precision} offers every part in
 * BF16, Q8_0 and Q4_0; the library costs each in its stored bytes; under a memory budget that no single format meets
 * well the MIP mixes formats per part; the realized child stores each matrix in its chosen format (Hugging Face and
 * GGUF); {@code compress.qad} distills the quantized children and keeps QAD only where it lowers KL; the report
 * compares the child with the whole parent in each uniform format.
 */
class PrecisionSearchTest {
    @Test
    void theMipChoosesAFormatPerPartAndTheChildStoresIt(@TempDir Path tmp) throws Exception {
        // The bundled example (precision: [bf16, q8_0, q4_0], batch 1, 0.45 MiB, compress.qad), its paths made absolute.
        Path cfg = tmp.resolve("precision.yaml");
        Path shared = shared("models").getParent();
        Files.writeString(cfg, Files.readString(Path.of("../examples/stories260K/precision.yaml"))
                .replace("../../../shared/", shared + "/").replace("run_dir: ../../runs/stories260K-precision", "run_dir: run"));
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        Path runDir = tmp.resolve("run");

        // Costs in stored bytes, from ggml's block sizes (Q4_0: 18 bytes per 32 values, Q8_0: 34; rows of 172 are not
        // whole blocks and stay BF16, as llama.cpp leaves them) and stories260K's shape (dim 64, 8 heads of 8, 4 KV heads, FFN 172).
        JsonNode lib = new ObjectMapper().readTree(runDir.resolve("score/block_library.json").toFile());
        JsonNode e = lib.get("layer_0").get("attention = gqa 4 kv heads (parent * 100%), weights q4_0 && ffn = dense 172 (parent * 100%), weights q8_0");
        assertNotNull(e, lib.get("layer_0").toString());
        long attention = 2 * 64 * (64 / 32 * 18) + 2 * 32 * (64 / 32 * 18) + 64 * 2; // q, o: 64 rows; k, v: 32 rows; the norm in BF16
        long ffn = 2 * 172 * (64 / 32 * 34) + 64 * 172 * 2 + 64 * 2;              // gate, up in Q8_0; down in BF16; the norm
        assertEquals((attention + ffn) / 1048576.0, e.get("stats").get("weight_mib").asDouble(), 1e-12);
        double q4kl = e.get("metrics").get("kl_div").asDouble();
        double q8kl = lib.get("layer_0").get("attention = gqa 4 kv heads (parent * 100%), weights q8_0 && ffn = dense 172 (parent * 100%), weights q8_0")
                .get("metrics").get("kl_div").asDouble();
        assertTrue(q8kl > 0 && q8kl < q4kl, "Q8_0 damages less than Q4_0: " + q8kl + " vs " + q4kl);

        // The search mixed formats per part; the realized child stores each matrix as chosen, in both files.
        JsonNode report = new ObjectMapper().readTree(runDir.resolve("report/report.json").toFile());
        JsonNode puzzle = null;
        Set<String> kinds = new HashSet<>();
        for (JsonNode m : report.get("models")) {
            kinds.add(m.get("kind").asText() + ":" + m.get("name").asText());
            if (m.get("kind").asText().equals("puzzle")) puzzle = m;
        }
        assertNotNull(puzzle, report.get("models").toString());
        assertTrue(kinds.contains("uniform-format:q4_0-1x"), "the whole parent in Q4_0 at the same budget: " + kinds);
        assertTrue(report.get("comparisons").toString().contains("weight precision per block"), report.get("comparisons").toString());
        Checkpoint child = Checkpoints.load(Path.of(puzzle.get("model").asText()));
        Set<DType> formats = new HashSet<>();
        for (int l = 0; l < child.config().numLayers(); l++) {
            BlockConfig b = child.config().blocks().get(l);
            formats.add(b.attention().quantizedWeights());
            formats.add(b.ffn().quantizedWeights());
            if (b.attention().quantizedWeights() != null) {
                assertEquals(b.attention().quantizedWeights(), child.tensors().get("model.layers." + l + ".self_attn.q_proj.weight").dtype(), "layer " + l);
            }
            if (b.ffn().quantizedWeights() != null) {
                assertEquals(b.ffn().quantizedWeights(), child.tensors().get("model.layers." + l + ".mlp.up_proj.weight").dtype(), "layer " + l);
            }
        }
        assertTrue(formats.size() >= 2 && formats.contains(DType.Q4_0), "formats mixed per part under 0.45 MiB: " + child.config().blocks());
        Path gguf = Path.of(puzzle.get("gguf").asText());
        Checkpoint fromGguf = Gguf.read(gguf);
        for (var t : child.tensors().entrySet()) {
            if (t.getValue().dtype().isQuantized()) assertEquals(t.getValue().dtype(), fromGguf.tensors().get(t.getKey()).dtype(), t.getKey());
        }

        // QAD ran on every child with quantized parts and kept its result only where KL went down.
        Path qad = runDir.resolve("compress").resolve(puzzle.get("name").asText()).resolve("qad.json");
        JsonNode q = new ObjectMapper().readTree(qad.toFile());
        assertEquals(q.get("kl_after").asDouble() < q.get("kl_before").asDouble() ? "qad" : "pre-qad", q.get("kept").asText());
        assertTrue(q.get("quantized_matrices").asInt() > 0);
        // On this example QAD lowers the Puzzle child's KL (0.031 -> 0.019 on the 2 calibration-region sequences it did
        // not train on: one pass over 128 distinct sequences; epochs over the 3 the calibration region makes overfit),
        // and the report's verdict says that both sides are after QAD.
        assertEquals("qad", q.get("kept").asText(), q.toString());
        assertTrue(q.get("kl_after").asDouble() < 0.8 * q.get("kl_before").asDouble(), q.toString());
        assertEquals("2 calibration-region sequences QAD did not train on", q.get("judged_on").asText());
        assertTrue(report.get("comparisons").toString().contains("(after QAD) vs"), report.get("comparisons").toString());
        assertTrue(puzzle.get("qad").asText().contains("quantization-aware"), puzzle.toString());
    }
}
