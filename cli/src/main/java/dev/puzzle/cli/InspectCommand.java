package dev.puzzle.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.model.BlockConfig;
import dev.puzzle.core.model.ModelConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;

/** {@code puzzle inspect MODEL}: architecture, per-layer blocks, parameters and bytes by dtype. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        header = "Show a model's architecture, per-layer blocks, parameter count and bytes by dtype.",
        description = "Loads MODEL (any supported format) and prints what it is.",
        footer = {"", "Example:", "  puzzle inspect ../shared/models/stories260K/stories260K.gguf"})
final class InspectCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "The model to inspect.")
    String model;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Mixin
    ModelOptions opts;

    @Override
    public Integer call() throws Exception {
        Checkpoint ck = opts.load(model);
        ModelConfig c = ck.config();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectMapper m = new ObjectMapper();
            ObjectNode o = m.createObjectNode();
            o.put("source", ck.source());
            o.put("architecture", c.architecture());
            o.put("dim", c.dim());
            o.put("layers", c.numLayers());
            o.put("heads", c.numHeads());
            o.put("head_dim", c.headDim());
            o.put("kv_heads", c.numKvHeads());
            o.put("intermediate_size", c.intermediateSize());
            o.put("vocab_size", c.vocabSize());
            o.put("context_length", c.maxSeqLen());
            o.put("rope", c.ropeStyle().name().toLowerCase(Locale.ROOT));
            o.put("tied_embeddings", c.tiedEmbeddings());
            if (c.extensions().any()) {
                ObjectNode x = o.putObject("extensions");
                x.put("attention_sinks", c.extensions().sinks());
                x.put("o_proj_bias", c.extensions().outputBias());
                x.put("no_rope", c.extensions().noRope());
                var y = c.extensions().yarn();
                if (y != null) {
                    x.putObject("yarn").put("factor", y.factor()).put("original_context", y.originalContext()).put("beta_fast", y.betaFast())
                            .put("beta_slow", y.betaSlow()).put("truncate", y.truncate()).put("attention_factor", y.scale());
                }
                var e = c.extensions().experts();
                if (e != null) x.putObject("clamped_swiglu_experts").put("limit", e.limit()).put("alpha", e.alpha());
            }
            if (dev.puzzle.core.io.NemotronH.hybrid(c)) o.put("pattern", dev.puzzle.core.io.NemotronH.pattern(c));
            o.put("parameters", ck.parameterCount());
            ObjectNode bytes = o.putObject("bytes_by_dtype");
            ck.bytesByDType().forEach((k, v) -> bytes.put(k.name(), v));
            ArrayNode blocks = o.putArray("blocks");
            for (BlockConfig b : c.blocks()) blocks.add(b.toString());
            o.put("tokenizer", ck.tokenizer() != null ? ck.tokenizer().vocabSize() + " tokens" : null);
            out.println(m.writerWithDefaultPrettyPrinter().writeValueAsString(o));
            return ExitCodes.OK;
        }
        out.printf(Locale.ROOT, "model         %s%n", ck.source());
        out.printf(Locale.ROOT, "architecture  %s (RoPE %s, %s embeddings%s)%n", c.architecture(), c.ropeStyle().name().toLowerCase(Locale.ROOT),
                c.tiedEmbeddings() ? "tied" : "untied", c.qkvBias() ? ", q/k/v bias" : "");
        out.printf(Locale.ROOT, "shape         dim %d, %d layers, %d heads × %d, %d KV heads, FFN %d, vocab %d, context %d%n",
                c.dim(), c.numLayers(), c.numHeads(), c.headDim(), c.numKvHeads(), c.intermediateSize(), c.vocabSize(), c.maxSeqLen());
        if (c.extensions().any()) out.printf(Locale.ROOT, "extensions    %s%n", c.extensions().describe());
        if (dev.puzzle.core.io.NemotronH.hybrid(c)) {
            out.printf(Locale.ROOT, "pattern       %s  (M Mamba-2, * attention, - FFN, E MoE, m/a a Mamba-2/attention layer with an FFN, . identity)%n",
                    dev.puzzle.core.io.NemotronH.pattern(c));
        }
        out.printf(Locale.ROOT, "parameters    %,d%n", ck.parameterCount());
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<DType, Long> e : ck.bytesByDType().entrySet()) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(String.format(Locale.ROOT, "%s %,d", e.getKey(), e.getValue()));
        }
        out.printf(Locale.ROOT, "bytes         %s%n", sb);
        out.printf(Locale.ROOT, "tokenizer     %s%n", ck.tokenizer() != null ? ck.tokenizer().vocabSize() + " tokens (embedded)" : "none embedded");
        out.println("layers:");
        for (int i = 0; i < c.numLayers(); i++) out.printf(Locale.ROOT, "  %3d  %s%n", i, c.blocks().get(i).toString());
        return ExitCodes.OK;
    }
}
