package dev.puzzle.pipeline.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The compress report as Markdown: the models table, the verdicts, unmet budgets, and every model's blocks. */
public final class MarkdownReport {
    private MarkdownReport() {}

    public static String render(ReportModel r) {
        StringBuilder sb = new StringBuilder("# Puzzle report\n\n");
        sb.append("Run `").append(r.runDir()).append("`, hardware ").append(r.hardware()).append(" (").append(r.costModel()).append("), workload ")
                .append(HtmlReport.workload(r.workload())).append(String.format(Locale.ROOT, "; the parent: %.0f tokens/s predicted.\n\n", r.parentTokensPerS()));
        sb.append("| model | kind | target | KL to parent | top-1 | LM loss | ppl | params | predicted tok/s | predicted MiB | measured workload tok/s"
                + " | measured prefill tok/s | measured decode tok/s (batch 1) | chosen by |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (ReportModel.ModelResult m : r.models()) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.4g | %.3f | %.4f | %.3f | %d | %.0f | %.3f | %.0f | %.0f | %.0f | %s |\n",
                    m.name(), m.kind(), m.target() == null ? "-" : m.target(), m.klDiv(), m.top1Agreement(), m.lmLoss(), m.perplexity(), m.parameters(),
                    m.predictedTokensPerS(), m.predictedMemoryMib(), m.measuredWorkloadTokensPerS(), m.measuredPrefillTokensPerS(),
                    m.measuredDecodeTokensPerS(), m.solvedBy() == null ? "-" : m.solvedBy()));
        }
        sb.append("\n## Puzzle against the baselines\n\n");
        for (String s : r.summaryLines()) sb.append("- ").append(s).append('\n');
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
        sb.append("\n## Running the children\n\n");
        for (ReportModel.ModelResult m : r.models()) {
            for (String s : ReportModel.howToRun(m)) sb.append("- **").append(m.name()).append("** ").append(s).append('\n');
        }
        return sb.toString();
    }
}
