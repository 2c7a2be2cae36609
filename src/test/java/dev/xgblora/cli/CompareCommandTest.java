package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** xgblora compare over two tiny runs (XGBLoRA and LoRA), and what train now records for it (results.json, resolved settings, heat map). */
class CompareCommandTest {
    @TempDir
    static Path dir;
    static Path xgb, lora;

    @BeforeAll
    static void trainTwoRuns() throws Exception {
        Path model = TinyModelDir.create(dir.resolve("tiny"));
        Path data = TinyModelDir.sentiment(dir.resolve("toy.tsv"), 48, 2);
        xgb = dir.resolve("xgb");
        lora = dir.resolve("lora");
        for (Path out : List.of(xgb, lora)) {
            run(0, "train", "--model", model.toString(), "--train", data.toString(), "--valid", data.toString(), "--steps", "8",
                    "--batch-size", "8", "--lr", "1e-2", "--head-lr", "1e-2", "--log-every", "1", "--eval-every", "4", "--quiet", "--no-export",
                    "--method", out == xgb ? "xgblora" : "lora", "--kappa", out == xgb ? "2" : "0", "--output", out.toString());
        }
    }

    static String run(int expectedCode, String... args) {
        CliRun r = CliRun.of(args);
        String out = r.out() + r.err();
        assertEquals(expectedCode, r.code(), out);
        return out;
    }

    @Test
    void trainRecordsResultsWithPeakMemory() throws Exception {
        JsonNode r = new ObjectMapper().readTree(xgb.resolve("results.json").toFile());
        assertEquals(8, r.get("steps").asInt());
        assertEquals("1 (default)", r.get("settings").get("rank").asText());
        assertTrue(r.get("after_accuracy").isNumber() && r.get("trainable_params_cumulative").asLong() > r.get("trainable_params_per_step").asLong() / 2);
        if (Files.isReadable(Path.of("/proc/self/status"))) assertTrue(r.get("peak_rss_mib").asDouble() > 10, r.toString());
    }

    @Test
    void reportShowsResolvedSettingsAndShadesTheHeatMapByNorm() throws Exception {
        String html = Files.readString(xgb.resolve("report.html"));
        assertTrue(html.contains("<th>rank</th><td>1 (default)</td>"), "xgblora's rank resolved, not 0");
        assertTrue(html.contains("<th>layers-per-booster</th><td>1 (default)</td>"), "L_s = a third of 3 layers");
        assertTrue(html.contains("<th>steps-per-booster</th><td>2</td>"), "a value given stays as given");
        assertTrue(html.contains("<th>rounds</th><td>4 (default)</td>"));
        Matcher m = Pattern.compile("class=\"cell\"[^>]*data-norm=\"([^\"]+)\"[^>]*fill-opacity=\"([^\"]+)\"").matcher(html);
        Set<String> norms = new HashSet<>(), shades = new HashSet<>();
        int cells = 0;
        while (m.find()) {
            cells++;
            norms.add(m.group(1));
            shades.add(m.group(2));
            assertTrue(Double.parseDouble(m.group(1)) > 0, "a trained booster has a norm");
        }
        assertEquals(4, cells, "4 rounds x 1 layer");
        assertTrue(shades.size() > 1 && shades.contains("1.000"), "cells shaded by their norm, the largest darkest: " + shades + " " + norms);
        String loraHtml = Files.readString(lora.resolve("report.html"));
        assertTrue(loraHtml.contains("<th>rank</th><td>8 (default)</td>"), "lora's rank resolved");
    }

    @Test
    void compareTabulatesAndChartsEveryRunOnSharedAxes() throws Exception {
        Path page = dir.resolve("cmp.html");
        String out = run(0, "compare", xgb.toString(), lora.toString(), "--output", page.toString());
        String header = out.lines().findFirst().orElseThrow();
        assertTrue(header.matches("\\s+run\\s+xgb\\s+lora\\s*"), header);
        for (String row : List.of("method", "accuracy (before → after)", "training tokens/s", "peak memory (RSS)",
                "trainable params per step", "trainable params cumulative", "boosters merged (rounds)")) {
            assertTrue(out.contains("  " + row + " "), row + " missing in\n" + out);
        }
        assertTrue(out.lines().anyMatch(l -> l.matches("\\s+method\\s+xgblora\\s+lora\\s*")), out);
        String html = Files.readString(page);
        List<String> charts = List.of("train-loss-chart", "validation-loss-chart", "metric-chart", "throughput-chart", "params-chart",
                "cumulative-params-chart");
        for (String id : charts) assertTrue(html.contains("id=\"" + id + "\""), id);
        assertEquals(charts.size(), count(html, "class=\"series\" data-label=\"xgb\""), "each chart draws the xgblora run");
        assertEquals(charts.size(), count(html, "class=\"series\" data-label=\"lora\""), "and the lora run, on the same axes");
        assertTrue(html.contains("<tr><th>method</th><td>xgblora</td><td>lora</td></tr>"), "settings that differ");
        assertTrue(html.contains("<tr><th>rank</th><td>1 (default)</td><td>8 (default)</td></tr>"), "as resolved");
        assertFalse(html.contains("<tr><th>batch-size</th>"), "settings equal in both runs are left out");
        assertTrue(out.contains(page.toAbsolutePath().toString()));

        // a run killed before the end has no results.json: its column comes from the log
        Files.delete(lora.resolve("results.json"));
        String partial = run(0, "compare", xgb.toString(), lora.toString(), "--output", page.toString());
        assertTrue(partial.contains("(last logged)") && partial.contains("- (not recorded)"), partial);
    }

