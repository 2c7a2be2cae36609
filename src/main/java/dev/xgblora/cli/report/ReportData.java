package dev.xgblora.cli.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What a run report shows: series over steps, boosting rounds, settings and final metrics. */
public final class ReportData {
    /** One point of a series over global steps. */
    public record Point(long step, double value) {}

    /** One boosting round: the layers it trained and the Frobenius norm of its merged update. */
    public record Round(int round, List<Integer> layers, double deltaNorm, double loss) {}

    public String title = "xgblora run";
    public int numLayers;
    public final Map<String, String> settings = new LinkedHashMap<>();
    public final Map<String, String> finalMetrics = new LinkedHashMap<>();
    public final List<Point> trainLoss = new ArrayList<>();
    public final List<Point> validationLoss = new ArrayList<>();
    public final List<Point> metric = new ArrayList<>();
    public String metricName = "accuracy";
    public final List<Round> rounds = new ArrayList<>();
}
