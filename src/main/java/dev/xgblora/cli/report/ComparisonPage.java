package dev.xgblora.cli.report;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * Several runs side by side on one page: their final figures in one table (a column per run), each
 * curve (training and validation loss, the validation metric, tokens/s, trainable parameters per
 * step and cumulative) with every run on the same axes, and the settings in which they differ.
 */
public final class ComparisonPage {
    /** One run: its name (column header, legend), what its log holds, and its final figures by row label. */
    public record Run(String name, ReportData data, Map<String, String> summary) {
    }

    private ComparisonPage() {
    }

    public static String render(String title, List<Run> runs) {
        return render(title, runs, null, false);
    }

    /** The page, with a heat map of a final metric over two settings first when {@code grid} is given. */
    public static String render(String title, List<Run> runs, SettingsGrid grid, boolean lowerIsBetter) {
        StringBuilder sb = Html.head(title);
        if (grid != null) sb.append("<h2>").append(Html.escape(grid.title())).append("</h2>\n").append(grid.html(lowerIsBetter));
        sb.append("<div class=\"legend\" id=\"legend\">");
        for (int i = 0; i < runs.size(); i++) {
            sb.append("<span><span class=\"swatch\" style=\"background:").append(Svg.color(i)).append("\"></span>")
                    .append(Html.escape(runs.get(i).name())).append("</span>");
        }
        sb.append("</div>\n<h2>Final figures</h2>\n").append(grid(runs, Run::summary, false, "final-figures"));
        String metric = runs.stream().map(r -> r.data().metricName).distinct().count() == 1 ? runs.getFirst().data().metricName : "metric";
        sb.append("<div class=\"charts\">\n");
        chart(sb, runs, "Training loss", "loss", d -> d.trainLoss, false, "train-loss-chart");
        chart(sb, runs, "Validation loss", "loss", d -> d.validationLoss, false, "validation-loss-chart");
        chart(sb, runs, "Validation " + metric, metric, d -> d.metric, false, "metric-chart");
        chart(sb, runs, "Training tokens/s", "tokens/s", d -> d.tokensPerSecond, false, "throughput-chart");
        chart(sb, runs, "Trainable parameters per step (log scale)", "parameters", d -> d.trainableParams, true, "params-chart");
        chart(sb, runs, "Trainable parameters, cumulative (log scale)", "parameters",
                d -> d.cumulativeParams.isEmpty() ? d.trainableParams : d.cumulativeParams, true, "cumulative-params-chart");
        sb.append("</div>\n<h2>Settings that differ</h2>\n").append(grid(runs, r -> r.data().settings, true, "settings"));
        return sb.append("</body></html>\n").toString();
    }

    public static void write(String title, List<Run> runs, Path file) throws IOException {
        write(title, runs, null, false, file);
    }

    public static void write(String title, List<Run> runs, SettingsGrid grid, boolean lowerIsBetter, Path file) throws IOException {
        Html.writePage(render(title, runs, grid, lowerIsBetter), file);
    }

    private static void chart(StringBuilder sb, List<Run> runs, String title, String yLabel, Function<ReportData, List<ReportData.Point>> series,
                              boolean logY, String id) {
        List<Svg.Series> s = new ArrayList<>();
        for (Run r : runs) s.add(new Svg.Series(r.name(), series.apply(r.data())));
        Html.chart(sb, title, Svg.lineChart(yLabel, s, false, logY), id);
    }

    /** Rows = the labels of every run in first-seen order, a column per run; {@code onlyDiffering} drops rows equal in all runs. */
    private static String grid(List<Run> runs, Function<Run, Map<String, String>> rows, boolean onlyDiffering, String id) {
        Set<String> labels = new LinkedHashSet<>();
        for (Run r : runs) labels.addAll(rows.apply(r).keySet());
        StringBuilder sb = new StringBuilder("<table id=\"" + id + "\">\n<tr><th></th>");
        for (Run r : runs) sb.append("<th>").append(Html.escape(r.name())).append("</th>");
        sb.append("</tr>\n");
        for (String label : labels) {
            List<String> values = runs.stream().map(r -> rows.apply(r).get(label)).toList();
            if (onlyDiffering && values.stream().allMatch(v -> Objects.equals(v, values.getFirst()))) continue;
            sb.append("<tr><th>").append(Html.escape(label)).append("</th>");
            for (String v : values) sb.append("<td>").append(Html.escape(v == null ? "-" : v)).append("</td>");
            sb.append("</tr>\n");
        }
        return sb.append("</table>\n").toString();
    }
}
