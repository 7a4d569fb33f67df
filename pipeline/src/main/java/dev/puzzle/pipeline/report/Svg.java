package dev.puzzle.pipeline.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The report's plots as inline SVG, drawn as a reader of an ML paper expects them: round ticks (1, 2 or 5 times a
 * power of ten), a log axis in decades, every point labelled, one marker shape per kind, budgets as dashed lines,
 * outliers clipped to the edge with an arrow and their value, grouped bars over categorical axes, and a heatmap
 * with a colour bar. Ticks carry {@code class="tick"} and {@code data-value}, points {@code class="point"} and
 * {@code data-label} with their label inside, so a test can read them back.
 */
final class Svg {
    private Svg() {}

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** Marker shapes, one per kind of model. */
    enum Marker { CIRCLE, SQUARE, TRIANGLE, DIAMOND, STAR }

    /** One point: where, its label, kind (for the legend), colour, marker, and an optional horizontal error bar. */
    record Point(double x, double y, String label, String series, String color, Marker marker, double xLo, double xHi) {
        Point(double x, double y, String label, String series, String color, Marker marker) {
            this(x, y, label, series, color, marker, Double.NaN, Double.NaN);
        }
    }

    /** A vertical dashed line at {@code x} with its label (a budget). */
    record VLine(double x, String label) {}

    /** The step of round ticks covering {@code range} in about {@code n} steps: 1, 2 or 5 times a power of ten. */
    static double niceStep(double range, int n) {
        double raw = range / Math.max(1, n), p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    }

    /** Round ticks from below {@code lo} to above {@code hi}. */
    static double[] ticks(double lo, double hi, int n) {
        double step = niceStep(hi - lo, n), a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
        int k = (int) Math.round((b - a) / step);
        double[] t = new double[k + 1];
        for (int i = 0; i <= k; i++) t[i] = Math.round((a + i * step) / step) * step;
        return t;
    }

    /** A tick value with as many decimals as its step needs (no 1.310-style labels). */
    static String tickLabel(double v, double step) {
        int decimals = Math.max(0, (int) -Math.floor(Math.log10(step) + 1e-9));
        return String.format(Locale.ROOT, "%." + decimals + "f", v + 0.0);
    }

    /** Three significant digits without trailing zeros (4.5, 40, 0.00123). */
    static String brief(double v) {
        return new java.math.BigDecimal(String.format(Locale.ROOT, "%.3g", v)).stripTrailingZeros().toPlainString();
    }

    /** A power of ten as a plain number where short (0.001, 10), else as 1e-5. */
    static String decade(int k) {
        return k >= -4 && k <= 4 ? new java.math.BigDecimal(java.math.BigInteger.ONE, -k).toPlainString() : "1e" + k;
    }

    static final int W = 960, H = 480, ML = 80, MR = 190, MT = 46, MB = 58;

