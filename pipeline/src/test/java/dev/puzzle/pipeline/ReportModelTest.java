package dev.puzzle.pipeline;

import dev.puzzle.pipeline.report.HtmlReport;
import dev.puzzle.pipeline.report.MarkdownReport;
import dev.puzzle.pipeline.report.ReportModel;
import dev.puzzle.pipeline.report.ReportModel.ModelResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The report model: frontier, verdicts and summary from hand-made numbers; JSON round trip; the renderers. */
class ReportModelTest {
    static ModelResult model(String name, String kind, String target, Double tps, double kl, double predicted, double workload, double decode) {
        return new ModelResult(name, kind, target, tps, false, "/models/" + name, kind.equals("puzzle") ? "cp-sat, metrics.kl_div limit 60 s, optimal" : null,
                kl, 0.9, 0.99, 1.5, Math.exp(1.5), 1000, 5000, decode, workload, 10, 12, predicted, List.of(1.0, 2.0),
                List.of(new ReportModel.LayerBlock(0, "v0", "attn=gqa4 ffn=dense172", ReportModel.Look.FULL, null),
                        new ReportModel.LayerBlock(1, "v1", "attn=no_op ffn=no_op", ReportModel.Look.NO_ATTENTION, null)),
                kind.equals("parent") ? null : "/models/" + name + ".gguf", null,
                kind.equals("parent") ? null : kind.equals("puzzle") ? "DeciLMForCausalLM" : "LlamaForCausalLM");
    }

    static ReportModel build(List<ModelResult> models) {
        return ReportModel.build("runs/x", "x.yaml", "H100", "roofline", new ReportModel.Workload(64, 256, 256, "bf16", "bf16"), 2.0e5,
                "a note", models, List.of("3e5 tokens/s: no architecture meets it"), List.of("210000", "260000", "300000"));
    }

    @Test
    void verdictsFollowKlAndMeasuredWorkloadThroughput() {
        ReportModel r = build(List.of(
                model("parent", "parent", null, null, 0, 2.0e5, 1000, 3000),
                // 210000: Puzzle has lower KL and is within 5% of the baseline's measured workload speed: better.
                model("puzzle-210000", "puzzle", "210000", 2.1e5, 0.1, 2.2e5, 970, 100),
                model("uniform-210000", "uniform", "210000", 2.1e5, 0.5, 2.15e5, 1000, 9000),
                // 260000: lower KL but 10% slower on the workload (batch-1 decode, faster, does not count): not better.
                model("puzzle-260000", "puzzle", "260000", 2.6e5, 0.2, 2.7e5, 900, 9000),
                model("uniform-260000", "uniform", "260000", 2.6e5, 0.8, 2.6e5, 1000, 10)));
        assertEquals(2, r.frontier().size(), "no Puzzle child for 300000");
        assertEquals("puzzle-210000", r.frontier().get(0).name());
        assertEquals(Boolean.TRUE, r.comparisons().get(0).puzzleBetter(), r.comparisons().get(0).verdict());
        assertTrue(r.comparisons().get(0).verdict().contains("Puzzle is better"));
        assertEquals(Boolean.FALSE, r.comparisons().get(1).puzzleBetter());
        assertTrue(r.comparisons().get(1).verdict().contains("measured workload throughput is more than 5% lower"), r.comparisons().get(1).verdict());
        assertTrue(r.summary().contains("on 1 of 2 budgets"), r.summary());
    }

    @Test
    void frontierTakesTheLeastKlChildThatMeetsEachTarget() {
        // The 300000 child also meets 260000 with less KL than the 260000 child: the frontier point at 260000 is it.
        ReportModel r = build(List.of(
                model("parent", "parent", null, null, 0, 2.0e5, 1000, 3000),
                model("puzzle-260000", "puzzle", "260000", 2.6e5, 0.4, 2.65e5, 900, 9000),
                model("puzzle-300000", "puzzle", "300000", 3.0e5, 0.3, 3.1e5, 900, 9000)));
        assertEquals(List.of("puzzle-300000", "puzzle-300000"), r.frontier().stream().map(ReportModel.FrontierPoint::name).toList());
        assertTrue(r.comparisons().get(0).verdict().contains("no uniform-width baseline fits"));
        assertNull(r.comparisons().get(0).uniform());
        assertEquals("No uniform-width baseline fits any budget, so none is compared.", r.summary());
    }

    @Test
    void jsonRoundTripsAndRenderersShowEveryModel(@TempDir Path tmp) throws Exception {
        ReportModel r = build(List.of(model("parent", "parent", null, null, 0, 2.0e5, 1000, 3000),
                model("puzzle-210000", "puzzle", "210000", 2.1e5, 0.1, 2.2e5, 970, 100),
                model("uniform-210000", "uniform", "210000", 2.1e5, 0.5, 2.15e5, 1000, 9000)));
        r.write(tmp);
        ReportModel back = ReportModel.readJson(tmp.resolve("report.json"));
        assertEquals(r, back, "report.json holds every field");
        assertTrue(r.toJson().contains("\"measured_workload_tokens_per_s\" : 970.0"), r.toJson());
        assertTrue(r.toJson().contains("\"target_tokens_per_s\" : null"), "the parent has no target");
        String md = MarkdownReport.render(r);
        for (String n : List.of("parent", "puzzle-210000", "uniform-210000")) assertTrue(md.contains("| " + n + " |"), md);
        assertTrue(md.contains("3e5 tokens/s: no architecture meets it"));
        String html = HtmlReport.render(List.of(r), "t");
        assertEquals(4, html.split("<svg class=\"plot\"").length, "predicted frontier, measured frontier, per-layer runtimes");
        assertTrue(html.contains("cp-sat, metrics.kl_div limit 60 s, optimal"), "the report says which solver chose each child");
        assertTrue(md.contains("- **puzzle-210000** llama.cpp: llama-cli -m /models/puzzle-210000.gguf"), md);
        assertTrue(html.contains("llama-cli -m /models/puzzle-210000.gguf"), "the HTML says how to run each child too");
        assertFalse(md.contains("**parent** llama.cpp"), "the parent is the user's own");
        assertTrue(md.contains("**uniform-210000** Hugging Face directory: /models/uniform-210000 (LlamaForCausalLM: transformers'"), md);
        assertTrue(md.contains("**puzzle-210000** Hugging Face directory: /models/puzzle-210000 (DeciLMForCausalLM: Nemotron-NAS"), md);
    }
}
