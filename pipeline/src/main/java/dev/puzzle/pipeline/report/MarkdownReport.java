package dev.puzzle.pipeline.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The compress report as Markdown: the recommended child per budget and why, the models table (predicted on the
 * hardware profile, measured here as median [interquartile range]), the verdicts, unmet budgets, every model's
 * blocks and sample, how to run each child, and the run's metadata.
 */
public final class MarkdownReport {
    private MarkdownReport() {}

    public static String render(ReportModel r) {
        StringBuilder sb = new StringBuilder("# Puzzle report\n\n");
        sb.append("Run `").append(r.runDir()).append("`, hardware ").append(r.hardware()).append(" (").append(r.costModel()).append("), workload ")
                .append(HtmlReport.workload(r.workload())).append(String.format(Locale.ROOT, "; the parent: %.0f tokens/s predicted on %s.\n\n",
                        r.parentTokensPerS(), r.hardware()));
        for (String s : r.measurementLines()) sb.append(s).append("\n\n");
        if (!r.recommendations().isEmpty()) {
            sb.append("## Recommended child per budget\n\n");
            for (ReportModel.Recommendation c : r.recommendations()) {
                sb.append("- **").append(HtmlReport.budgetLabel(c)).append("** → `").append(c.name()).append("`: ").append(c.why()).append("; ")
                        .append(c.binding()).append(".\n");
            }
            sb.append('\n');
        }
        String hw = r.hardware();
        sb.append("| model | kind | target | KL to parent | top-1 | LM loss | ppl | params | predicted tok/s (").append(hw).append(") | predicted MiB (")
                .append(hw).append(") | measured here: workload tok/s, median [IQR] | measured here: prefill tok/s | measured here: decode tok/s"
                        + " (batch 1), median [IQR] |" + (r.task() == null ? "" : " task accuracy (acc_norm) | acc_norm retained |") + " chosen by |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|").append(r.task() == null ? "" : "---|---|").append("---|\n");
        ReportModel.ModelResult parent = r.models().stream().filter(m -> m.kind().equals("parent")).findFirst().orElse(null);
        for (ReportModel.ModelResult m : r.models()) {
            String task = HtmlReport.taskCells(r, m, parent).replace("</td><td>", " | ").replace("<td>", "").replace("</td>", " |");
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.4g | %.3f | %.4f | %.3f | %d | %.0f | %.3f | %s | %.0f | %s |%s %s |\n",
                    m.name(), m.kind(), m.target() == null ? "-" : m.target(), m.klDiv(), m.top1Agreement(), m.lmLoss(), m.perplexity(), m.parameters(),
                    m.predictedTokensPerS(), m.predictedMemoryMib(), ReportModel.rate(m.measuredWorkloadTokensPerS(), m.measuredWorkloadSpread()),
                    m.measuredPrefillTokensPerS(), ReportModel.rate(m.measuredDecodeTokensPerS(), m.measuredDecodeSpread()), task.isEmpty() ? "" : " " + task,
                    m.solvedBy() == null ? "-" : m.solvedBy()));
        }
        if (r.requests() != null) {
            ReportModel.RequestLevel q = r.requests();
            sb.append("\n## Request-level efficiency\n\n").append(q.describe()).append("\n\n| model | generated tokens per prompt | vs the parent |");
            for (ReportModel.Effort e : q.efforts()) {
                sb.append(' ').append(e.name()).append(" (").append(e.tokensPerRequest()).append(" tokens): tokens per request | requests/s predicted on ")
                        .append(hw).append(" | requests/s measured here |");
            }
            sb.append("\n|---|---|---|").append("---|---|---|".repeat(q.efforts().size())).append('\n');
            for (ReportModel.RequestRow row : q.rows()) {
                sb.append(String.format(Locale.ROOT, "| %s | %.1f | %.2f× |", row.name(), row.generated(), row.lengthRatio()));
                for (ReportModel.Rate rate : row.rates()) {
                    sb.append(String.format(Locale.ROOT, " %.0f | %.4g | %.4g |", rate.tokensPerRequest(), rate.predictedRequestsPerS(), rate.measuredRequestsPerS()));
                }
                sb.append('\n');
            }
        }
        sb.append("\n## Puzzle against the baselines\n\n");
        for (String s : r.verdictLines()) sb.append("- ").append(s).append('\n');
        if (!r.infeasible().isEmpty()) {
            sb.append("\n## Budgets no architecture meets\n\n");
            for (String s : r.infeasible()) sb.append("- ").append(s).append('\n');
        }
        if (r.leftOut() != null && !r.leftOut().isEmpty()) {
            sb.append("\n## Left out by training\n\n");
            for (String s : r.leftOut()) sb.append("- ").append(s).append('\n');
        }
        sb.append("\n## Blocks chosen per layer\n\n");
        for (ReportModel.ModelResult m : r.models()) {
            sb.append("- **").append(m.name()).append("**: ");
            List<String> b = new ArrayList<>();
            for (ReportModel.LayerBlock l : m.blocks()) {
                b.add(l.fusedRun() == null ? l.block() : "fused " + l.fusedRun() + ": " + l.block());
            }
            sb.append(String.join(" | ", b)).append('\n');
        }
        if (r.models().stream().anyMatch(m -> m.sample() != null)) {
            sb.append("\n## Samples (greedy, prompt \"").append(ReportModel.SAMPLE_PROMPT).append("\")\n\n");
            for (ReportModel.ModelResult m : r.models()) {
                if (m.sample() != null) sb.append("- **").append(m.name()).append("**: ").append(m.sample().replace('\n', ' ')).append('\n');
            }
        }
        sb.append("\n## Running the children\n\n");
        for (ReportModel.ModelResult m : r.models()) {
            for (String s : ReportModel.howToRun(m)) sb.append("- **").append(m.name()).append("** ").append(s).append('\n');
        }
        if (r.metadata() != null) {
            ReportModel.Metadata md = r.metadata();
            sb.append("\n## Run\n\n").append(String.format(Locale.ROOT, "%s, %s (commit %s), config `%s`, seed %d, backend %s.\n", md.date(), md.toolkit(),
                    md.commit(), r.config(), md.seed(), md.backend()));
        }
        return sb.toString();
    }
}
