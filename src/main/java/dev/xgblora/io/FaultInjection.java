package dev.xgblora.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test seam for the crash and full-disk tests: faults planted at the two moments of an atomic
 * write ({@code write}: before the body, {@code rename}: after the data is written and synced,
 * before it replaces the target). Off unless the system property {@code xgblora.fault} (or
 * {@link #plant}) holds specs {@code ACTION@POINT:NAME[#N]}, comma-separated: ACTION
 * {@code enospc} throws the IOException a full disk gives, {@code pause} prints a line to stderr
 * and waits to be killed; NAME is the target's file name ({@code prefix*} allowed); N: only the
 * N-th such write (default every one).
 */
public final class FaultInjection {
    public static final String PROPERTY = "xgblora.fault";
    /** What {@code pause} prints before it waits, followed by POINT:NAME. */
    public static final String PAUSED = "xgblora-fault: paused at ";
    private static volatile String planted;
    private static final Map<String, AtomicInteger> SEEN = new ConcurrentHashMap<>();

    private FaultInjection() {
    }

    /** Plants faults in this JVM (null clears them and the occurrence counts). */
    public static void plant(String specs) {
        planted = specs;
        SEEN.clear();
    }

    static void beforeWrite(Path target) throws IOException {
        hit("write", target);
    }

    static void beforeRename(Path target) throws IOException {
        hit("rename", target);
    }

    private static void hit(String point, Path target) throws IOException {
        String specs = planted != null ? planted : System.getProperty(PROPERTY);
        if (specs == null || specs.isBlank()) return;
        String name = target.getFileName().toString();
        for (String spec : specs.split(",")) {
            int at = spec.indexOf('@'), colon = spec.indexOf(':', at + 1);
            if (at < 0 || colon < 0) throw new IllegalArgumentException(PROPERTY + ": expected ACTION@POINT:NAME[#N], found '" + spec + "'");
            String action = spec.substring(0, at).strip(), where = spec.substring(at + 1, colon);
            String pattern = spec.substring(colon + 1);
            int nth = 0;
            int hash = pattern.indexOf('#');
            if (hash >= 0) {
                nth = Integer.parseInt(pattern.substring(hash + 1));
                pattern = pattern.substring(0, hash);
            }
            boolean matches = pattern.endsWith("*") ? name.startsWith(pattern.substring(0, pattern.length() - 1)) : name.equals(pattern);
            if (!where.equals(point) || !matches) continue;
            int count = SEEN.computeIfAbsent(spec, s -> new AtomicInteger()).incrementAndGet();
            if (nth > 0 && count != nth) continue;
            switch (action) {
                case "enospc" -> throw new IOException("No space left on device (injected fault at " + point + " of " + name + ")");
                case "pause" -> pause(point + ":" + name);
                default -> throw new IllegalArgumentException(PROPERTY + ": unknown action '" + action + "' (enospc or pause)");
            }
        }
    }

    private static void pause(String where) {
        System.err.println(PAUSED + where);
        System.err.flush();
        try {
            Thread.sleep(Long.MAX_VALUE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
