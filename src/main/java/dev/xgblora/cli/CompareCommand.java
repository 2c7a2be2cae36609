package dev.xgblora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.cli.report.ComparisonPage;
import dev.xgblora.cli.report.ReportData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code xgblora compare RUN_DIR...}: output directories of {@code xgblora train} side by side, as a
 * terminal table and one HTML page (the run report's charts with every run on the same axes).
 * Reads each directory's run.jsonl, and results.json (final figures, resolved settings) where
 * present; runs killed before the end have none: their figures come from the log and their
 * settings from train-config.json.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Compare training runs side by side: a table of final metrics, tokens/s, peak memory and trainable parameters,"
                + " and one HTML page with every run's loss, metric, throughput and parameter curves on the same axes.",
        footer = {"", "Examples:",
                "  xgblora compare runs/sst2-xgb runs/sst2-lora runs/sst2-full",
                "  xgblora compare runs/* --output runs/compare.html"})
public final class CompareCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(arity = "1..*", paramLabel = "RUN_DIR", description = "Output directories of xgblora train (each with run.jsonl).")
    List<Path> runs;
    @Option(names = "--output", paramLabel = "FILE", defaultValue = "compare.html", description = "HTML page to write (default: ${DEFAULT-VALUE}).")
    Path output;
    @Option(names = "--title", paramLabel = "TEXT", defaultValue = "xgblora runs compared", description = "Title of the page.")
    String title;
    @Option(names = "--grid", paramLabel = "ROW,COLUMN[,PANEL]", split = ",", description = "Also a heat map of the final metric over two settings "
            + "(train option names, e.g. steps-per-booster,layers-per-booster), one per value of a third when given (e.g. lr), all on one colour "
            + "scale; runs sharing a cell (seeds) are averaged.")
    List<String> grid;
    @Option(names = "--metric", defaultValue = "accuracy", description = "Metric of the heat map: accuracy (default), mcc, f1, loss or perplexity.")
    String metric;

    @Override
    public Integer call() throws IOException {
        List<ComparisonPage.Run> loaded = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (Path dir : runs) {
            ComparisonPage.Run r = load(dir);
            String name = r.name();
            for (int k = 2; !names.add(name); k++) name = r.name() + " (" + k + ")";
            loaded.add(new ComparisonPage.Run(name, r.data(), r.summary()));
        }
        System.out.print(table(loaded));
        dev.xgblora.cli.report.SettingsGrid heat = null;
        if (grid != null) {
            if (grid.size() != 2 && grid.size() != 3) {
                throw new IllegalArgumentException("--grid takes two or three setting names, ROW,COLUMN[,PANEL]; got " + grid);
            }
            String key = "after_" + metric.toLowerCase(Locale.ROOT);
            if (!List.of("after_accuracy", "after_mcc", "after_f1", "after_loss", "after_perplexity").contains(key)) {
                throw new IllegalArgumentException("--metric: expected accuracy, mcc, f1, loss or perplexity, got '" + metric + "'");
            }
            List<dev.xgblora.cli.report.SettingsGrid.Point> points = new ArrayList<>();
            for (int i = 0; i < runs.size(); i++) {
                Map<String, String> s = loaded.get(i).data().settings;
                for (String g : grid) {
                    if (!s.containsKey(g)) throw new IllegalArgumentException(runs.get(i) + ": no setting '" + g + "' (settings: " + s.keySet() + ")");
                }
                JsonNode v = readJson(runs.get(i).resolve(RunReport.RESULTS)).path(key);
                String panel = grid.size() == 3 ? plain(s.get(grid.get(2))) : "";
                points.add(new dev.xgblora.cli.report.SettingsGrid.Point(panel, plain(s.get(grid.get(0))), plain(s.get(grid.get(1))),
                        v.isNumber() ? v.asDouble() : Double.NaN));
            }
            heat = new dev.xgblora.cli.report.SettingsGrid(grid.get(0), grid.get(1), grid.size() == 3 ? grid.get(2) : null, metric, points);
            System.out.println();
            System.out.print(heat.text());
        }
        ComparisonPage.write(title, loaded, heat, metric.equalsIgnoreCase("loss") || metric.equalsIgnoreCase("perplexity"), output);
        System.out.println();
        System.out.println("comparison page: " + output.toAbsolutePath().normalize());
        return 0;
    }

    /** A resolved setting without its "(default)" mark: the value a grid groups by. */
    private static String plain(String setting) {
        return setting.replaceFirst(" \\(default\\)$", "");
    }

    /** One run directory: its log as report data, its settings, and its final figures. */
    static ComparisonPage.Run load(Path dir) throws IOException {
        Path log = dir.resolve("run.jsonl");
        if (!Files.isRegularFile(log)) {
            throw new IllegalArgumentException(dir + ": no run.jsonl (expected an output directory of xgblora train)");
        }
        String name = dir.toAbsolutePath().normalize().getFileName().toString();
        ReportData d = RunReport.fromLog(log, 0, name);
        JsonNode res = readJson(dir.resolve(RunReport.RESULTS));
        // the settings as resolved (results.json), else as given (train-config.json of a run that did not finish)
        JsonNode settings = res.path("settings").isObject() ? res.path("settings") : readJson(dir.resolve(TrainCommand.SETTINGS_FILE));
        settings.properties().forEach(e -> d.settings.put(e.getKey(), e.getValue().asText()));
        // the untrained model's figures at step 0, as the run report shows them
        if (res.path("before_loss").isNumber()) d.validationLoss.addFirst(new ReportData.Point(0, res.path("before_loss").asDouble()));
        JsonNode before = res.has("before_accuracy") ? res.path("before_accuracy") : res.path("before_perplexity");
        if (before.isNumber()) d.metric.addFirst(new ReportData.Point(0, before.asDouble()));
        return new ComparisonPage.Run(name, d, summary(d, res));
    }

    /** The final figures by row label: results.json where present, else the last logged values. */
    static Map<String, String> summary(ReportData d, JsonNode res) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("method", d.settings.getOrDefault("method", d.settings.getOrDefault("plan", "?").replaceFirst(":.*", "")));
        m.put("steps", res.has("steps") ? res.path("steps").asText() : d.trainLoss.isEmpty() ? "-" : String.valueOf(d.trainLoss.getLast().step()));
        boolean accuracy = d.metricName.equals("accuracy");
        String metricLabel = d.metricName + " (before → after)";
        String after = accuracy ? "after_accuracy" : "after_perplexity", beforeKey = accuracy ? "before_accuracy" : "before_perplexity";
        if (res.has(after) || res.has(beforeKey)) {
            m.put(metricLabel, metricText(res.path(beforeKey), accuracy) + " → " + metricText(res.path(after), accuracy));
        } else if (!d.metric.isEmpty()) {
            m.put(metricLabel, "- → " + metricText(JSON.getNodeFactory().numberNode(d.metric.getLast().value()), accuracy) + " (last logged)");
        }
        if (res.has("after_f1")) m.put("F1 after", String.format(Locale.ROOT, "%.4f", res.path("after_f1").asDouble()));
        if (res.has("after_mcc")) m.put("MCC after", String.format(Locale.ROOT, "%.4f", res.path("after_mcc").asDouble()));
        if (res.has("after_loss") || res.has("before_loss")) {
            m.put("validation loss (before → after)", num(res.path("before_loss"), "%.4f") + " → " + num(res.path("after_loss"), "%.4f"));
        } else if (!d.validationLoss.isEmpty()) {
            m.put("validation loss (before → after)", "- → " + String.format(Locale.ROOT, "%.4f", d.validationLoss.getLast().value()) + " (last logged)");
        }
        if (res.has("seconds")) {
            m.put("wall time", String.format(Locale.ROOT, "%s (%.1f s)", ProgressRenderer.formatDuration(res.path("seconds").asDouble()), res.path("seconds").asDouble()));
        }
        double tps = res.path("tokens_per_s").isNumber() ? res.path("tokens_per_s").asDouble()
                : d.tokensPerSecond.isEmpty() ? Double.NaN : d.tokensPerSecond.getLast().value();
        m.put("training tokens/s", Double.isFinite(tps) ? String.format(Locale.ROOT, "%,.0f", tps) : "-");
        double rss = res.path("peak_rss_mib").asDouble(-1);
        m.put("peak memory (RSS)", rss > 0 ? String.format(Locale.ROOT, "%,.0f MiB", rss) : "- (not recorded)");
        m.put("trainable params per step", count(res.path("trainable_params_per_step"), d.trainableParams));
        m.put("trainable params cumulative", count(res.path("trainable_params_cumulative"), d.cumulativeParams.isEmpty() ? d.trainableParams : d.cumulativeParams));
        if (!d.rounds.isEmpty()) m.put("boosters merged (rounds)", String.valueOf(d.rounds.size()));
        return m;
    }

    private static String metricText(JsonNode v, boolean accuracy) {
        if (!v.isNumber()) return "-";
        return accuracy ? String.format(Locale.ROOT, "%.2f %%", 100 * v.asDouble()) : String.format(Locale.ROOT, "%.3f", v.asDouble());
    }

    private static String num(JsonNode v, String format) {
        return v.isNumber() ? String.format(Locale.ROOT, format, v.asDouble()) : "-";
    }

    private static String count(JsonNode v, List<ReportData.Point> logged) {
        if (v.isNumber()) return String.format(Locale.ROOT, "%,d", v.asLong());
        return logged.isEmpty() ? "-" : String.format(Locale.ROOT, "%,d", (long) logged.getLast().value());
    }

    /** The runs as a text table: a row per figure, a column per run. */
    static String table(List<ComparisonPage.Run> runs) {
        Set<String> labels = new LinkedHashSet<>();
        for (ComparisonPage.Run r : runs) labels.addAll(r.summary().keySet());
        int lw = Math.max(4, labels.stream().mapToInt(String::length).max().orElse(4));
        List<Integer> widths = new ArrayList<>();
        for (ComparisonPage.Run r : runs) {
            int w = r.name().length();
            for (String v : r.summary().values()) w = Math.max(w, v.length());
            widths.add(w);
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "  %-" + lw + "s", "run"));
        for (int i = 0; i < runs.size(); i++) sb.append(String.format(Locale.ROOT, "  %-" + widths.get(i) + "s", runs.get(i).name()));
        sb.append(System.lineSeparator());
        for (String label : labels) {
            sb.append(String.format(Locale.ROOT, "  %-" + lw + "s", label));
            for (int i = 0; i < runs.size(); i++) {
                sb.append(String.format(Locale.ROOT, "  %-" + widths.get(i) + "s", runs.get(i).summary().getOrDefault(label, "-")));
            }
            sb.append(System.lineSeparator());
        }
        return sb.toString();
    }

    private static JsonNode readJson(Path file) throws IOException {
        if (!Files.isRegularFile(file)) return JSON.createObjectNode();
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new IllegalArgumentException(file + ": expected a JSON object");
            return n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }
}
