package dev.xgblora.cli.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What a run report shows: series over steps, boosting rounds, settings and final metrics. */
public final class ReportData {
    /** One point of a series over global steps. */
    public record Point(long step, double value) {}

    /**
     * One boosting round: the layers it trained, the Frobenius norm of its merged update, and that
     * norm per layer (the booster's modules of the layer together; empty in logs that lack it).
     */
    public record Round(int round, List<Integer> layers, double deltaNorm, double loss, Map<Integer, Double> layerNorms) {
        public Round(int round, List<Integer> layers, double deltaNorm, double loss) {
            this(round, layers, deltaNorm, loss, Map.of());
        }

        /** The norm of this round's update of {@code layer}: its own where logged, else the round's total. */
        public double normOf(int layer) {
            return layerNorms.getOrDefault(layer, deltaNorm);
        }
    }

    public String title = "xgblora run";
    public int numLayers;
    public final Map<String, String> settings = new LinkedHashMap<>();
    public final Map<String, String> finalMetrics = new LinkedHashMap<>();
    public final List<Point> trainLoss = new ArrayList<>();
    public final List<Point> validationLoss = new ArrayList<>();
    public final List<Point> metric = new ArrayList<>();
    /** Training throughput as logged with the steps. */
    public final List<Point> tokensPerSecond = new ArrayList<>();
    /** Trainable parameters of each logged step, and cumulative over the run (distinct parameters trained so far). */
    public final List<Point> trainableParams = new ArrayList<>();
    public final List<Point> cumulativeParams = new ArrayList<>();
    /** Steps the run was planned for (the log's start record; 0 when absent). */
    public int totalSteps;
    public String metricName = "accuracy";
    public final List<Round> rounds = new ArrayList<>();
}
