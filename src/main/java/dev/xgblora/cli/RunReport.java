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
import dev.xgblora.adapt.BoostPlan;
import dev.xgblora.io.AtomicFiles;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Builds the run report from a run's JSONL log ({@code run.jsonl}: step, eval and round records)
 * and writes {@code report.html} next to it, and the final figures as {@code results.json}. A
 * resumed run appends to its log and repeats the steps after the checkpoint; the last record of
 * each step or round wins.
 */
public final class RunReport {
    public static final String FILE = "report.html";
    private static final ObjectMapper JSON = new ObjectMapper();

    private RunReport() {
    }

    /** Report data from the log; settings and final metrics are the caller's to add. */
    public static ReportData fromLog(Path runLog, int numLayers, String title) {
        Map<Long, Double> train = new TreeMap<>(), validLoss = new TreeMap<>(), metric = new TreeMap<>();
        Map<Long, Double> tokensPerS = new TreeMap<>(), params = new TreeMap<>(), cumulative = new TreeMap<>();
        int totalSteps = 0;
        double head = 0;
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
                    case "start" -> {
                        plan = n.path("plan").asText(null);
                        totalSteps = n.path("total_steps").asInt();
                        head = n.path("trainable_head").asDouble(0);
                    }
                    case "step" -> {
                        long step = n.path("step").asLong();
                        put(train, step, n.path("loss"));
                        put(tokensPerS, step, n.path("tokens_per_s"));
                        put(params, step, n.path("trainable_params"));
                    }
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
                                n.path("loss").asDouble(Double.NaN), layerNorms(n.path("module_delta_norms"))));
                        put(cumulative, n.path("step").asLong(), n.path("cumulative_params"));
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
        tokensPerS.forEach((s, v) -> d.tokensPerSecond.add(new ReportData.Point(s, v)));
        params.forEach((s, v) -> d.trainableParams.add(new ReportData.Point(s, v)));
        cumulativeAtSteps(params, cumulative, head).forEach((s, v) -> d.cumulativeParams.add(new ReportData.Point(s, v)));
        d.rounds.addAll(rounds.values());
        d.totalSteps = totalSteps;
        return d;
    }

    /**
     * Distinct parameters trained up to each logged step: the last round end's cumulative count
     * (adapters of earlier rounds + head) plus the adapters training now (a step's count less the
     * head); at a round end, the logged figure. Full fine-tuning has no rounds: its step counts.
     */
    static Map<Long, Double> cumulativeAtSteps(Map<Long, Double> stepParams, Map<Long, Double> roundEnds, double head) {
        TreeMap<Long, Double> ends = new TreeMap<>(roundEnds);
        Map<Long, Double> out = new TreeMap<>(roundEnds);
        stepParams.forEach((step, p) -> {
            if (out.containsKey(step)) return;
            Map.Entry<Long, Double> before = ends.lowerEntry(step);
            out.put(step, (before == null ? head : before.getValue()) - head + p);
        });
        return out;
    }

    /** A layer's index in a module name: encoder.layer.3.attention.self.query, model.layers.3.mlp.up_proj. */
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)layers?\\.(\\d+)\\.");

    /** Per-module norms of one round combined per layer: sqrt of the sum of squares (the layer's update is their direct sum). */
    static Map<Integer, Double> layerNorms(JsonNode modules) {
        Map<Integer, Double> squares = new TreeMap<>();
        modules.properties().forEach(e -> {
            Matcher m = LAYER.matcher(e.getKey());
            if (m.find() && e.getValue().isNumber()) squares.merge(Integer.parseInt(m.group(1)), e.getValue().asDouble() * e.getValue().asDouble(), Double::sum);
        });
        Map<Integer, Double> out = new TreeMap<>();
        squares.forEach((l, sq) -> out.put(l, Math.sqrt(sq)));
        return out;
    }

    /**
     * The settings as the run resolved them: options left at 0 / unset (κ, rounds, L_s, rank, steps)
     * show the value the method's defaults gave, marked "(default)", and options the method does not
     * use say so; {@code raw} is the command line's view (train-config.json).
     */
    public static Map<String, String> resolvedSettings(Map<String, String> raw, BoostPlan plan, int totalSteps) {
        Map<String, String> out = new LinkedHashMap<>(raw);
        boolean adapters = plan.usesAdapters();
        resolve(out, "steps", totalSteps, true);
        resolve(out, "steps-per-booster", plan.stepsPerRound(), adapters);
        resolve(out, "rounds", plan.rounds(), adapters);
        resolve(out, "layers-per-booster", plan.layersPerRound(), adapters);
        resolve(out, "rank", plan.rank(), adapters);
        if (adapters) {
            out.put("layer-selection", plan.selection().name().toLowerCase(Locale.ROOT) + (raw.get("layer-selection") == null ? " (default)" : ""));
            out.put("adapter scale (alpha/r)", String.valueOf(plan.scale()));
        }
        return out;
    }

    private static void resolve(Map<String, String> m, String key, int value, boolean used) {
        if (!m.containsKey(key)) return;
        String raw = m.get(key);
        if (!used) m.put(key, "unused by this method");
        else if (raw.equals("0")) m.put(key, value + " (default)");
    }

    private static void put(Map<Long, Double> m, long step, JsonNode v) {
        if (v.isNumber() && Double.isFinite(v.asDouble())) m.put(step, v.asDouble());
    }

    /** The run's final figures as JSON ({@code results.json}): what {@code xgblora compare} tabulates. */
    public static final String RESULTS = "results.json";

    /** Writes {@code dir/results.json} atomically. */
    public static void writeResults(Map<String, Object> results, Path dir) {
        try {
            AtomicFiles.writeString(dir.resolve(RESULTS), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(results) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(RESULTS) + ": " + e.getMessage(), e);
        }
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
