package dev.xgblora.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/** A JSONL log, one object per line, flushed per line so that a killed run keeps what it wrote. */
public final class RunLog implements Closeable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final BufferedWriter out;

    /** @param append keep earlier lines (a resumed run) */
    public RunLog(Path file, boolean append) {
        try {
            if (file.getParent() != null) Files.createDirectories(file.getParent());
            out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open run log " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Cuts a log back to what a run had logged when it was at {@code step} (a resume from that
     * checkpoint): records of later steps, and a line torn by a kill, are dropped.
     */
    public static void keepUpTo(Path file, int step) {
        try {
            StringBuilder kept = new StringBuilder();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                com.fasterxml.jackson.databind.JsonNode r;
                try {
                    r = JSON.readTree(line);
                } catch (com.fasterxml.jackson.core.JsonProcessingException torn) {
                    continue;
                }
                if (r == null || !r.isObject()) continue;
                com.fasterxml.jackson.databind.JsonNode at = r.get("step");
                // step records count steps done; a skip record names the 0-based step it skipped
                int done = at == null ? 0 : at.asInt() + ("skip".equals(r.path("type").asText()) ? 1 : 0);
                if (done <= step) kept.append(line).append('\n');
            }
            dev.xgblora.io.AtomicFiles.writeString(file, kept.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read run log " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * A record whose keys keep the given order ({@code Map.of} iterates in a per-JVM random order,
     * so two identical runs would write different bytes).
     */
    public static Map<String, Object> record(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) throw new IllegalArgumentException("record needs key, value pairs");
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return m;
    }

    public void write(Map<String, ?> record) {
        try {
            out.write(JSON.writeValueAsString(record));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write run log: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