    /**
     * A scatter with a linear x axis and a log y axis. Points at y = 0 (the parent's KL) sit on the axis floor,
     * labelled with their value; points far beyond the others are clipped to the edge with an arrow.
     */
    static String scatter(String title, String xLabel, String xUnit, String yLabel, List<Point> points, List<VLine> lines) {
        // x: the range of the points and lines, except points beyond 1.5 spans of the rest (outliers, clipped).
        List<Double> xs = new ArrayList<>();
        for (Point p : points) xs.add(p.x());
        for (VLine l : lines) xs.add(l.x());
        double[] core = coreRange(xs);
        double x0 = core[0], x1 = core[1];
        if (!(x1 > x0)) { x0 -= 0.5; x1 += 0.5; }
        double[] xt = ticks(x0, x1, 6);
        double xStep = xt.length > 1 ? xt[1] - xt[0] : 1;
        double fx0 = xt[0], fx1 = xt[xt.length - 1];
        // y: decades around the positive values; beyond 10x the others' maximum is clipped.
        double yMin = Double.POSITIVE_INFINITY, yMax = 0;
        List<Double> ys = new ArrayList<>();
        for (Point p : points) if (p.y() > 0) ys.add(p.y());
        for (double v : ys) yMin = Math.min(yMin, v);
        double[] yCore = coreLogRange(ys);
        yMax = yCore[1];
        if (ys.isEmpty()) { yMin = 1e-3; yMax = 1; }
        int k0 = (int) Math.floor(Math.log10(yMin)), k1 = (int) Math.ceil(Math.log10(yMax));
        if (k1 == k0) k1++;
        final int lk0 = k0, lk1 = k1;
        java.util.function.DoubleUnaryOperator px = v -> ML + (v - fx0) / (fx1 - fx0) * (W - ML - MR);
        java.util.function.DoubleUnaryOperator py = v -> H - MB - (Math.log10(v) - lk0) / (lk1 - lk0) * (H - MT - MB);
        StringBuilder sb = frame("plot", title);
        for (double t : xt) {
            double x = px.applyAsDouble(t);
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>", x, MT, x, H - MB));
            sb.append(String.format(Locale.ROOT, "<text class=\"tick x\" data-value=\"%s\" x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s%s</text>",
                    tickLabel(t, xStep), x, H - MB + 18, tickLabel(t, xStep), xUnit));
        }
        decades(sb, k0, k1, py);
        axisLabels(sb, xLabel, yLabel + " (log scale)");
        for (VLine l : lines) {
            double x = px.applyAsDouble(Math.max(fx0, Math.min(fx1, l.x())));
            sb.append(String.format(Locale.ROOT, "<g class=\"budget\"><line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\" stroke-dasharray=\"6,4\"/>"
                    + "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#555\" transform=\"rotate(-90 %.1f %d)\">%s</text></g>",
                    x, MT, x, H - MB, x - 4, MT + 4, x - 4, MT + 4, esc(l.label())));
        }
        double floorY = H - MB, topY = MT;
        List<double[]> placed = new ArrayList<>();
        for (Point p : points) { // the parent last, on top
            boolean clipX = p.x() > fx1 || p.x() < fx0, clipY = p.y() > Math.pow(10, k1), zero = !(p.y() > 0);
            double x = px.applyAsDouble(Math.max(fx0, Math.min(fx1, p.x()))), y = zero ? floorY : clipY ? topY : py.applyAsDouble(p.y());
            String label = p.label();
            if (zero) label += " (KL 0)";
            if (clipX || clipY) label += " (off the plot: " + brief(p.x()) + xUnit + ", KL " + brief(p.y()) + ")";
            sb.append(String.format(Locale.ROOT, "<g class=\"point\" data-label=\"%s\" data-series=\"%s\">", esc(p.label()), esc(p.series())));
            if (!Double.isNaN(p.xLo()) && !clipX) {
                double a = px.applyAsDouble(Math.max(fx0, p.xLo())), b = px.applyAsDouble(Math.min(fx1, p.xHi()));
                sb.append(String.format(Locale.ROOT, "<line class=\"spread\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\"/>",
                        a, y, b, y, p.color()));
            }
            if (clipX) sb.append(arrow(x, y, p.x() > fx1 ? 1 : -1, 0, p.color()));
            else if (clipY) sb.append(arrow(x, y, 0, -1, p.color()));
            else sb.append(marker(p.marker(), x, y, p.color()));
            // The label beside the point, moved down while it would overlap one placed before.
            double lx = x + 8, ly = y - 8;
            for (int guard = 0; guard < 12 && overlaps(placed, lx, ly, label.length()); guard++) ly += 13;
            placed.add(new double[]{lx, ly, label.length()});
            boolean right = lx + label.length() * 6.2 > W - MR + 12; // it would run into the legend: put it left of the point
            sb.append(String.format(Locale.ROOT, "<text class=\"point-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\"%s>%s</text>", right ? x - 8 : lx, ly,
                    right ? " text-anchor=\"end\"" : "", esc(label)));
            sb.append(String.format(Locale.ROOT, "<title>%s: x %s%s, KL %.4g</title></g>", esc(p.label()), tickLabel(p.x(), xStep / 100), xUnit, p.y()));
        }
        legend(sb, points);
        return sb.append("</svg>").toString();
    }

