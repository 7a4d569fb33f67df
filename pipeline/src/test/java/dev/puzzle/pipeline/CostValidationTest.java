package dev.puzzle.pipeline;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Spearman's rank correlation against values worked by hand from its definition. */
class CostValidationTest {
    @Test
    void spearmanIsPearsonOfRanksWithTiesAtTheirMeanRank() {
        // No ties: 1 − 6·Σd² / (n(n² − 1)) = 1 − 6·2 / 60.
        assertEquals(0.8, CostValidation.spearman(new double[]{10, 20, 30, 40}, new double[]{1, 3, 2, 4}), 1e-12);
        assertEquals(-1.0, CostValidation.spearman(new double[]{1, 2, 3}, new double[]{9, 5, 1}), 1e-12);
        // Ties: ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4): covariance 4.5 over √(4.5 · 5).
        assertArrayEquals(new double[]{1.5, 1.5, 3, 4}, CostValidation.ranks(new double[]{7, 7, 8, 9}), 1e-12);
        assertEquals(4.5 / Math.sqrt(4.5 * 5), CostValidation.spearman(new double[]{7, 7, 8, 9}, new double[]{1, 2, 3, 4}), 1e-12);
        assertEquals(0.0, CostValidation.spearman(new double[]{5, 5, 5}, new double[]{1, 2, 3}), "no spread, no correlation");
    }
}
