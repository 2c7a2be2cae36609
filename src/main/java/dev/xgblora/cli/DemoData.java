package dev.xgblora.cli;

import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.ModelCache;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The data of the built-in default job. SST-2 ({@code sst2/train.tsv}, {@code sst2/dev.tsv}) from
 * the first data directory that has it: the {@code xgblora.data} system property, the
 * {@code XGBLORA_DATA} environment variable, {@code ../shared/data} beside the project root or the
 * working directory. Elsewhere the Rotten Tomatoes sentence-polarity corpus (Pang and Lee, the
 * corpus SST was built from; 4,000 sentences) out of Debian's {@code python3-pattern} package,
 * fetched once with {@code apt-get download} (no root needed) and split 90/10 with a fixed seed
 * into {@code <xgblora home>/data/rt-polarity/}.
 */
public final class DemoData {
    /** Where the corpus lies inside the .deb. */
    static final String PATTERN_CSV = "usr/share/doc/python3-pattern/test/corpora/polarity-en-pang&lee2.csv";
    static final long SPLIT_SEED = 0;

    /** A train/dev pair and what it is. */
    public record Files2(Path train, Path dev, String name) {
    }

    private DemoData() {
    }

    /** Data directories to look in for {@code sst2/}, in order. */
    static List<Path> candidates(String property, Map<String, String> env, Path projectRoot, Path workDir) {
        List<Path> out = new ArrayList<>();
        if (property != null && !property.isBlank()) out.add(Path.of(property));
        String e = env.get("XGBLORA_DATA");
        if (e != null && !e.isBlank()) out.add(Path.of(e));
        if (projectRoot != null) out.add(projectRoot.resolve("../shared/data").normalize());
        out.add(workDir.resolve("../shared/data").normalize());
        return out;
    }

    /** SST-2 from the first candidate that has both files, or null. */
    static Files2 findSst2(List<Path> candidates) {
        for (Path d : candidates) {
            Path train = d.resolve("sst2/train.tsv"), dev = d.resolve("sst2/dev.tsv");
            if (Files.isRegularFile(train) && Files.isRegularFile(dev)) return new Files2(train, dev, "SST-2 (" + d.resolve("sst2") + ")");
        }
        return null;
    }

    /** The project root the launcher passes ({@code -Dxgblora.root}), or null. */
    static Path projectRoot() {
        String r = System.getProperty("xgblora.root");
        return r == null || r.isBlank() ? null : Path.of(r);
    }

    /**
     * The default job's data: SST-2 when found, else the Rotten Tomatoes corpus (fetched and
     * converted on first use). Throws with what to pass instead when neither is possible.
     */
    public static Files2 resolve(java.util.function.Consumer<String> log) {
        List<Path> candidates = candidates(System.getProperty("xgblora.data"), System.getenv(), projectRoot(), Path.of("").toAbsolutePath());
        Files2 sst2 = findSst2(candidates);
        if (sst2 != null) return sst2;
        Path dir = ModelCache.home().resolve("data").resolve("rt-polarity");
        Files2 rt = new Files2(dir.resolve("train.tsv"), dir.resolve("dev.tsv"), "Rotten Tomatoes sentence polarity (" + dir + ")");
        if (Files.isRegularFile(rt.train()) && Files.isRegularFile(rt.dev())) return rt;
        log.accept("SST-2 not found (looked in " + candidates + "); fetching the Rotten Tomatoes polarity corpus from Debian's python3-pattern");
        try {
            Path csv = fetchPatternCsv(ModelCache.home().resolve("downloads"));
            writeSplit(csv, dir);
            return rt;
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("no training data: SST-2 is not at " + candidates.stream().map(p -> p.resolve("sst2").toString()).toList()
                    + " and fetching python3-pattern failed (" + e.getMessage() + "). Pass --train FILE --valid FILE (TSV/CSV with a"
                    + " 'label' column, or JSONL), or point -Dxgblora.data / XGBLORA_DATA at a directory holding sst2/train.tsv and sst2/dev.tsv.", e);
        }
    }

