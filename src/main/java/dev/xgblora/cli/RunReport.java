package dev.xgblora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.cli.report.Html;
import dev.xgblora.cli.report.ReportData;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the run report from a run's JSONL log ({@code run.jsonl}: step, eval and round records)
 * and writes {@code report.html} next to it. A resumed run appends to its log and repeats the
 * steps after the checkpoint; the last record of each step or round wins.
 */
public final class RunReport {
    public static final String FILE = "report.html";
    private static final ObjectMapper JSON = new ObjectMapper();

    private RunReport() {
    }

    /** Report data from the log; settings and final metrics are the caller's to add. */
    public static ReportData fromLog(Path runLog, int numLayers, String title) {
        Map<Long, Double> train = new TreeMap<>(), validLoss = new TreeMap<>(), metric = new TreeMap<>();
        Map<Integer, ReportData.Round> rounds = new TreeMap<>();
        String metricName = "accuracy";
        String plan = null;
        try (BufferedReader r = Files.newBufferedReader(runLog, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) continue;
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (IOException e) {
                    // a run killed mid-write leaves a cut last line; anything else is a broken log
                    if (r.readLine() == null) break;
                    throw new IllegalArgumentException(runLog + ":" + lineNo + ": not a JSON object: " + e.getMessage(), e);
                }
                switch (n.path("type").asText()) {
                    case "start" -> plan = n.path("plan").asText(null);
                    case "step" -> put(train, n.path("step").asLong(), n.path("loss"));
                    case "eval" -> {
                        long step = n.path("step").asLong();
                        put(validLoss, step, n.path("loss"));
                        if (n.has("accuracy")) {
                            put(metric, step, n.path("accuracy"));
                        } else if (n.has("perplexity")) {
                            metricName = "perplexity";
                            put(metric, step, n.path("perplexity"));
                        }
                    }
                    case "round" -> {
                        List<Integer> layers = new ArrayList<>();
                        n.path("layers").forEach(l -> layers.add(l.asInt()));
                        int round = n.path("round").asInt();
                        rounds.put(round, new ReportData.Round(round, layers, n.path("delta_norm").asDouble(Double.NaN),
                                n.path("loss").asDouble(Double.NaN)));
                    }
                    default -> {
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read run log " + runLog + ": " + e.getMessage(), e);
        }
        ReportData d = new ReportData();
        d.title = title;
        d.numLayers = numLayers;
        d.metricName = metricName;
        // the concrete schedule (rounds, κ, rank, scale, layers per round) that method defaults resolved to
        if (plan != null) d.settings.put("plan", plan);
        train.forEach((s, v) -> d.trainLoss.add(new ReportData.Point(s, v)));
        validLoss.forEach((s, v) -> d.validationLoss.add(new ReportData.Point(s, v)));
        metric.forEach((s, v) -> d.metric.add(new ReportData.Point(s, v)));
        d.rounds.addAll(rounds.values());
        return d;
    }

    private static void put(Map<Long, Double> m, long step, JsonNode v) {
        if (v.isNumber() && Double.isFinite(v.asDouble())) m.put(step, v.asDouble());
    }

    /** Writes {@code dir/report.html} (atomically) and returns its path. */
    public static Path write(ReportData d, Path dir) {
        Path file = dir.resolve(FILE);
        try {
            Html.write(d, file);
            // the temporary file it came from was private to the owner; a report is for reading
            try {
                Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException notPosix) {
                // keep the file system's default
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
        return file;
    }
}
