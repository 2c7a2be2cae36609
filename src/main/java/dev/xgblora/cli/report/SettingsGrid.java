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
 * from the worst cell (white) to the best (green). As HTML for the comparison page and as text.
 */
public final class SettingsGrid {
    /** One run's place in the grid and its metric. */
    public record Point(String row, String column, double value) {
    }

    private final String rowKey;
    private final String columnKey;
    private final String metric;
    private final List<String> rows;
    private final List<String> columns;
    private final Map<String, List<Double>> cells = new LinkedHashMap<>();

    public SettingsGrid(String rowKey, String columnKey, String metric, List<Point> points) {
        this.rowKey = rowKey;
        this.columnKey = columnKey;
        this.metric = metric;
        Comparator<String> numericFirst = Comparator.comparing((String s) -> parse(s), Comparator.nullsLast(Double::compare))
                .thenComparing(Comparator.naturalOrder());
        TreeSet<String> r = new TreeSet<>(numericFirst), c = new TreeSet<>(numericFirst);
        for (Point p : points) {
            if (Double.isNaN(p.value())) continue;
            r.add(p.row());
            c.add(p.column());
            cells.computeIfAbsent(key(p.row(), p.column()), k -> new ArrayList<>()).add(p.value());
        }
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

    private static String key(String row, String column) {
        return row + "\u0000" + column;
    }

    /** Mean of the runs in a cell; NaN when none. */
    public double mean(String row, String column) {
        List<Double> v = cells.get(key(row, column));
        return v == null ? Double.NaN : v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    public List<String> rows() {
        return rows;
    }

    public List<String> columns() {
        return columns;
    }

    private String cellText(String row, String column) {
        List<Double> v = cells.get(key(row, column));
        if (v == null) return "-";
        String m = String.format(Locale.ROOT, "%.4f", mean(row, column));
        return v.size() > 1 ? m + " (n=" + v.size() + ")" : m;
    }

    /** The grid as text: a row per value of the row setting. */
    public String text() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s by %s (rows) x %s (columns), mean over runs%n", metric, rowKey, columnKey));
        int w = 14;
        sb.append(String.format(Locale.ROOT, "  %-" + w + "s", rowKey + " \\ " + columnKey));
        for (String c : columns) sb.append(String.format(Locale.ROOT, "  %-" + w + "s", c));
        sb.append(System.lineSeparator());
        for (String r : rows) {
            sb.append(String.format(Locale.ROOT, "  %-" + w + "s", r));
            for (String c : columns) sb.append(String.format(Locale.ROOT, "  %-" + w + "s", cellText(r, c)));
            sb.append(System.lineSeparator());
        }
        return sb.toString();
    }

    /** The grid as an HTML table with cells shaded by their mean (higher is better unless the metric is a loss). */
    public String html(boolean lowerIsBetter) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (String r : rows) {
            for (String c : columns) {
                double m = mean(r, c);
                if (!Double.isNaN(m)) {
                    lo = Math.min(lo, m);
                    hi = Math.max(hi, m);
                }
            }
        }
        StringBuilder sb = new StringBuilder("<table id=\"settings-grid\">\n<tr><th>")
                .append(Html.escape(rowKey + " \\ " + columnKey)).append("</th>");
        for (String c : columns) sb.append("<th>").append(Html.escape(c)).append("</th>");
        sb.append("</tr>\n");
        for (String r : rows) {
            sb.append("<tr><th>").append(Html.escape(r)).append("</th>");
            for (String c : columns) {
                double m = mean(r, c);
                double t = Double.isNaN(m) || hi == lo ? 0.5 : (m - lo) / (hi - lo);
                if (lowerIsBetter) t = 1 - t;
                String bg = Double.isNaN(m) ? "#f4f4f4" : String.format(Locale.ROOT, "rgb(%d,%d,%d)", (int) (255 - 155 * t), (int) (255 - 55 * t),
                        (int) (255 - 155 * t));
                sb.append("<td class=\"cell\" data-value=\"").append(Double.isNaN(m) ? "" : String.format(Locale.ROOT, "%.6f", m))
                        .append("\" style=\"background:").append(bg).append("\">").append(Html.escape(cellText(r, c))).append("</td>");
            }
            sb.append("</tr>\n");
        }
        return sb.append("</table>\n").toString();
    }

    public String title() {
        return metric + " by " + rowKey + " × " + columnKey;
    }
}
