package dev.xgblora.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.train.EvalResult;
import dev.xgblora.train.ProgressListener;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Shows a --spark run's progress on the driver: replica 0 writes run.jsonl into the output
 * directory (storage the driver reads too), and this follows the file and replays its records as
 * the same progress events a local run gives (steps, rounds, evaluations, skipped steps), plus the
 * bytes the replicas exchange per step.
 */
final class RunLogFollower implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final ProgressListener progress;
    private final Thread thread;
    private volatile boolean stop;
    private long position;
    private int totalSteps;
    private boolean bytesShown;
    private final StringBuilder partial = new StringBuilder();

    RunLogFollower(Path file, ProgressListener progress, boolean fromEnd) throws IOException {
        this.file = file;
        this.progress = progress;
        this.position = fromEnd && Files.isRegularFile(file) ? Files.size(file) : 0;
        this.thread = Thread.ofPlatform().daemon().name("xgblora-runlog-follower").start(this::loop);
    }

    private void loop() {
        while (!stop) {
            poll();
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Reads and replays whatever complete lines were added since the last poll. */
    synchronized void poll() {
        try {
            if (!Files.isRegularFile(file)) return;
            long size = Files.size(file);
            if (size < position) { // truncated: a fresh start, or a retry trimmed it back to its checkpoint
                position = size;
                partial.setLength(0);
            }
            if (size == position) return;
            byte[] bytes = new byte[(int) (size - position)];
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
                f.seek(position);
                f.readFully(bytes);
            }
            position = size;
            partial.append(new String(bytes, StandardCharsets.UTF_8));
            int nl;
            while ((nl = partial.indexOf("\n")) >= 0) {
                String line = partial.substring(0, nl);
                partial.delete(0, nl + 1);
                if (!line.isBlank()) replay(JSON.readTree(line));
            }
        } catch (IOException e) {
            progress.onMessage("cannot follow " + file + ": " + e.getMessage());
        }
    }

    private void replay(JsonNode r) {
        switch (r.path("type").asText()) {
            case "start" -> totalSteps = r.path("total_steps").asInt();
            case "replicas" -> progress.onMessage("data-parallel: " + r.path("replicas").asInt() + " replicas share each global batch of "
                    + r.path("global_batch").asInt());
            case "step" -> {
                if (!bytesShown && r.has("sync_bytes")) {
                    bytesShown = true;
                    progress.onMessage(String.format(Locale.ROOT, "gradient exchange: %,d bytes per step per replica (sent + received)",
                            r.path("sync_bytes").asLong()));
                }
                progress.onStep(new ProgressListener.StepInfo(r.path("step").asInt(), totalSteps, r.path("epoch").asInt(),
                        r.path("loss").asDouble(), r.path("lr").asDouble(), r.path("tokens_per_s").asDouble(), r.path("round").asInt(),
                        r.path("grad_norm").asDouble(), false));
            }
            case "round" -> {
                int[] layers = new int[r.path("layers").size()];
                for (int i = 0; i < layers.length; i++) layers[i] = r.path("layers").get(i).asInt();
                progress.onRound(new BoostingScheduler.RoundSummary(r.path("round").asInt(), layers, List.of(),
                        r.path("delta_norm").asDouble(), r.path("trainable_params").asLong()), r.path("loss").asDouble());
            }
            case "eval" -> progress.onEval(r.path("step").asInt(), new EvalResult(r.path("loss").asDouble(),
                    r.path("accuracy").asDouble(Double.NaN), r.path("f1").asDouble(Double.NaN), r.path("mcc").asDouble(Double.NaN),
                    r.path("perplexity").asDouble(Double.NaN), r.path("count").asInt()));
            case "skip" -> progress.onMessage(r.path("reason").asText());
            default -> {
            }
        }
    }

    @Override
    public void close() {
        stop = true;
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        poll(); // the last lines
    }
}
