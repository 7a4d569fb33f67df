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
public class ReportModelTest {
    static ModelResult model(String name, String kind, String target, Double tps, double kl, double predicted, double workload, double decode) {
        return new ModelResult(name, kind, target, tps, false, "/models/" + name, kind.equals("puzzle") ? "cp-sat, metrics.kl_div limit 60 s, optimal" : null,
                kl, 0.9, 0.99, 1.5, Math.exp(1.5), 1000, 5000, decode, workload, new ReportModel.Spread(decode * 0.98, decode * 1.01),
                new ReportModel.Spread(workload * 0.98, workload * 1.01), 10, 12, predicted, List.of(1.0, 2.0),
                List.of(new ReportModel.LayerBlock(0, "v0", "attn=gqa4 ffn=dense172", ReportModel.Look.FULL, null),
                        new ReportModel.LayerBlock(1, "v1", "attn=no_op ffn=no_op", ReportModel.Look.NO_ATTENTION, null)),
                kind.equals("parent") ? null : "/models/" + name + ".gguf", null,
                kind.equals("parent") ? null : kind.equals("puzzle") ? "DeciLMForCausalLM" : "LlamaForCausalLM", "Once upon a time " + name, 0.5, 0.6, null, null);
    }

    static ReportModel build(List<ModelResult> models) {
        return ReportModel.build("runs/x", "x.yaml", "H100", "roofline", new ReportModel.Workload(64, 256, 256, "bf16", "bf16"), 2.0e5,
                "a note", 12.0, models, List.of("3e5 tokens/s: no architecture meets it"), List.of("210000", "260000", "300000"));
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
        String html = HtmlReport.render(List.of(r.with(null, null, null, "a task")), "t");
        java.util.regex.Matcher para = java.util.regex.Pattern.compile("<p[^>]*>(.*?)</p>").matcher(html);
        java.util.Set<String> seen = new java.util.HashSet<>();
        while (para.find()) assertTrue(seen.add(para.group(1)), "a paragraph printed twice: " + para.group(1));
        assertTrue(seen.stream().anyMatch(p -> p.startsWith("Task: a task")), "the task is stated once");
        String mdTask = MarkdownReport.render(r.with(null, null, null, "a task"));
        assertEquals(1, mdTask.split("Task: a task", -1).length - 1, mdTask);
        assertEquals(4, html.split("<svg class=\"plot").length, "predicted frontier, measured frontier, per-layer runtimes");
        assertTrue(html.contains("cp-sat, metrics.kl_div limit 60 s, optimal"), "the report says which solver chose each child");
        assertTrue(md.contains("- **puzzle-210000** llama.cpp: llama-cli -m /models/puzzle-210000.gguf"), md);
        assertTrue(html.contains("llama-cli -m /models/puzzle-210000.gguf"), "the HTML says how to run each child too");
        assertFalse(md.contains("**parent** llama.cpp"), "the parent is the user's own");
        assertTrue(md.contains("**uniform-210000** Hugging Face directory: /models/uniform-210000 (LlamaForCausalLM: transformers'"), md);
        assertTrue(md.contains("**puzzle-210000** Hugging Face directory: /models/puzzle-210000 (DeciLMForCausalLM config.json and safetensors in the Nemotron-NAS layout; no outside loader is verified"), md);
        assertFalse(md.contains("vLLM") || html.contains("vLLM"), "no claim about a loader no test backs");
    }

    static ModelResult withCosts(ModelResult m, double predictedTps, double mib, double workload, double q1, double q3) {
        return new ModelResult(m.name(), m.kind(), m.target(), m.targetTokensPerS(), m.gkd(), m.model(), m.solvedBy(), m.klDiv(), m.top1Agreement(),
                m.hiddenCosine(), m.lmLoss(), m.perplexity(), m.parameters(), m.measuredPrefillTokensPerS(), m.measuredDecodeTokensPerS(), workload,
                m.measuredDecodeSpread(), new ReportModel.Spread(q1, q3), m.predictedRuntimeMs(), mib, predictedTps, m.predictedLayerRuntimeMs(),
                m.blocks(), m.gguf(), m.ggufRefused(), m.hfArchitecture(), m.sample(), m.taskAccuracy(), m.taskAccuracyNorm(), m.qad(), m.llamaCpp());
    }

