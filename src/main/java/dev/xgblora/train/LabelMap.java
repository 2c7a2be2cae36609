package dev.xgblora.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Maps label strings to class ids. Integer labels ("0", "1", ...) map to themselves; other strings
 * get ids in order of first appearance. Built on the training file, saved, and reused (frozen)
 * for validation files so that ids agree.
 */
public final class LabelMap {
    private final Map<String, Integer> ids = new LinkedHashMap<>();
    private boolean frozen;

    /** Id of {@code label}, adding it when the map is not frozen; -1 if unknown in a frozen map. */
    public int idOf(String label) {
        Integer id = ids.get(label);
        if (id != null) return id;
        if (frozen) return -1;
        int next;
        if (label.matches("\\d{1,6}")) {
            next = Integer.parseInt(label);
            if (ids.containsValue(next)) throw new IllegalArgumentException("label '" + label + "' collides with an existing id");
        } else {
            next = ids.isEmpty() ? 0 : Collections.max(ids.values()) + 1;
        }
        ids.put(label, next);
        return next;
    }

    public LabelMap freeze() {
        frozen = true;
        return this;
    }

    public boolean frozen() {
        return frozen;
    }

    /** Number of classes: max id + 1. */
    public int numClasses() {
        return ids.isEmpty() ? 0 : Collections.max(ids.values()) + 1;
    }

    /** Label names indexed by id (unused ids get their number as name). */
    public List<String> names() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < numClasses(); i++) out.add(String.valueOf(i));
        ids.forEach((k, v) -> out.set(v, k));
        return out;
    }

    public Map<String, Integer> asMap() {
        return Collections.unmodifiableMap(ids);
    }

    public static LabelMap of(Map<String, Integer> map) {
        LabelMap m = new LabelMap();
        m.ids.putAll(map);
        return m.freeze();
    }

    /** Writes {"label": id, ...} as JSON (temp file, then rename). */
    public void save(Path file) throws IOException {
        dev.xgblora.io.AtomicFiles.writeString(file, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(ids));
    }

    @SuppressWarnings("unchecked")
    public static LabelMap load(Path file) throws IOException {
        Map<String, Object> raw = new ObjectMapper().readValue(file.toFile(), LinkedHashMap.class);
        Map<String, Integer> map = new LinkedHashMap<>();
        raw.forEach((k, v) -> map.put(k, ((Number) v).intValue()));
        return of(map);
    }
}