    @Test
    void gridShowsTheMetricOverTwoSettingsAveragedOverSeeds() throws Exception {
        Path model = dir.resolve("tiny"), data = dir.resolve("toy.tsv");
        String[][] runs = {{"2", "1", "0"}, {"2", "1", "1"}, {"4", "1", "0"}, {"2", "2", "0"}};
        List<String> args = new java.util.ArrayList<>(List.of("compare"));
        java.util.Map<String, List<Double>> byCell = new java.util.HashMap<>();
        for (String[] r : runs) {
            Path out = dir.resolve("grid-k" + r[0] + "-l" + r[1] + "-s" + r[2]);
            run(0, "train", "--model", model.toString(), "--train", data.toString(), "--valid", data.toString(), "--steps", "8",
                    "--batch-size", "8", "--lr", "1e-2", "--head-lr", "1e-2", "--quiet", "--no-export", "--no-baseline", "--kappa", r[0],
                    "--layers-per-booster", r[1], "--seed", r[2], "--output", out.toString());
            args.add(out.toString());
            double acc = new ObjectMapper().readTree(out.resolve("results.json").toFile()).get("after_accuracy").asDouble();
            byCell.computeIfAbsent(r[0] + "," + r[1], k -> new java.util.ArrayList<>()).add(acc);
        }
        Path page = dir.resolve("grid.html");
        args.addAll(List.of("--grid", "steps-per-booster,layers-per-booster", "--output", page.toString()));
        String out = run(0, args.toArray(String[]::new));
        assertTrue(out.contains("accuracy by steps-per-booster (rows) x layers-per-booster (columns)"), out);
        assertTrue(out.contains("(n=2)"), "two seeds share the cell (2, 1)\n" + out);
        String html = Files.readString(page);
        Matcher m = Pattern.compile("<td class=\"cell\" data-value=\"([^\"]*)\"").matcher(html);
        List<String> values = new java.util.ArrayList<>();
        while (m.find()) values.add(m.group(1));
        // rows 2, 4; columns 1, 2; (4, 2) has no run
        double mean21 = byCell.get("2,1").stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertEquals(4, values.size(), html);
        assertEquals(mean21, Double.parseDouble(values.get(0)), 1e-6);
        assertEquals(byCell.get("2,2").getFirst(), Double.parseDouble(values.get(1)), 1e-6);
        assertEquals(byCell.get("4,1").getFirst(), Double.parseDouble(values.get(2)), 1e-6);
        assertEquals("", values.get(3), "no run in (4, 2)");
        String bad = run(1, "compare", args.get(1), "--grid", "kappa,layers-per-booster", "--output", page.toString());
        assertTrue(bad.contains("no setting 'kappa'"), bad);
    }

    @Test
    void cumulativeParametersGrowByEachRoundsAdapters() {
        // head 10 trains throughout, each round's adapters 100: rounds end at steps 2 and 4
        java.util.Map<Long, Double> steps = new java.util.TreeMap<>(java.util.Map.of(1L, 110.0, 2L, 110.0, 3L, 110.0, 4L, 110.0, 5L, 110.0));
        java.util.Map<Long, Double> ends = java.util.Map.of(2L, 210.0, 4L, 310.0);
        assertEquals(java.util.Map.of(1L, 110.0, 2L, 210.0, 3L, 310.0, 4L, 310.0, 5L, 410.0), RunReport.cumulativeAtSteps(steps, ends, 10));
        assertEquals(java.util.Map.of(1L, 500.0, 2L, 500.0), RunReport.cumulativeAtSteps(java.util.Map.of(1L, 500.0, 2L, 500.0), java.util.Map.of(), 10),
                "no rounds (full fine-tuning): the same parameters at every step");
    }

    @Test
    void aDirectoryWithoutARunLogIsAClearError() {
        String out = run(1, "compare", xgb.toString(), dir.resolve("tiny").toString());
        assertTrue(out.contains("tiny: no run.jsonl"), out);
        assertNotEquals(-1, out.indexOf("xgblora train"));
    }

    private static int count(String s, String needle) {
        Matcher m = Pattern.compile(Pattern.quote(needle)).matcher(s);
        int n = 0;
        while (m.find()) n++;
        return n;
    }
}