    @Test
    void onThisMachineAChildThatMissesItsTargetWhenMeasuredIsSaidSoAndTheNextOneNamed() {
        // Relative targets: the parent predicted 2000 tokens/s and measured 1000, so 1.5x needs 1500 measured.
        ModelResult parent = withCosts(model("parent", "parent", null, null, 0, 2000, 1000, 3000), 2000, 20, 1000, 990, 1010);
        ModelResult a = withCosts(model("puzzle-1.5x", "puzzle", "1.5x", 3000.0, 0.1, 0, 0, 0), 3100, 9, 1400, 1390, 1410);
        ModelResult b = withCosts(model("puzzle-2x", "puzzle", "2x", 4000.0, 0.3, 0, 0, 0), 4200, 8, 2100, 2090, 2110);
        ReportModel r = ReportModel.build("runs/x", "x.yaml", "local-cpu (2 threads)", "measured", new ReportModel.Workload(64, 256, 256, "bf16", "bf16"), 2000,
                "a note", null, List.of(parent, a, b), List.of(), List.of("1.5x", "2x"));
        String missed = r.recommendations().get(0).binding(), met = r.recommendations().get(1).binding();
        assertTrue(missed.contains("; MISSED when measured here: 1400 tokens/s, 6.7% under the target as measured (1500); the least-KL child that meets it"
                + " when measured: puzzle-2x (KL 0.3000, 2100 tokens/s)"), missed);
        assertTrue(met.contains("; measured here 2100 tokens/s, 5.0% over the target as measured (2000)"), met);
        ReportModel h100 = ReportModel.build("runs/x", "x.yaml", "H100", "roofline", new ReportModel.Workload(64, 256, 256, "bf16", "bf16"), 2000,
                "a note", null, List.of(parent, a, b), List.of(), List.of("1.5x", "2x"));
        assertFalse(h100.recommendations().get(0).binding().contains("measured here"), "on another machine's budgets, nothing to check here");
    }

    @Test
    void eachBudgetRecommendsItsLeastKlChildAndNamesTheConstraintWithLeastSlack() {
        ModelResult parent = withCosts(model("parent", "parent", null, null, 0, 2.0e5, 1000, 3000), 2.0e5, 20, 1000, 990, 1010);
        // 210000: 0.5% over the throughput target, 25% under the 12 MiB budget: throughput binds.
        ModelResult a = withCosts(model("puzzle-210000", "puzzle", "210000", 2.1e5, 0.1, 0, 0, 0), 2.1105e5, 9, 1100, 1090, 1110);
        // 260000: 15% over the target, 1% under the memory budget: memory binds.
        ModelResult b = withCosts(model("puzzle-260000", "puzzle", "260000", 2.6e5, 0.3, 0, 0, 0), 2.99e5, 11.88, 1500, 1480, 1520);
        ReportModel r = build(List.of(parent, a, b));
        assertEquals(List.of("puzzle-210000", "puzzle-260000"), r.recommendations().stream().map(ReportModel.Recommendation::name).toList());
        ReportModel.Recommendation ra = r.recommendations().get(0), rb = r.recommendations().get(1);
        assertEquals(0.005, ra.throughputSlack(), 1e-9);
        assertEquals(0.25, ra.memorySlack(), 1e-9);
        assertTrue(ra.binding().startsWith("throughput binds: 211050 tokens/s predicted on H100 for a target of 210000 (0.5% over); memory 9.00 of 12.00 MiB (25.0% slack)"),
                ra.binding());
        assertTrue(rb.binding().startsWith("memory binds: 11.88 of 12.00 MiB predicted (1.0% slack)"), rb.binding());
        assertTrue(ra.why().contains("KL 0.1000, top-1 agreement 90.0%") && ra.why().contains("1.10x the parent's workload throughput"), ra.why());
        assertTrue(r.summaryLines().stream().anyMatch(l -> l.startsWith("Recommended at 210000 tokens/s: puzzle-210000 — throughput binds")), r.summaryLines().toString());
        // The parent's workload rate: 1000 tokens/s with quartiles 990 and 1010, a 2.0% noise floor.
        assertTrue(r.measurementLines().stream().anyMatch(l -> l.startsWith("Noise floor: the parent's measured workload throughput spans 2.0% of its median")),
                r.measurementLines().toString());
    }