    /** The y ticks and grid lines of a log axis, one per decade from 10^k0 to 10^k1. */
    private static void decades(StringBuilder sb, int k0, int k1, java.util.function.DoubleUnaryOperator py) {
        for (int k = k0; k <= k1; k++) {
            double y = py.applyAsDouble(Math.pow(10, k));
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", ML, y, W - MR, y));
            sb.append(String.format(Locale.ROOT, "<text class=\"tick y\" data-value=\"%s\" x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s</text>",
                    decade(k), ML - 8, y + 4, decade(k)));
        }
    }

    private static boolean overlaps(List<double[]> placed, double x, double y, int chars) {
        for (double[] q : placed) {
            if (Math.abs(q[1] - y) < 12 && x < q[0] + q[2] * 6.2 && q[0] < x + chars * 6.2) return true;
        }
        return false;
    }

    /** The range of values, leaving out those beyond 1.5 spans of the others (at least 3 values to judge). */
    static double[] coreRange(List<Double> v) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        List<Double> s = new ArrayList<>(v);
        s.sort(Double::compare);
        if (s.size() >= 4) {
            double q1 = s.get(s.size() / 4), q3 = s.get((3 * s.size()) / 4), span = Math.max(q3 - q1, 1e-9 + 0.05 * Math.abs(q3));
            for (double x : s) if (x >= q1 - 3 * span && x <= q3 + 3 * span) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
        } else {
            for (double x : s) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
        }
        if (lo == Double.POSITIVE_INFINITY) return new double[]{0, 1};
        double pad = Math.max(1e-9, (hi - lo) * 0.06);
        return new double[]{lo - pad, hi + pad};
    }

    /** The range of positive values on a log scale, leaving out those 30x above the median. */
    static double[] coreLogRange(List<Double> v) {
        if (v.isEmpty()) return new double[]{1e-3, 1};
        List<Double> s = new ArrayList<>(v);
        s.sort(Double::compare);
        double med = s.get(s.size() / 2), lo = s.get(0), hi = lo;
        for (double x : s) if (x <= med * 30) hi = Math.max(hi, x);
        return new double[]{lo, hi};
    }

    private static String arrow(double x, double y, int dx, int dy, String color) {
        double tx = x + dx * 12, ty = y + dy * 12;
        return String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>"
                        + "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>", x - dx * 6, y - dy * 6, tx, ty, color,
                tx + dx * 6, ty + dy * 6, tx - dy * 5, ty - dx * 5, tx + dy * 5, ty + dx * 5, color);
    }

    static String marker(Marker m, double x, double y, String color) {
        return switch (m) {
            case CIRCLE -> String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\" stroke=\"#fff\"/>", x, y, color);
            case SQUARE -> String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"11\" height=\"11\" fill=\"%s\" stroke=\"#fff\"/>", x - 5.5, y - 5.5, color);
            case TRIANGLE -> String.format(Locale.ROOT, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\" stroke=\"#fff\"/>", x, y - 7, x - 7, y + 5,
                    x + 7, y + 5, color);
            case DIAMOND -> String.format(Locale.ROOT, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\" stroke=\"#fff\"/>", x, y - 7,
                    x + 7, y, x, y + 7, x - 7, y, color);
            case STAR -> {
                StringBuilder pts = new StringBuilder();
                for (int i = 0; i < 10; i++) {
                    double r = i % 2 == 0 ? 9 : 4, a = Math.PI / 2 + i * Math.PI / 5;
                    pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", x + r * Math.cos(a), y - r * Math.sin(a)));
                }
                yield String.format(Locale.ROOT, "<polygon points=\"%s\" fill=\"%s\" stroke=\"#fff\"/>", pts.toString().trim(), color);
            }
        };
    }

    /** A plot's opening: the {@code svg} element of the plot's size with its class and title, the title drawn, the axes. */
    private static StringBuilder frame(String cls, String title) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "<svg class=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                + " viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">", cls, W, H, W, H, esc(title)));
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">%s</text>", ML, esc(title)));
        axes(sb);
        return sb;
    }

    private static void axes(StringBuilder sb) {
        sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", ML, H - MB, W - MR, H - MB));
        sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", ML, MT, ML, H - MB));
    }

    private static void axisLabels(StringBuilder sb, String x, String y) {
        sb.append(String.format(Locale.ROOT, "<text class=\"axis-label\" x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\">%s</text>", (ML + W - MR) / 2,
                H - 14, esc(x)));
        sb.append(String.format(Locale.ROOT, "<text class=\"axis-label\" x=\"18\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">%s</text>",
                (MT + H - MB) / 2, (MT + H - MB) / 2, esc(y)));
    }

    private static void legend(StringBuilder sb, List<Point> points) {
        List<String> seen = new ArrayList<>();
        int y = MT + 12;
        for (Point p : points) {
            if (seen.contains(p.series())) continue;
            seen.add(p.series());
            sb.append(marker(p.marker(), W - MR + 24, y - 4, p.color()));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>", W - MR + 38, y, esc(p.series())));
            y += 22;
        }
    }

    /** A named line of (x, y) values. */
    record Line(String name, String color, double[] x, double[] y) {}

    /** Lines over a linear x axis and a log y axis in decades (loss curves); each line's name at its end. */
    static String lines(String title, String xLabel, String yLabel, List<Line> lines) {
        double x1 = 1, y0 = Double.POSITIVE_INFINITY, y1 = 0;
        for (Line l : lines) {
            for (double v : l.x()) x1 = Math.max(x1, v);
            for (double v : l.y()) if (v > 0) { y0 = Math.min(y0, v); y1 = Math.max(y1, v); }
        }
        if (!(y1 > 0)) { y0 = 0.01; y1 = 1; }
        double[] xt = ticks(0, x1, 6);
        double xStep = xt.length > 1 ? xt[1] - xt[0] : 1, fx1 = xt[xt.length - 1];
        int k0 = (int) Math.floor(Math.log10(y0)), k1 = (int) Math.ceil(Math.log10(y1));
        if (k1 == k0) k1++;
        final int lk0 = k0, lk1 = k1;
        java.util.function.DoubleUnaryOperator px = v -> ML + v / fx1 * (W - ML - MR);
        java.util.function.DoubleUnaryOperator py = v -> H - MB - (Math.log10(v) - lk0) / (lk1 - lk0) * (H - MT - MB);
        StringBuilder sb = frame("plot lines", title);
        for (double t : xt) {
            double x = px.applyAsDouble(t);
            sb.append(String.format(Locale.ROOT, "<text class=\"tick x\" data-value=\"%s\" x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>",
                    tickLabel(t, xStep), x, H - MB + 18, tickLabel(t, xStep)));
        }
        decades(sb, k0, k1, py);
        axisLabels(sb, xLabel, yLabel + " (log scale)");
        List<double[]> placed = new ArrayList<>();
        for (Line l : lines) {
            StringBuilder pts = new StringBuilder();
            for (int i = 0; i < l.x().length; i++) {
                if (l.y()[i] > 0) pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px.applyAsDouble(l.x()[i]), py.applyAsDouble(l.y()[i])));
            }
            sb.append(String.format(Locale.ROOT, "<polyline class=\"curve\" data-label=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"%s\"/>",
                    esc(l.name()), l.color(), pts.toString().trim()));
            int n = l.x().length - 1;
            if (n < 0) continue;
            double lx = W - MR + 6, ly = py.applyAsDouble(Math.max(l.y()[n], Math.pow(10, k0))) + 4;
            for (int guard = 0; guard < 20 && overlaps(placed, lx, ly, 20); guard++) ly += 12;
            placed.add(new double[]{lx, ly, 20});
            sb.append(String.format(Locale.ROOT, "<text class=\"line-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"%s\">%s</text>", lx, ly, l.color(), esc(l.name())));
        }
        return sb.append("</svg>").toString();
    }

    /**
     * Points over linear x and y axes from 0 with round ticks and the diagonal y = x (predicted against measured),
     * every point labelled.
     */
    static String diagonal(String title, String xLabel, String yLabel, List<Point> points) {
        return diagonal(title, xLabel, yLabel, points, List.of());
    }

    /** As above, with {@code context} points drawn beneath, unlabelled (their names in their tooltips), and in the legend. */
    static String diagonal(String title, String xLabel, String yLabel, List<Point> points, List<Point> context) {
        double max = 0;
        for (Point p : points) max = Math.max(max, Math.max(p.x(), p.y()));
        for (Point p : context) max = Math.max(max, Math.max(p.x(), p.y()));
        if (!(max > 0)) max = 1;
        double[] t = ticks(0, max * 1.05, 5);
        double step = t.length > 1 ? t[1] - t[0] : 1, top = t[t.length - 1];
        java.util.function.DoubleUnaryOperator px = v -> ML + v / top * (W - ML - MR), py = v -> H - MB - v / top * (H - MT - MB);
        StringBuilder sb = frame("plot diagonal", title);
        for (double v : t) {
            sb.append(String.format(Locale.ROOT, "<text class=\"tick x\" data-value=\"%s\" x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>",
                    tickLabel(v, step), px.applyAsDouble(v), H - MB + 18, tickLabel(v, step)));
            sb.append(String.format(Locale.ROOT, "<text class=\"tick y\" data-value=\"%s\" x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s</text>",
                    tickLabel(v, step), ML - 8, py.applyAsDouble(v) + 4, tickLabel(v, step)));
        }
        sb.append(String.format(Locale.ROOT, "<line class=\"identity\" x1=\"%d\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4,4\"/>"
                + "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#777\">measured = predicted</text>", ML, H - MB, px.applyAsDouble(top), py.applyAsDouble(top),
                px.applyAsDouble(top) - 130, py.applyAsDouble(top) + 14));
        axisLabels(sb, xLabel, yLabel);
        for (Point p : context) {
            sb.append(String.format(Locale.ROOT, "<g class=\"point context\" data-label=\"%s\" data-series=\"%s\">%s<title>%s: predicted %s, measured %s</title></g>",
                    esc(p.label()), esc(p.series()), marker(p.marker(), px.applyAsDouble(p.x()), py.applyAsDouble(p.y()), p.color()), esc(p.label()),
                    brief(p.x()), brief(p.y())));
        }
        List<double[]> placed = new ArrayList<>();
        for (Point p : points) {
            double x = px.applyAsDouble(p.x()), y = py.applyAsDouble(p.y()), lx = x + 8, ly = y - 8;
            for (int guard = 0; guard < 12 && overlaps(placed, lx, ly, p.label().length()); guard++) ly += 13;
            placed.add(new double[]{lx, ly, p.label().length()});
            sb.append(String.format(Locale.ROOT, "<g class=\"point\" data-label=\"%s\" data-series=\"%s\">%s<text class=\"point-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s</text>"
                            + "<title>%s: predicted %s, measured %s</title></g>", esc(p.label()), esc(p.series()), marker(p.marker(), x, y, p.color()), lx, ly,
                    esc(p.label()), esc(p.label()), brief(p.x()), brief(p.y())));
        }
        List<Point> all = new ArrayList<>(points);
        all.addAll(context);
        legend(sb, all);
        return sb.append("</svg>").toString();
    }

    /** One group of bars: a series name, colour, and a value per category. */
    record Bars(String name, String color, double[] values) {}

    /** Grouped vertical bars over named categories (layers), linear y from 0 with round ticks. */
    static String bars(String title, String xLabel, List<String> categories, String yLabel, List<Bars> groups) {
        double max = 0;
        for (Bars g : groups) for (double v : g.values()) if (Double.isFinite(v)) max = Math.max(max, v);
        if (!(max > 0)) max = 1;
        double[] yt = ticks(0, max, 5);
        double yStep = yt.length > 1 ? yt[1] - yt[0] : 1, top = yt[yt.length - 1];
        StringBuilder sb = frame("plot bars", title);
        java.util.function.DoubleUnaryOperator py = v -> H - MB - v / top * (H - MT - MB);
        for (double t : yt) {
            double y = py.applyAsDouble(t);
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>", ML, y, W - MR, y));
            sb.append(String.format(Locale.ROOT, "<text class=\"tick y\" data-value=\"%s\" x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s</text>",
                    tickLabel(t, yStep), ML - 8, y + 4, tickLabel(t, yStep)));
        }
        double slot = (W - ML - MR) / (double) Math.max(1, categories.size()), bw = slot * 0.8 / Math.max(1, groups.size());
        for (int c = 0; c < categories.size(); c++) {
            double x0 = ML + c * slot + slot * 0.1;
            sb.append(String.format(Locale.ROOT, "<text class=\"category\" x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>", ML + (c + 0.5) * slot,
                    H - MB + 18, esc(categories.get(c))));
            for (int g = 0; g < groups.size(); g++) {
                double v = groups.get(g).values()[c];
                if (!Double.isFinite(v)) continue;
                double y = py.applyAsDouble(v);
                sb.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s, %s: %.4g</title></rect>",
                        x0 + g * bw, y, Math.max(1, bw - 1), H - MB - y, groups.get(g).color(), esc(groups.get(g).name()), esc(categories.get(c)), v));
            }
        }
        axisLabels(sb, xLabel, yLabel);
        int y = MT + 12;
        for (Bars g : groups) {
            sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>",
                    W - MR + 18, y - 10, g.color(), W - MR + 36, y, esc(g.name())));
            y += 20;
        }
        return sb.append("</svg>").toString();
    }

    /**
     * A matrix as a heatmap (white 0 → dark blue at {@code max}) over its upper triangle, with axis names, a colour
     * bar, and the cells at or under {@code threshold} outlined.
     */
    static String heatmap(String title, String rowLabel, String colLabel, double[][] m, double max, double threshold, String thresholdLabel) {
        int L = m.length, cell = Math.max(16, Math.min(40, 480 / Math.max(1, L))), ml = 70, mt = 64;
        int w = ml + L * cell + 150, h = mt + L * cell + 30;
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                + " viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">", w, h, w, h, esc(title)));
        sb.append(String.format(Locale.ROOT, "<text class=\"axis-label\" x=\"%d\" y=\"16\" font-size=\"13\" text-anchor=\"middle\">%s</text>", ml + L * cell / 2,
                esc(colLabel)));
        sb.append(String.format(Locale.ROOT, "<text class=\"axis-label\" x=\"16\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">%s</text>",
                mt + L * cell / 2, mt + L * cell / 2, esc(rowLabel)));
        for (int a = 0; a < L; a++) {
            sb.append(String.format(Locale.ROOT, "<text class=\"category\" x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%d</text>", ml - 6, mt + a * cell + cell / 2 + 4, a));
            sb.append(String.format(Locale.ROOT, "<text class=\"category\" x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%d</text>", ml + a * cell + cell / 2, mt - 8, a));
            for (int b = 0; b < L; b++) {
                boolean upper = b > a;
                double v = upper ? Math.min(max, Math.max(0, m[a][b])) : 0;
                boolean below = upper && m[a][b] <= threshold;
                sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\"><title>%d→%d: %.4f</title></rect>",
                        ml + b * cell, mt + a * cell, cell, cell, upper ? blue(v / max) : "#f4f4f4", below ? "#e6550d" : "#ddd", below ? "2.5" : "1", a, b, m[a][b]));
            }
        }
        // The colour bar, with round ticks, and the threshold on it.
        int bx = ml + L * cell + 30, bh = L * cell;
        for (int i = 0; i < 50; i++) {
            double f = 1 - i / 50.0;
            sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"%s\"/>", bx, mt + i * bh / 50.0, bh / 50.0 + 0.5, blue(f)));
        }
        double[] t = ticks(0, max, 4);
        double step = t.length > 1 ? t[1] - t[0] : max;
        for (double v : t) {
            if (v > max + 1e-12) continue;
            double y = mt + bh - v / max * bh;
            sb.append(String.format(Locale.ROOT, "<text class=\"tick y\" data-value=\"%s\" x=\"%d\" y=\"%.1f\" font-size=\"11\">%s</text>", tickLabel(v, step),
                    bx + 22, y + 4, tickLabel(v, step)));
        }
        double ty = mt + bh - Math.min(1, threshold / max) * bh;
        sb.append(String.format(Locale.ROOT, "<line class=\"threshold\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e6550d\" stroke-width=\"2\"/>"
                + "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"#e6550d\">%s</text>", bx - 4, ty, bx + 20, ty, bx - 4, ty - 5, esc(thresholdLabel)));
        return sb.append("</svg>").toString();
    }

    private static String blue(double f) {
        int g = (int) Math.round(255 * (1 - Math.max(0, Math.min(1, f))));
        return String.format(Locale.ROOT, "rgb(%d,%d,255)", g, g);
    }
}
