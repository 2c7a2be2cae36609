package dev.xgblora.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.cli.TinyModelDir;
import dev.xgblora.cli.TrainCommand;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Two replicas on local[2] against one process, through the CLI: 2 × batch 16 must give the loss
 * curve of 1 × batch 32 (within 1e-5) for XGBLoRA and LoRA, and a replica killed mid-round must
 * still give the uninterrupted curve (the barrier stage is retried from the last checkpoint).
 */
class DataParallelTrainingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static Path model, train, valid;

    @BeforeAll
    static void data() throws Exception {
        model = TinyModelDir.create(dir.resolve("tiny"));
        train = TinyModelDir.sentiment(dir.resolve("train.tsv"), 160, 2);
        valid = TinyModelDir.sentiment(dir.resolve("valid.tsv"), 40, 3);
    }

    private static List<String> args(String method, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("--model", model.toString(), "--train", train.toString(), "--valid", valid.toString(),
                "--method", method, "--steps", "12", "--batch-size", "32", "--kappa", "4", "--layers-per-booster", "2", "--seed", "3",
                "--log-every", "1", "--eval-every", "6", "--checkpoint-every", "3", "--output", out.toString(), "--quiet"));
        a.addAll(List.of(extra));
        return a;
    }

    private static void train(List<String> args) {
        int code = new CommandLine(new TrainCommand()).execute(args.toArray(String[]::new));
        assertEquals(0, code, "xgblora train " + String.join(" ", args));
    }

    /** step → loss of every step record in run.jsonl, and the records of the other kinds. */
    private static Map<Integer, Double> losses(Path out) throws Exception {
        Map<Integer, Double> m = new TreeMap<>();
        for (String line : Files.readAllLines(out.resolve("run.jsonl"))) {
            JsonNode r = JSON.readTree(line);
            if (r.path("type").asText().equals("step")) {
                Double before = m.put(r.path("step").asInt(), r.path("loss").asDouble());
                assertEquals(null, before, "step " + r.path("step").asInt() + " logged twice in " + out);
            }
        }
        return m;
    }

    private static double evalLoss(Path out) throws Exception {
        double last = Double.NaN;
        for (String line : Files.readAllLines(out.resolve("run.jsonl"))) {
            JsonNode r = JSON.readTree(line);
            if (r.path("type").asText().equals("eval")) last = r.path("loss").asDouble();
        }
        return last;
    }

    private static void assertSameCurve(Path expected, Path actual) throws Exception {
        Map<Integer, Double> a = losses(expected), b = losses(actual);
        assertEquals(a.keySet(), b.keySet(), "logged steps");
        assertEquals(12, a.size());
        for (int step : a.keySet()) assertEquals(a.get(step), b.get(step), 1e-5, "loss at step " + step);
        assertEquals(evalLoss(expected), evalLoss(actual), 1e-5, "final validation loss");
    }

    private static final Map<String, Path> ONE_PROCESS = new java.util.concurrent.ConcurrentHashMap<>();

    /** The single-process run of a method (batch 32), trained once for all tests. */
    private static Path oneProcess(String method) {
        return ONE_PROCESS.computeIfAbsent(method, m -> {
            Path out = dir.resolve(m + "-1x32");
            train(args(m, out));
            return out;
        });
    }

    private void replicatesOneProcess(String method) throws Exception {
        Path one = oneProcess(method), two = dir.resolve(method + "-2x16");
        train(args(method, two, "--spark", "local[2]"));
        assertSameCurve(one, two);
        // replica 0 wrote what a local run writes; the exchange size is in the log
        assertTrue(Files.isDirectory(two.resolve("merged")) && Files.isRegularFile(two.resolve("report.html")));
        assertEquals(Files.isDirectory(one.resolve("adapter")), Files.isDirectory(two.resolve("adapter")));
        String log = Files.readString(two.resolve("run.jsonl"));
        assertTrue(log.contains("\"sync_bytes\"") && log.contains("\"type\":\"replicas\""), log);
        assertFalse(Files.readString(one.resolve("run.jsonl")).contains("sync_bytes"));
    }

    @Test
    void xgbloraOnTwoReplicasFollowsOneProcess() throws Exception {
        replicatesOneProcess("xgblora");
    }

    @Test
    void loraOnTwoReplicasFollowsOneProcess() throws Exception {
        // tiny exchange parts: each step's gradients go in many allGathers, as full fine-tuning's do on a real model
        System.setProperty(SparkRunner.CHUNK_BYTES, "8192");
        try {
            replicatesOneProcess("lora");
        } finally {
            System.clearProperty(SparkRunner.CHUNK_BYTES);
        }
    }

    @Test
    void fullFineTuningOnTwoReplicasFollowsOneProcess() throws Exception {
        replicatesOneProcess("full");
    }

    @Test
    void aReplicaKilledMidRoundStillGivesTheUninterruptedCurve() throws Exception {
        Path one = oneProcess("xgblora"), killed = dir.resolve("xgb-killed");
        int before = BarrierGradientSync.injectedFailures.get();
        // replica 1 dies at step index 7, inside round 1 (steps 4..7); the newest checkpoint, at 6, has that round open
        System.setProperty(SparkRunner.FAIL_AT, "1:7");
        try {
            train(args("xgblora", killed, "--spark", "local[2]"));
        } finally {
            System.clearProperty(SparkRunner.FAIL_AT);
        }
        assertEquals(before + 1, BarrierGradientSync.injectedFailures.get(), "the planted failure fired once");
        assertEquals(6, ReplicaTask.resumedAt.get(), "the retried stage resumed from the newest checkpoint");
        assertSameCurve(one, killed);
    }
}