    @Test
    void aVerdictWithinTheTimingSpreadSaysSo() {
        ModelResult parent = model("parent", "parent", null, null, 0, 2.0e5, 1000, 3000);
        ModelResult p = withCosts(model("puzzle-210000", "puzzle", "210000", 2.1e5, 0.1, 0, 0, 0), 2.2e5, 10, 900, 850, 1040);
        ModelResult u = withCosts(model("uniform-210000", "uniform", "210000", 2.1e5, 0.5, 0, 0, 0), 2.15e5, 10, 1000, 960, 1100);
        ReportModel r = build(List.of(parent, p, u));
        String v = r.comparisons().get(0).verdict();
        assertTrue(v.contains("measured workload throughput 900 [850–1040] vs 1000 [960–1100] tokens/s"), v);
        assertTrue(v.contains("Puzzle is NOT better: its measured workload throughput is more than 5% lower (the two throughputs' interquartile ranges overlap"), v);
        ModelResult fast = withCosts(u, 2.15e5, 10, 1000, 1045, 1100);
        assertFalse(build(List.of(parent, p, fast)).comparisons().get(0).verdict().contains("overlap"), "apart, the verdict stands alone");
    }

    /** Every tick of every plot is 1, 2 or 5 times a power of ten times an integer; every point carries its label. */
    public static void assertPlotsReadable(String html) {
        java.util.regex.Matcher svg = java.util.regex.Pattern.compile("(?s)<svg class=\"(plot[^\"]*|heatmap)\".*?</svg>").matcher(html);
        int plots = 0;
        while (svg.find()) {
            plots++;
            String one = svg.group();
            for (String axis : List.of("tick x", "tick y")) {
                java.util.regex.Matcher t = java.util.regex.Pattern.compile("<text class=\"" + axis + "\" data-value=\"([^\"]+)\"[^>]*>([^<]+)</text>").matcher(one);
                List<Double> v = new java.util.ArrayList<>();
                while (t.find()) {
                    assertTrue(t.group(2).startsWith(t.group(1)), "the tick shows its value: " + t.group());
                    v.add(Double.parseDouble(t.group(1)));
                }
                boolean log = one.contains("(log scale)") && axis.equals("tick y");
                for (int i = 1; i < v.size(); i++) {
                    if (log) {
                        assertEquals(10.0, v.get(i) / v.get(i - 1), 1e-9, "log ticks are decades: " + v);
                        double e = Math.log10(v.get(i));
                        assertEquals(Math.round(e), e, 1e-9, "a power of ten: " + v);
                    } else {
                        double step = v.get(i) - v.get(i - 1), p = Math.pow(10, Math.floor(Math.log10(step) + 1e-9)), m = step / p;
                        assertTrue(Math.abs(m - 1) < 1e-6 || Math.abs(m - 2) < 1e-6 || Math.abs(m - 5) < 1e-6, "round step " + step + " in " + v);
                        assertEquals(Math.round(v.get(i) / step), v.get(i) / step, 1e-6, "ticks at multiples of the step: " + v);
                    }
                }
            }
            java.util.regex.Matcher pt = java.util.regex.Pattern.compile("(?s)<g class=\"point\" data-label=\"([^\"]+)\"[^>]*>(.*?)</g>").matcher(one);
            while (pt.find()) {
                assertTrue(pt.group(2).matches("(?s).*<text class=\"point-label\"[^>]*>" + java.util.regex.Pattern.quote(pt.group(1)) + ".*"),
                        "point " + pt.group(1) + " is labelled");
            }
        }
        assertTrue(plots >= 3, "frontiers and per-layer bars: " + plots);
    }

