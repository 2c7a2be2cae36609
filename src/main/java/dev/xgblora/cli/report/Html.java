package dev.xgblora.cli.report;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Writes the run report: one self-contained HTML page with inline SVG charts. */
public final class Html {
    private Html() {}

    public static String render(ReportData d) {
        StringBuilder sb = head(d.title);
        sb.append("<h2>Final metrics</h2>\n").append(table(d.finalMetrics, "final-metrics"));
        sb.append("<div class=\"charts\">\n");
        chart(sb, "Loss", Svg.lineChart("loss", List.of(
                new Svg.Series("train loss", d.trainLoss), new Svg.Series("validation loss", d.validationLoss))), "loss-chart");
        chart(sb, "Validation " + d.metricName, Svg.lineChart(d.metricName, List.of(new Svg.Series(d.metricName, d.metric))), "metric-chart");
        if (!d.rounds.isEmpty()) {
            chart(sb, "Norm of each merged booster ‖ΔW‖ per round", Svg.barChart("round", "‖ΔW‖",
                    d.rounds.stream().map(r -> new ReportData.Point(r.round(), r.deltaNorm())).toList()), "norm-chart");
            chart(sb, "Layers chosen by each round, shaded by the booster's ‖ΔW‖ per layer", Svg.layerHeatMap(d.rounds, d.numLayers), "layer-heatmap");
        }
        sb.append("</div>\n<h2>Settings</h2>\n").append(table(d.settings, "settings"));
        return sb.append("</body></html>\n").toString();
    }

    /** The page's start: title, style, heading. */
    static StringBuilder head(String title) {
        return new StringBuilder().append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(escape(title)).append("</title>\n")
                .append("<style>body{font-family:sans-serif;max-width:1340px;margin:24px auto;color:#222}"
                        + "h1{font-size:22px}h2{font-size:16px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}"
                        + "td,th{border:1px solid #ccc;padding:3px 10px;text-align:left;font-size:13px}"
                        + ".charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #ddd;padding:6px}"
                        + ".legend span{display:inline-block;margin-right:18px;font-size:13px}"
                        + ".swatch{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}</style>\n")
                .append("</head><body>\n<h1>").append(escape(title)).append("</h1>\n");
    }

    /** Writes the page atomically: a temporary file in the same directory, then a rename. */
    public static void write(ReportData d, Path file) throws IOException {
        writePage(render(d), file);
    }

    /** Writes an HTML page durably: temporary name, fsync, rename, fsync of the directory. */
    static void writePage(String page, Path file) throws IOException {
        dev.xgblora.io.AtomicFiles.writeString(file, page);
    }

    static void chart(StringBuilder sb, String title, String svg, String id) {
        sb.append("<div class=\"chart\" id=\"").append(id).append("\"><h2>").append(escape(title)).append("</h2>\n").append(svg).append("</div>\n");
    }

    private static String table(Map<String, String> rows, String id) {
        StringBuilder sb = new StringBuilder("<table id=\"" + id + "\">\n");
        rows.forEach((k, v) -> sb.append("<tr><th>").append(escape(k)).append("</th><td>").append(escape(v)).append("</td></tr>\n"));
        return sb.append("</table>\n").toString();
    }

    static String escape(String s) {
        if (s == null) return "";
        StringBuilder sb = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }
}