    /** Downloads python3-pattern's .deb with apt-get into {@code downloads} and unpacks the corpus; returns the CSV. */
    static Path fetchPatternCsv(Path downloads) throws IOException {
        Files.createDirectories(downloads);
        Path unpacked = downloads.resolve("python3-pattern");
        Path csv = unpacked.resolve(PATTERN_CSV);
        if (Files.isRegularFile(csv)) return csv;
        run(downloads, "apt-get", "download", "python3-pattern");
        Path deb;
        try (var s = Files.list(downloads)) {
            deb = s.filter(p -> p.getFileName().toString().matches("python3-pattern_.*\\.deb")).findFirst()
                    .orElseThrow(() -> new IOException("apt-get download left no python3-pattern_*.deb in " + downloads));
        }
        AtomicFiles.writeDirectory(unpacked, tmp -> run(downloads, "dpkg-deb", "-x", deb.toString(), tmp.toString()));
        if (!Files.isRegularFile(csv)) throw new IOException(deb + " holds no " + PATTERN_CSV);
        return csv;
    }

    private static void run(Path dir, String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd), e);
        }
        if (p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + out.strip());
    }

    /** One labelled sentence of the corpus; label 1 = positive, 0 = negative (SST-2's ids). */
    record Row(int label, String text) {
    }

    /**
     * Parses the corpus CSV: UTF-8 with a byte-order mark, no header, rows {@code "label","text"}
     * with labels 1 / -1, fields quoted, quotes doubled, a newline possibly inside the text.
     */
    static List<Row> parsePolarityCsv(Path csv) throws IOException {
        String s = Files.readString(csv, StandardCharsets.UTF_8);
        if (s.startsWith("\uFEFF")) s = s.substring(1);
        List<Row> rows = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder f = new StringBuilder();
        int line = 1, rowLine = 1;
        boolean quoted = false, wasQuoted = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\n') line++;
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < s.length() && s.charAt(i + 1) == '"') {
                        f.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    f.append(c);
                }
            } else if (c == '"') {
                quoted = true;
                wasQuoted = true;
            } else if (c == ',') {
                fields.add(f.toString());
                f.setLength(0);
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') continue;
                if (!fields.isEmpty() || f.length() > 0 || wasQuoted) {
                    fields.add(f.toString());
                    rows.add(row(csv, rowLine, fields));
                }
                fields.clear();
                f.setLength(0);
                wasQuoted = false;
                rowLine = line;
            } else {
                f.append(c);
            }
        }
        if (quoted) throw new IOException(csv + ":" + rowLine + ": unterminated quoted field");
        if (!fields.isEmpty() || f.length() > 0) {
            fields.add(f.toString());
            rows.add(row(csv, rowLine, fields));
        }
        return rows;
    }

    private static Row row(Path csv, int line, List<String> fields) throws IOException {
        if (fields.size() != 2) throw new IOException(csv + ":" + line + ": expected 2 fields (label, text), found " + fields.size());
        String text = fields.get(1).replaceAll("\\s+", " ").strip();
        if (text.isEmpty()) throw new IOException(csv + ":" + line + ": empty text");
        return switch (fields.get(0).strip()) {
            case "1" -> new Row(1, text);
            case "-1" -> new Row(0, text);
            default -> throw new IOException(csv + ":" + line + ": label must be 1 or -1, found '" + fields.get(0) + "'");
        };
    }

    /** Shuffles the rows with a fixed seed and writes 90 % to train.tsv and 10 % to dev.tsv (header label, sentence). */
    static void writeSplit(Path csv, Path dir) throws IOException {
        List<Row> rows = new ArrayList<>(parsePolarityCsv(csv));
        Collections.shuffle(rows, new Random(SPLIT_SEED));
        int dev = Math.max(1, rows.size() / 10);
        Files.createDirectories(dir.getParent());
        AtomicFiles.writeDirectory(dir, tmp -> {
            Files.writeString(tmp.resolve("dev.tsv"), tsv(rows.subList(0, dev)), StandardCharsets.UTF_8);
            Files.writeString(tmp.resolve("train.tsv"), tsv(rows.subList(dev, rows.size())), StandardCharsets.UTF_8);
        });
        if (!Files.isRegularFile(dir.resolve("train.tsv"))) throw new UncheckedIOException(new IOException(dir + " exists without train.tsv; delete it"));
    }

    private static String tsv(List<Row> rows) {
        StringBuilder sb = new StringBuilder("label\tsentence\n");
        for (Row r : rows) sb.append(r.label()).append('\t').append(r.text().replace('\t', ' ')).append('\n');
        return sb.toString();
    }
}
