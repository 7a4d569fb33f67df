package dev.puzzle.pipeline;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The whole-model fit: least squares worked by hand, the non-negative intercept, the times it scales. */
class CalibrationTest {
    @Test
    void fitsTheLeastSquaresLine() {
        // Points on y = 1.25x + 40 exactly, then a worked case: x = 1, 2, 3; y = 2, 3, 5: slope 3/2, intercept 10/3 − 3 = 1/3.
        assertArrayEquals(new double[]{1.25, 40}, Calibration.fit(new double[]{100, 200, 400}, new double[]{165, 290, 540}), 1e-9);
        assertArrayEquals(new double[]{1.5, 1.0 / 3}, Calibration.fit(new double[]{1, 2, 3}, new double[]{2, 3, 5}), 1e-12);
    }

    @Test
    void aNegativeFixedTimeFallsBackToAScaleAlone() {
        // y = 2x − 10 would need a negative fixed time: through the origin instead, a = Σxy / Σx² = (20·30 + 40·70) / (20² + 40²) = 1.7.
        assertArrayEquals(new double[]{1.7, 0}, Calibration.fit(new double[]{20, 40}, new double[]{30, 70}), 1e-12);
    }

    @Test
    void scalesEveryTimeAndNothingElse() {
        Calibration c = new Calibration(6, 1.5, 10, 4, 0.02);
        Map<String, Double> s = c.scaled(Map.of("stats.runtime_ms", 2.0, "stats.prefill_ms", 0.5, "stats.decode_ms", 1.5, "stats.attention_runtime_ms", 1.0,
                "stats.ffn_runtime_ms", 1.0, "stats.memory_mib", 3.0));
        assertEquals(3.0, s.get("stats.runtime_ms"));
        assertEquals(0.75, s.get("stats.prefill_ms"));
        assertEquals(2.25, s.get("stats.decode_ms"));
        assertEquals(1.5, s.get("stats.attention_runtime_ms"));
        assertEquals(3.0, s.get("stats.memory_mib"), "memory is counted, not timed");
    }
}