    @Test
    void plotsHaveRoundTicksLabelledPointsBudgetLinesAndClipOutliers() {
        ModelResult parent = model("parent", "parent", null, null, 0, 2.0e5, 1000, 3000);
        ReportModel r = build(List.of(parent,
                model("puzzle-210000", "puzzle", "210000", 2.1e5, 0.001, 2.12e5, 1020, 3000),
                model("puzzle-260000", "puzzle", "260000", 2.6e5, 0.02, 2.62e5, 1100, 3000),
                model("uniform-210000", "uniform", "210000", 2.1e5, 0.05, 2.11e5, 1010, 3000),
                model("uniform-260000", "uniform", "260000", 2.6e5, 0.3, 2.61e5, 1150, 3000),
                model("layer-drop-260000", "layer-drop", "260000", 2.6e5, 40, 9.0e5, 4000, 3000)));
        String html = HtmlReport.render(List.of(r), "t");
        assertPlotsReadable(html);
        assertTrue(html.contains("budget 210000 tok/s") && html.contains("budget 260000 tok/s"), "budgets drawn");
        assertTrue(html.contains("layer-drop-260000 (off the plot: 4.5×, KL 40)"), "the outlier is clipped with its value");
        assertTrue(html.contains("parent (KL 0)"), "the parent sits on the axis floor, labelled");
        assertTrue(html.contains(">1.05×<") || html.contains(">1.1×<"), "speedup ticks");
        for (String shape : List.of("<circle", "<rect x=", "<polygon")) assertTrue(html.contains(shape), shape);
    }

    @Test
    void roundTicks() {
        assertArrayEquals(new double[]{0, 0.5, 1, 1.5, 2, 2.5, 3}, dev.puzzle.pipeline.report.SvgAccess.ticks(0, 2.62, 6), 1e-12);
        assertArrayEquals(new double[]{1.0, 1.1, 1.2, 1.3, 1.4, 1.5}, dev.puzzle.pipeline.report.SvgAccess.ticks(1.0, 1.46, 6), 1e-12);
        assertEquals("1.30", dev.puzzle.pipeline.report.SvgAccess.tickLabel(1.3, 0.05));
        assertEquals("200000", dev.puzzle.pipeline.report.SvgAccess.tickLabel(2e5, 5e4));
        assertEquals("0.001", dev.puzzle.pipeline.report.SvgAccess.decade(-3));
        assertEquals("1e-6", dev.puzzle.pipeline.report.SvgAccess.decade(-6));
    }

    /**
     * Request-level efficiency: requests/s = tokens/s ÷ tokens per request, a child's tokens per request scaled by its
     * generated length over the parent's — a child 1.5x faster per token that writes 1.5x longer gains nothing per request.
     */
    @Test
    void requestsPerSecondDivideThroughputByEachModelsTokensPerRequest() {
        List<ModelResult> models = List.of(model("parent", "parent", null, null, 0, 2.0e5, 1000, 3000),
                model("puzzle-3e5", "puzzle", "300000", 3.0e5, 0.2, 3.0e5, 1500, 4500),
                model("puzzle-2.4e5", "puzzle", "240000", 2.4e5, 0.1, 2.4e5, 1200, 3600));
        var efforts = new java.util.LinkedHashMap<String, Integer>();
        efforts.put("low", 600);
        efforts.put("high", 9000);
        ReportModel.RequestLevel q = ReportModel.RequestLevel.of(efforts, java.util.Map.of("parent", 100.0, "puzzle-3e5", 150.0, "puzzle-2.4e5", 100.0),
                models, 8, 16, 9000);
        ReportModel.RequestRow parent = q.rows().get(0), longer = q.rows().get(1), same = q.rows().get(2);
        assertEquals(2.0e5 / 600, parent.rates().get(0).predictedRequestsPerS(), 1e-9);
        assertEquals(1000.0 / 9000, parent.rates().get(1).measuredRequestsPerS(), 1e-12);
        assertEquals(1.5, longer.lengthRatio(), 1e-12);
        assertEquals(900, longer.rates().get(0).tokensPerRequest(), 1e-9);
        assertEquals(parent.rates().get(1).predictedRequestsPerS(), longer.rates().get(1).predictedRequestsPerS(), 1e-9, "1.5x per token, 1.5x longer: no gain");
        assertEquals(1.2 * parent.rates().get(1).predictedRequestsPerS(), same.rates().get(1).predictedRequestsPerS(), 1e-9);
        ReportModel r = build(models).withRequests(q);
        assertTrue(MarkdownReport.render(r).contains("| puzzle-3e5 | 150.0 | 1.50× | 900 |"), MarkdownReport.render(r));
        String html = HtmlReport.render(List.of(r), "t");
        assertTrue(html.contains("Request-level efficiency") && html.contains("requests/s at high effort (9000 tokens a request)"), html);
    }

