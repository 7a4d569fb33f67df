package dev.puzzle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.io.NemotronH;
import dev.puzzle.core.io.RandomWeights;
import dev.puzzle.core.model.AttentionConfig;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.model.RopeStyle;
import dev.puzzle.core.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.puzzle.cli.CliTest.run;
import static dev.puzzle.cli.CliTest.shared;
import static org.junit.jupiter.api.Assertions.*;

/**
 * puzzle compress on a Nemotron 3 parent (NemotronHForCausalLM, pattern M*EME: Mamba-2, attention without RoPE, MoE
 * layers with a sigmoid router), random weights on stories260K's tokenizer: the search keeps each layer's role, offers
 * narrower Mamba-2, attention → Mamba-2 and fewer experts, and every child is written as NemotronHForCausalLM (its pattern
 * or block_configs) and, where llama.cpp's nemotron_h_moe graph runs it, as GGUF that reads back here to the same logits.
 */
class NemotronHCompressTest {
    @Test
    void aNemotron3ParentIsCompressedWithTheHybridAxesAndItsChildrenRoundTrip(@TempDir Path tmp) throws Exception {
        var mamba = new AttentionConfig.Mamba2(8, 8, 16, 2, 4);
        FfnConfig.Moe moe = new FfnConfig.Moe(4, 2, 48, true, 64);
        List<BlockConfig> blocks = List.of(new BlockConfig(mamba, new FfnConfig.NoOp()), new BlockConfig(new AttentionConfig.Gqa(2), new FfnConfig.NoOp()),
                new BlockConfig(new AttentionConfig.NoOp(), moe), new BlockConfig(mamba, new FfnConfig.NoOp()), new BlockConfig(new AttentionConfig.NoOp(), moe));
        ModelConfig c = new ModelConfig(NemotronH.ARCH, 64, 4, 16, 2, 48, 512, 512, 1e-5f, 10000f, RopeStyle.HALF_SPLIT, false, false, blocks, false,
                new ModelConfig.Extensions(false, false, null, null, true, new ModelConfig.SigmoidExperts(2.5f)));
        Checkpoint ck = RandomWeights.of(c, 7);
        Map<String, DType> types = new LinkedHashMap<>();
        ck.storedTypes().forEach((n, t) -> types.put(n, DType.F32));
        Path parent = tmp.resolve("parent");
        Checkpoints.writeHfDir(new Checkpoint(c, ck.tensors(), types, null, "random nemotron 3"), parent, null);
        assertTrue(Files.readString(parent.resolve("config.json")).contains("\"hybrid_override_pattern\" : \"M*EME\""));
        Path cfg = tmp.resolve("puzzle.yaml");
        Files.writeString(cfg, """
                parent: %s
                tokenizer: %s
                run_dir: run
                hardware: h100-80gb-sxm
                workload: {batch: 8, prefill_length: 1024, generation_length: 128, weight_dtype: bf16, kv_dtype: bf16}
                search_space:
                  attention: {mamba2: true, mamba2_heads: [0.5], no_op: true}
                  moe: {experts: [0.5], scoring: frequency}
                data:
                  text: %s
                  seq_len: 64
                  calibration: {offset: 0, sequences: 8}
                  heldout: {offset: 300000, sequences: 1}
                distill: {mode: decoupled, tokens: 1024, batch_sequences: 2, lr: 2.0e-3, seed: 5}
                compress:
                  throughputs: [1.05x, 1.3x]
                  measure: {prompt: 16, generate: 16, reps: 1}
                """.formatted(parent, shared("models/stories260K/tok512.bin"), shared("models/tinystories-val-text/tinystories_val.txt")));
        CliTest.Run r = run("compress", cfg.toString());
        assertEquals(0, r.code(), r.err());
        for (int l : new int[]{0, 3}) {
            assertTrue(Files.exists(tmp.resolve("run/distill/layer_" + l + "/attn-mamba2-h4x8-n16-g2-k4.loss.json")), "layer " + l + ": a narrower Mamba-2 trained");
        }
        assertTrue(Files.exists(tmp.resolve("run/distill/layer_1/attn-mamba2-h4x16-n16-g2-k4.loss.json")), "layer 1: attention -> Mamba-2 trained");
        for (int l : new int[]{2, 4}) {
            try (var files = Files.list(tmp.resolve("run/distill/layer_" + l))) {
                List<String> ids = files.map(f -> f.getFileName().toString()).toList();
                assertTrue(ids.contains("ffn-moe2-top2.loss.json") && ids.stream().noneMatch(n -> n.startsWith("attn-")), "layer " + l + ": " + ids);
            }
        }
        JsonNode report = new ObjectMapper().readTree(tmp.resolve("run/report/report.json").toFile());
        int children = 0;
        for (JsonNode m : report.get("models")) {
            if (!m.get("kind").asText().equals("puzzle")) continue;
            children++;
            Checkpoint child = Checkpoints.load(Path.of(m.get("model").asText()));
            assertEquals(NemotronH.ARCH, child.config().architecture());
            for (int l = 0; l < 5; l++) {
                BlockConfig b = child.config().blocks().get(l), p = c.blocks().get(l);
                assertFalse(b.attention().hasWeights() && b.ffn().hasWeights(), "layer " + l + " keeps one part: " + b);
                if (!p.attention().hasWeights()) assertFalse(b.attention().hasWeights(), "an MoE layer gets no mixer: " + b);
                if (!p.ffn().hasWeights()) assertFalse(b.ffn().hasWeights(), "a mixer layer gets no FFN: " + b);
            }
            if (!m.get("gguf").isNull()) assertEquals(0, run("inspect", m.get("gguf").asText()).code(), "the GGUF reads back here");
            else assertTrue(m.get("gguf_refused").asText().matches("layer \\d+ \\(.*\\): .*"), m.get("gguf_refused").asText());
        }
        assertEquals(2, children);
    }
}
