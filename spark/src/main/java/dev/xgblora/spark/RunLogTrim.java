package dev.xgblora.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Before a retried stage resumes from a checkpoint, replica 0 drops the run.jsonl records written
 * after that checkpoint's step (the failed attempt's), so the log reads like one uninterrupted run.
 */
final class RunLogTrim {
    private static final ObjectMapper JSON = new ObjectMapper();

    private RunLogTrim() {
    }

    /** Trims {@code log} to the records up to {@code checkpoint}'s step, and returns that step. */
    static int toCheckpoint(Path log, Path checkpoint) {
        try {
            int step = JSON.readTree(checkpoint.resolve("state.json").toFile()).path("step").asInt(-1);
            if (step < 0) throw new IllegalStateException(checkpoint + "/state.json has no step");
            if (!Files.isRegularFile(log)) return step;
            List<String> kept = Files.readAllLines(log).stream().filter(line -> {
                if (line.isBlank()) return false;
                try {
                    JsonNode r = JSON.readTree(line);
                    return !r.has("step") || r.path("step").asInt() <= step;
                } catch (IOException e) {
                    return false; // a line cut short by the failure
                }
            }).toList();
            AtomicFiles.writeString(log, kept.isEmpty() ? "" : String.join("\n", kept) + "\n");
            return step;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot trim " + log + " back to " + checkpoint + ": " + e.getMessage(), e);
        }
    }
}