    /** Where the search space offered attention → Mamba-2, the report says which Puzzle children took it, or the best a Mamba-2 candidate scored. */
    @Test
    void theReportSaysWhetherTheMipTookMamba2() {
        var mamba = new dev.puzzle.core.model.BlockConfig(new dev.puzzle.core.model.AttentionConfig.Mamba2(4, 8, 8, 4, 4),
                new dev.puzzle.core.model.FfnConfig.Dense(172));
        var gqa = new dev.puzzle.core.model.BlockConfig(new dev.puzzle.core.model.AttentionConfig.Gqa(4), new dev.puzzle.core.model.FfnConfig.Dense(172));
        List<dev.puzzle.blocklibrary.BlockLibrary.Replacement> lib = List.of(
                new dev.puzzle.blocklibrary.BlockLibrary.Replacement(2, 1, "m2", List.of(mamba), java.util.Map.of("metrics.kl_div", 0.25)),
                new dev.puzzle.blocklibrary.BlockLibrary.Replacement(3, 1, "m3", List.of(mamba), java.util.Map.of("metrics.kl_div", 0.11)),
                new dev.puzzle.blocklibrary.BlockLibrary.Replacement(3, 1, "g3", List.of(gqa), java.util.Map.of("metrics.kl_div", 0.0)));
        ModelResult parent = model("parent", "parent", null, null, 0, 2.0e5, 1000, 3000), child = model("puzzle-2e5", "puzzle", "200000", 2.0e5, 0.1, 2.0e5, 1000, 3000);
        assertEquals("Attention → Mamba-2 was offered; no Puzzle child takes it (the least replace-1-block KL of a Mamba-2 candidate: 0.1100, layer 3).",
                ReportStage.mambaChoice(List.of(parent, child), lib));
        List<ReportModel.LayerBlock> blocks = List.of(new ReportModel.LayerBlock(0, "v0", "attn=gqa4 ffn=dense172", ReportModel.Look.FULL, null),
                new ReportModel.LayerBlock(1, "m", mamba.toString(), ReportModel.Look.of(mamba), null));
        ModelResult taker = new ModelResult(child.name(), child.kind(), child.target(), child.targetTokensPerS(), false, child.model(), child.solvedBy(), 0.1, 0.9,
                0.99, 1.5, 4.5, 1000, 5000, 3000, 1000, null, null, 10, 12, 2.0e5, List.of(1.0, 2.0), blocks, null, null, null, null, null, null, null, null);
        assertEquals("Attention → Mamba-2 was offered; the MIP took it in puzzle-2e5 (layers 1).", ReportStage.mambaChoice(List.of(parent, taker), lib));
        assertTrue(build(List.of(parent, taker)).withSummaryLine("x.").verdictLines().getLast().endsWith(" x."));
        // A hybrid parent's own Mamba-2 layer (1): kept is not "took it"; its fate per child is said.
        ModelResult hybrid = new ModelResult("parent", "parent", null, null, false, null, null, 0, 1, 1, 1.5, 4.5, 1000, 5000, 3000, 1000, null, null, 10, 12, 2.0e5,
                List.of(1.0, 2.0), blocks, null, null, null, null, null, null, null, null);
        List<ReportModel.LayerBlock> dropped = List.of(blocks.get(0), new ReportModel.LayerBlock(1, "n", "attn=no_op ffn=dense172", ReportModel.Look.NO_ATTENTION, null));
        ModelResult dropper = new ModelResult("puzzle-3e5", "puzzle", "300000", 3.0e5, false, null, null, 0.2, 0.9, 0.99, 1.5, 4.5, 1000, 5000, 3000, 1000, null, null,
                10, 12, 3.0e5, List.of(1.0, 2.0), dropped, null, null, null, null, null, null, null, null);
        assertEquals("Attention → Mamba-2 was offered; no Puzzle child takes it (the least replace-1-block KL of a Mamba-2 candidate: 0.1100, layer 3)."
                        + " The parent's Mamba-2 layers 1: puzzle-2e5 keeps them; puzzle-3e5: layer 1 → attn=no_op.",
                ReportStage.mambaChoice(List.of(hybrid, taker, dropper), lib, true, List.of(1)));
    }
}
