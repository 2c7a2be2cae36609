package dev.xgblora.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's resident memory from /proc/self/status (Linux; -1 elsewhere). */
public final class ResidentMemory {
    private ResidentMemory() {
    }

    /** Resident bytes now (VmRSS). */
    public static long current() {
        return field("VmRSS:");
    }

    /** The high-water mark of resident bytes (VmHWM). */
    public static long peak() {
        return field("VmHWM:");
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(name)) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | NumberFormatException | UnsupportedOperationException ignored) {
            // not Linux: no figure
        }
        return -1;
    }

    /** Parses a size such as 512m, 2g, 1.5G or 1048576 (bytes). */
    public static long parseSize(String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT).replace("ib", "").replace("b", "");
        double mult = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'k' -> mult = 1L << 10;
                case 'm' -> mult = 1L << 20;
                case 'g' -> mult = 1L << 30;
                case 't' -> mult = 1L << 40;
                default -> mult = 1;
            }
            if (mult > 1) t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0) || Double.isInfinite(v)) throw new NumberFormatException();
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a memory size: '" + s + "' (expected e.g. 512m, 2g or a byte count)");
        }
    }
}
