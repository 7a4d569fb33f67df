package dev.puzzle.pipeline.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The report's predicted-vs-measured plot carries profile --validate's random children, and says its figures. */
class ValidationPointsTest {
    @Test
    void validationChildrenJoinThePlotAsGreyPoints(@TempDir Path run) throws Exception {
        List<Svg.Point> pts = new ArrayList<>();
        assertEquals("", HtmlReport.validation(run, pts), "no validation: nothing said");
        assertTrue(pts.isEmpty());
        Files.createDirectories(run.resolve("profile"));
        Files.writeString(run.resolve("profile/validation.json"), """
                {"children": [{"predicted_tokens_per_s": 5000, "measured_tokens_per_s": 4000},
                              {"predicted_tokens_per_s": 3000, "measured_tokens_per_s": 3300}],
                 "mape": 0.17045, "worst_error": 0.25, "spearman": 1.0}
                """);
        String said = HtmlReport.validation(run, pts);
        assertEquals(" Grey: 2 random children of the search space that profile --validate predicted and measured (not the search's picks):"
                + " MAPE 17.0%, worst +25.0%, Spearman 1.000.", said);
        assertEquals(2, pts.size());
        assertEquals(5000, pts.get(0).x());
        assertEquals(4000, pts.get(0).y());
        assertEquals("validation", pts.get(1).series());
    }
}
