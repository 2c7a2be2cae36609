package dev.xgblora.cli.report;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HtmlReportTest {

    private static ReportData sample() {
        ReportData d = new ReportData();
        d.title = "SST-2 <xgblora>";
        d.numLayers = 6;
        for (int s = 0; s <= 100; s += 10) d.trainLoss.add(new ReportData.Point(s, 0.7 - s * 0.003));
        d.validationLoss.add(new ReportData.Point(50, 0.5));
        d.validationLoss.add(new ReportData.Point(100, 0.42));
        d.metric.add(new ReportData.Point(50, 0.80));
        d.metric.add(new ReportData.Point(100, 0.85));
        d.rounds.add(new ReportData.Round(1, List.of(0, 3), 0.12, 0.6));
        d.rounds.add(new ReportData.Round(2, List.of(5, 1), 0.30, 0.5));
        d.rounds.add(new ReportData.Round(3, List.of(2, 4), 0.21, 0.45));
        d.finalMetrics.put("dev accuracy", "85.3 %");
        d.settings.put("method", "xgblora");
        return d;
    }

    @Test
    void pageHoldsEveryChartAndTable() {
        String html = Html.render(sample());
        for (String id : List.of("loss-chart", "metric-chart", "norm-chart", "layer-heatmap", "final-metrics", "settings")) {
            assertTrue(html.contains("id=\"" + id + "\""), "missing " + id);
        }
        assertTrue(html.contains("85.3 %") && html.contains("xgblora"));
        // Both loss series are drawn, each as one path.
        assertEquals(1, count(html, "data-label=\"train loss\""));
        assertEquals(1, count(html, "data-label=\"validation loss\""));
        // One heat-map cell per (round, layer) chosen, at the right layer.
        assertEquals(6, count(html, "class=\"cell\""));
        assertTrue(html.contains("data-round=\"2\" data-layer=\"5\""));
        // One bar per round, with the norm in its tooltip.
        assertEquals(3, count(html, "class=\"bar\""));
        assertTrue(html.contains("round 2: 0.3000"));
    }

    @Test
    void userTextIsEscaped() {
        String html = Html.render(sample());
        assertFalse(html.contains("<xgblora>"));
        assertTrue(html.contains("SST-2 &lt;xgblora&gt;"));
    }

    @Test
    void lossPathRisesWhereLossFalls() {
        // SVG y grows downwards: a falling loss must give a path whose y coordinates increase.
        String html = Html.render(sample());
        Matcher m = Pattern.compile("data-label=\"train loss\" d=\"([^\"]+)\"").matcher(html);
        assertTrue(m.find());
        String[] pts = m.group(1).replaceAll("[ML]", " ").trim().split("\\s+");
        double firstY = Double.parseDouble(pts[0].split(",")[1]);
        double lastY = Double.parseDouble(pts[pts.length - 1].split(",")[1]);
        assertTrue(lastY > firstY, "first " + firstY + " last " + lastY);
    }

    @Test
    void writeIsAtomicAndLeavesNoTemporaryFile(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("report.html");
        Html.write(sample(), out);
        assertTrue(Files.readString(out).startsWith("<!DOCTYPE html>"));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(out), files.toList());
        }
    }

    private static int count(String s, String needle) {
        int n = 0;
        for (int i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + 1)) n++;
        return n;
    }
}
