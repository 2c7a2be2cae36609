package dev.xgblora.cli.report;

import java.util.List;
import java.util.Locale;

/** Small hand-written SVG charts: a line chart with up to a few series, bars, and a heat map. */
final class Svg {
    static final int W = 640, H = 260, LEFT = 56, RIGHT = 16, TOP = 28, BOTTOM = 36;
    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

    private Svg() {}

    record Series(String label, List<ReportData.Point> points) {}

    /** The colour of series {@code i} in every chart (a page's legend uses the same). */
    static String color(int i) {
        return COLORS[i % COLORS.length];
    }

    static String lineChart(String yLabel, List<Series> series) {
        return lineChart(yLabel, series, true, false);
    }

    /**
     * Series over steps on one pair of axes. {@code legend}: label the series inside the chart (a
     * page with one shared legend passes false). {@code logY}: log10 y axis (values spanning decades,
     * e.g. trainable parameters of LoRA vs full fine-tuning); non-positive values are left out.
     */
    static String lineChart(String yLabel, List<Series> series, boolean legend, boolean logY) {
        if (logY) {
            series = series.stream().map(s -> new Series(s.label(), s.points().stream().filter(p -> p.value() > 0)
                    .map(p -> new ReportData.Point(p.step(), Math.log10(p.value()))).toList())).toList();
        }
        double minX = Double.MAX_VALUE, maxX = -Double.MAX_VALUE, minY = Double.MAX_VALUE, maxY = -Double.MAX_VALUE;
        for (Series s : series) {
            for (ReportData.Point p : s.points()) {
                if (!Double.isFinite(p.value())) continue;
                minX = Math.min(minX, p.step()); maxX = Math.max(maxX, p.step());
                minY = Math.min(minY, p.value()); maxY = Math.max(maxY, p.value());
            }
        }
        StringBuilder sb = open();
        if (minX == Double.MAX_VALUE) return sb.append(text(W / 2.0, H / 2.0, "no data", "middle")).append("</svg>").toString();
        minX = Math.min(0, minX); // steps count from 0: every step chart starts there
        if (maxX == minX) maxX = minX + 1;
        if (logY) { minY = Math.floor(minY); maxY = Math.max(minY + 1, Math.ceil(maxY)); } // whole decades
        if (maxY == minY) { maxY += 0.5; minY -= 0.5; }
        axes(sb, minX, maxX, minY, maxY, "step", yLabel, true, logY);
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            String color = color(i);
            StringBuilder path = new StringBuilder();
            for (ReportData.Point p : s.points()) {
                if (!Double.isFinite(p.value())) continue;
                path.append(path.isEmpty() ? "M" : " L").append(fmt(x(p.step(), minX, maxX))).append(',').append(fmt(y(p.value(), minY, maxY)));
            }
            sb.append("<path class=\"series\" data-label=\"").append(Html.escape(s.label())).append("\" d=\"").append(path)
                    .append("\" fill=\"none\" stroke=\"").append(color).append("\" stroke-width=\"1.5\"/>\n");
            if (s.points().size() <= 40) {
                for (ReportData.Point p : s.points()) {
                    if (!Double.isFinite(p.value())) continue;
                    sb.append("<circle cx=\"").append(fmt(x(p.step(), minX, maxX))).append("\" cy=\"").append(fmt(y(p.value(), minY, maxY)))
                            .append("\" r=\"2.5\" fill=\"").append(color).append("\"/>\n");
                }
            }
            if (!legend) continue;
            sb.append("<rect x=\"").append(LEFT + 10 + i * 150).append("\" y=\"").append(4).append("\" width=\"10\" height=\"10\" fill=\"").append(color).append("\"/>")
                    .append(text(LEFT + 24 + i * 150, 13, s.label(), "start")).append('\n');
        }
        return sb.append("</svg>").toString();
    }

    static String barChart(String xLabel, String yLabel, List<ReportData.Point> bars) {
        StringBuilder sb = open();
        if (bars.isEmpty()) return sb.append(text(W / 2.0, H / 2.0, "no data", "middle")).append("</svg>").toString();
        double maxY = bars.stream().mapToDouble(ReportData.Point::value).filter(Double::isFinite).max().orElse(1);
        if (maxY <= 0) maxY = 1;
        double minX = bars.get(0).step() - 0.5, maxX = bars.get(bars.size() - 1).step() + 0.5;
        axes(sb, minX, maxX, 0, maxY, xLabel, yLabel, false, false);
        int labelEvery = Math.max(1, bars.size() / 12);
        for (int i = 0; i < bars.size(); i += labelEvery) {
            sb.append(text(x(bars.get(i).step(), minX, maxX), H - BOTTOM + 14, String.valueOf(bars.get(i).step()), "middle"));
        }
        double bw = Math.max(1, (W - LEFT - RIGHT) / (maxX - minX) * 0.8);
        for (ReportData.Point p : bars) {
            double top = y(p.value(), 0, maxY);
            sb.append("<rect class=\"bar\" x=\"").append(fmt(x(p.step(), minX, maxX) - bw / 2)).append("\" y=\"").append(fmt(top))
                    .append("\" width=\"").append(fmt(bw)).append("\" height=\"").append(fmt(H - BOTTOM - top))
                    .append("\" fill=\"#1f77b4\"><title>round ").append(p.step()).append(": ").append(fmt(p.value())).append("</title></rect>\n");
        }
        return sb.append("</svg>").toString();
    }

    /**
     * Rounds along x, layers along y; a cell where the round trained that layer, shaded by the norm
     * of that booster's update of the layer (darkest = the largest of the run), with the value in its tooltip.
     */
    static String layerHeatMap(List<ReportData.Round> rounds, int numLayers) {
        int n = Math.max(1, rounds.size());
        int layers = Math.max(1, numLayers);
        double cw = (double) (W - LEFT - RIGHT) / n, ch = (double) (H - TOP - BOTTOM) / layers;
        double max = 0;
        for (ReportData.Round r : rounds) for (int l : r.layers()) if (Double.isFinite(r.normOf(l))) max = Math.max(max, r.normOf(l));
        StringBuilder sb = open();
        for (int l = 0; l < layers; l++) {
            sb.append(text(LEFT - 6, TOP + (layers - l - 0.5) * ch + 4, "L" + l, "end"));
        }
        for (int i = 0; i < rounds.size(); i++) {
            ReportData.Round r = rounds.get(i);
            for (int l : r.layers()) {
                double norm = r.normOf(l);
                double shade = max > 0 && Double.isFinite(norm) ? 0.12 + 0.88 * norm / max : 1;
                sb.append("<rect class=\"cell\" data-round=\"").append(r.round()).append("\" data-layer=\"").append(l)
                        .append("\" data-norm=\"").append(fmt(norm)).append("\" x=\"").append(fmt(LEFT + i * cw)).append("\" y=\"").append(fmt(TOP + (layers - l - 1) * ch))
                        .append("\" width=\"").append(fmt(Math.max(cw - 0.5, 0.5))).append("\" height=\"").append(fmt(ch - 1))
                        .append("\" fill=\"#d62728\" fill-opacity=\"").append(String.format(Locale.ROOT, "%.3f", shade))
                        .append("\"><title>round ").append(r.round()).append(", layer ").append(l).append(": ‖ΔW‖ ").append(fmt(norm)).append("</title></rect>\n");
            }
        }
        // legend: the shading scale
        for (int k = 0; k < 5; k++) {
            sb.append("<rect x=\"").append(W - RIGHT - 150 + k * 14).append("\" y=\"6\" width=\"14\" height=\"10\" fill=\"#d62728\" fill-opacity=\"")
                    .append(String.format(Locale.ROOT, "%.3f", 0.12 + 0.88 * k / 4)).append("\"/>");
        }
        sb.append(text(W - RIGHT - 154, 15, "‖ΔW‖ 0", "end")).append(text(W - RIGHT - 76, 15, fmt(max), "start"));
        sb.append(text(LEFT + (W - LEFT - RIGHT) / 2.0, H - 6, rounds.isEmpty() ? "boosting round" : "boosting round (" + rounds.get(0).round() + ".." + rounds.get(rounds.size() - 1).round() + ")", "middle"));
        return sb.append("</svg>").toString();
    }

    private static StringBuilder open() {
        return new StringBuilder("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + W + " " + H
                + "\" width=\"" + W + "\" height=\"" + H + "\" font-family=\"sans-serif\" font-size=\"11\">\n");
    }

    private static void axes(StringBuilder sb, double minX, double maxX, double minY, double maxY, String xLabel, String yLabel,
                     boolean xTicks, boolean logY) {
        sb.append("<line x1=\"").append(LEFT).append("\" y1=\"").append(H - BOTTOM).append("\" x2=\"").append(W - RIGHT)
                .append("\" y2=\"").append(H - BOTTOM).append("\" stroke=\"#333\"/>\n");
        sb.append("<line x1=\"").append(LEFT).append("\" y1=\"").append(TOP).append("\" x2=\"").append(LEFT)
                .append("\" y2=\"").append(H - BOTTOM).append("\" stroke=\"#333\"/>\n");
        // y: five even ticks, or one per decade of a log axis (its ends are whole decades)
        int yTicks = logY ? (int) Math.round(maxY - minY) : 4;
        for (int i = 0; i <= yTicks; i++) {
            double vy = minY + (maxY - minY) * i / yTicks;
            double py = y(vy, minY, maxY);
            sb.append("<line x1=\"").append(LEFT).append("\" y1=\"").append(fmt(py)).append("\" x2=\"").append(W - RIGHT)
                    .append("\" y2=\"").append(fmt(py)).append("\" stroke=\"#eee\"/>\n");
            sb.append(text(LEFT - 4, py + 4, logY ? compact(Math.pow(10, vy)) : tick(vy, (maxY - minY) / yTicks), "end"));
        }
        for (int i = 0; xTicks && i <= 4; i++) {
            double vx = minX + (maxX - minX) * i / 4;
            sb.append(text(x(vx, minX, maxX), H - BOTTOM + 14, String.valueOf(Math.round(vx)), "middle"));
        }
        sb.append(text(LEFT + (W - LEFT - RIGHT) / 2.0, H - 4, xLabel, "middle"));
        sb.append("<text x=\"12\" y=\"").append(fmt(TOP + (H - TOP - BOTTOM) / 2.0)).append("\" text-anchor=\"middle\" transform=\"rotate(-90 12 ")
                .append(fmt(TOP + (H - TOP - BOTTOM) / 2.0)).append(")\">").append(Html.escape(yLabel)).append("</text>\n");
    }

    private static double x(double v, double min, double max) {
        return LEFT + (v - min) / (max - min) * (W - LEFT - RIGHT);
    }

    private static double y(double v, double min, double max) {
        return H - BOTTOM - (v - min) / (max - min) * (H - TOP - BOTTOM);
    }

    private static String text(double x, double y, String s, String anchor) {
        return "<text x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" text-anchor=\"" + anchor + "\">" + Html.escape(s) + "</text>\n";
    }

    /** A tick label with as many decimals as ticks {@code spacing} apart need (0.677 for a loss, 81 for tokens/s). */
    static String tick(double v, double spacing) {
        int decimals = spacing > 0 ? Math.clamp((long) Math.ceil(-Math.log10(spacing)) + 1, 0, 6) : 3;
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    /** 1234567 as "1.23M": tick labels of counts. */
    static String compact(double v) {
        double a = Math.abs(v);
        String s = a >= 1e9 ? String.format(Locale.ROOT, "%.3gG", v / 1e9) : a >= 1e6 ? String.format(Locale.ROOT, "%.3gM", v / 1e6)
                : a >= 1e3 ? String.format(Locale.ROOT, "%.3gk", v / 1e3) : fmt(v);
        return s.replaceAll("\\.0+(?=[kMG])", "").replaceAll("(\\.\\d*?)0+(?=[kMG])", "$1"); // 10.0M -> 10M, 1.50k -> 1.5k
    }

    static String fmt(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e9) return String.valueOf((long) v);
        return String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%.1f" : Math.abs(v) >= 1 ? "%.3f" : "%.4g", v);
    }
}
