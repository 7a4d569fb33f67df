package dev.puzzle.pipeline.report;

/** The package-private tick arithmetic of {@link Svg}, for tests in other packages. */
public final class SvgAccess {
    private SvgAccess() {}

    public static double[] ticks(double lo, double hi, int n) {
        return Svg.ticks(lo, hi, n);
    }

    public static String tickLabel(double v, double step) {
        return Svg.tickLabel(v, step);
    }

    public static String decade(int k) {
        return Svg.decade(k);
    }
}
