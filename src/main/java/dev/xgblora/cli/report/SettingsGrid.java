package dev.xgblora.cli.report;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * A final metric over a grid of two settings (e.g. κ × L_s of an ablation): rows are the values of
 * one setting, columns of the other, each cell the mean over the runs that share it (seeds), shaded
 * from the worst cell (white) to the best (green). With a third setting (e.g. lr), one such table
 * per value of it, all shaded on one scale so the panels compare. As HTML for the comparison page
 * and as text.
 */
public final class SettingsGrid {
    /** One run's place in the grid and its metric. */
    public record Point(String panel, String row, String column, double value) {
        public Point(String row, String column, double value) {
            this("", row, column, value);
        }
    }

    private final String rowKey;
    private final String columnKey;
    private final String panelKey;
    private final String metric;
    private final List<String> panels;
    private final List<String> rows;
    private final List<String> columns;
    private final Map<String, List<Double>> cells = new LinkedHashMap<>();

    public SettingsGrid(String rowKey, String columnKey, String metric, List<Point> points) {
        this(rowKey, columnKey, null, metric, points);
    }

    /** One table per value of {@code panelKey} (null: a single table, the points' panel ignored). */
    public SettingsGrid(String rowKey, String columnKey, String panelKey, String metric, List<Point> points) {
        this.rowKey = rowKey;
        this.columnKey = columnKey;
        this.panelKey = panelKey;
        this.metric = metric;
        Comparator<String> numericFirst = Comparator.comparing((String s) -> parse(s), Comparator.nullsLast(Double::compare))
                .thenComparing(Comparator.naturalOrder());
        TreeSet<String> pa = new TreeSet<>(numericFirst), r = new TreeSet<>(numericFirst), c = new TreeSet<>(numericFirst);
        for (Point p : points) {
            if (Double.isNaN(p.value())) continue;
            String panel = panelKey == null ? "" : p.panel();
            pa.add(panel);
            r.add(p.row());
            c.add(p.column());
            cells.computeIfAbsent(key(panel, p.row(), p.column()), k -> new ArrayList<>()).add(p.value());
        }
        panels = pa.isEmpty() ? List.of("") : List.copyOf(pa);
        rows = List.copyOf(r);
        columns = List.copyOf(c);
    }

    private static Double parse(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String key(String panel, String row, String column) {
        return panel + "\u0000" + row + "\u0000" + column;
    }

    /** Mean of the runs in a cell of a grid without panels; NaN when none. */
    public double mean(String row, String column) {
        return mean("", row, column);
    }

    /** Mean of the runs in a cell of one panel; NaN when none. */
    public double mean(String panel, String row, String column) {
        List<Double> v = cells.get(key(panel, row, column));
        return v == null ? Double.NaN : v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    public List<String> panels() {
        return panels;
    }

    public List<String> rows() {
        return rows;
    }

    public List<String> columns() {
        return columns;
    }

    private String cellText(String panel, String row, String column) {
        List<Double> v = cells.get(key(panel, row, column));
        if (v == null) return "-";
        String m = String.format(Locale.ROOT, "%.4f", mean(panel, row, column));
        return v.size() > 1 ? m + " (n=" + v.size() + ")" : m;
    }

    /** The grid as text: a row per value of the row setting. */
    public String text() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s by %s (rows) x %s (columns)%s, mean over runs%n", metric, rowKey,
                columnKey, panelKey == null ? "" : ", a table per " + panelKey));
        int w = 14;
        for (String p : panels) {
            if (panelKey != null) sb.append(String.format(Locale.ROOT, "%s = %s%n", panelKey, p));
            sb.append(String.format(Locale.ROOT, "  %-" + w + "s", rowKey + " \\ " + columnKey));
            for (String c : columns) sb.append(String.format(Locale.ROOT, "  %-" + w + "s", c));
            sb.append(System.lineSeparator());
            for (String r : rows) {
                sb.append(String.format(Locale.ROOT, "  %-" + w + "s", r));
                for (String c : columns) sb.append(String.format(Locale.ROOT, "  %-" + w + "s", cellText(p, r, c)));
                sb.append(System.lineSeparator());
            }
        }
        return sb.toString();
    }

    /**
     * The grid as HTML tables (one per panel) with cells shaded by their mean on one scale over all
     * panels (higher is better unless the metric is a loss).
     */
    public String html(boolean lowerIsBetter) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (List<Double> v : cells.values()) {
            double m = v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
            lo = Math.min(lo, m);
            hi = Math.max(hi, m);
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < panels.size(); i++) {
            String p = panels.get(i);
            if (panelKey != null) sb.append("<h3>").append(Html.escape(panelKey + " = " + p)).append("</h3>\n");
            sb.append("<table id=\"settings-grid").append(panelKey == null ? "" : "-" + i).append("\">\n<tr><th>")
                    .append(Html.escape(rowKey + " \\ " + columnKey)).append("</th>");
            for (String c : columns) sb.append("<th>").append(Html.escape(c)).append("</th>");
            sb.append("</tr>\n");
            for (String r : rows) {
                sb.append("<tr><th>").append(Html.escape(r)).append("</th>");
                for (String c : columns) {
                    double m = mean(p, r, c);
                    double t = Double.isNaN(m) || hi == lo ? 0.5 : (m - lo) / (hi - lo);
                    if (lowerIsBetter) t = 1 - t;
                    String bg = Double.isNaN(m) ? "#f4f4f4" : String.format(Locale.ROOT, "rgb(%d,%d,%d)", (int) (255 - 155 * t), (int) (255 - 55 * t),
                            (int) (255 - 155 * t));
                    sb.append("<td class=\"cell\" data-value=\"").append(Double.isNaN(m) ? "" : String.format(Locale.ROOT, "%.6f", m))
                            .append("\" style=\"background:").append(bg).append("\">").append(Html.escape(cellText(p, r, c))).append("</td>");
                }
                sb.append("</tr>\n");
            }
            sb.append("</table>\n");
        }
        return sb.toString();
    }

    public String title() {
        return metric + " by " + rowKey + " × " + columnKey + (panelKey == null ? "" : ", per " + panelKey);
    }
}
