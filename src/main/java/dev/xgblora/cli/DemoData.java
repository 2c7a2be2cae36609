package dev.xgblora.cli;

import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.ModelCache;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.security.MessageDigest;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

/**
 * The data of the built-in default job, from the first of:
 * <ol>
 * <li>SST-2 ({@code sst2/train.tsv}, {@code sst2/dev.tsv}) in the first data directory that has it:
 * the {@code xgblora.data} system property, the {@code XGBLORA_DATA} environment variable,
 * {@code ../shared/data} beside the project root or the working directory;</li>
 * <li>the SST-2 copy shipped inside the jar (gzipped, {@value #SHIPPED}), extracted once into
 * {@code <xgblora home>/data/sst2/} and checked against its SHA-256;</li>
 * <li>the Rotten Tomatoes sentence-polarity corpus (Pang and Lee, the corpus SST was built from;
 * 4,000 sentences) out of Debian's {@code python3-pattern} package, fetched once with
 * {@code apt-get download} (no root needed) and split 90/10 with a fixed seed into
 * {@code <xgblora home>/data/rt-polarity/} (for a build without the shipped copy).</li>
 * </ol>
 */
public final class DemoData {
    /** Where the corpus lies inside the .deb. */
    static final String PATTERN_CSV = "usr/share/doc/python3-pattern/test/corpora/polarity-en-pang&lee2.csv";
    static final long SPLIT_SEED = 0;
    /** Class-path folder of the shipped SST-2 (not a package name, so no module encapsulates it). */
    static final String SHIPPED = "/xgblora-data/sst2/";
    /** SHA-256 of the uncompressed shipped files (GLUE SST-2 as in ../shared/data/sst2). */
    static final Map<String, String> SHIPPED_SHA256 = Map.of(
            "train.tsv", "e981ceb4fe6c9acd1c79851d0d091b9e78103f1f2a399ca83dda27915d41c56c",
            "dev.tsv", "84207e6be5873fb18db798cc6faec86871f5a426554650ff64a1c34e87665f6f");

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
     * The default job's data, in the order of the class comment. Throws with what to pass instead
     * when none is possible.
     */
    public static Files2 resolve(java.util.function.Consumer<String> log) {
        return resolve(candidates(System.getProperty("xgblora.data"), System.getenv(), projectRoot(), Path.of("").toAbsolutePath()),
                ModelCache.home(), log);
    }

    static Files2 resolve(List<Path> candidates, Path home, java.util.function.Consumer<String> log) {
        Files2 sst2 = findSst2(candidates);
        if (sst2 != null) return sst2;
        Path shipped = home.resolve("data").resolve("sst2");
        try {
            if (extractShipped(shipped, log)) return new Files2(shipped.resolve("train.tsv"), shipped.resolve("dev.tsv"), "SST-2 (shipped copy, " + shipped + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the shipped SST-2 into " + shipped + ": " + e.getMessage(), e);
        }
        Path dir = home.resolve("data").resolve("rt-polarity");
        Files2 rt = new Files2(dir.resolve("train.tsv"), dir.resolve("dev.tsv"), "Rotten Tomatoes sentence polarity (" + dir + ")");
        if (Files.isRegularFile(rt.train()) && Files.isRegularFile(rt.dev())) return rt;
        log.accept("SST-2 not found (looked in " + candidates + " and the jar); fetching the Rotten Tomatoes polarity corpus from Debian's python3-pattern");
        try {
            Path csv = fetchPatternCsv(home.resolve("downloads"));
            writeSplit(csv, dir);
            return rt;
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("no training data: SST-2 is not at " + candidates.stream().map(p -> p.resolve("sst2").toString()).toList()
                    + " nor in the jar, and fetching python3-pattern failed (" + e.getMessage() + "). Pass --train FILE --valid FILE (TSV/CSV with a"
                    + " 'label' column, or JSONL), or point -Dxgblora.data / XGBLORA_DATA at a directory holding sst2/train.tsv and sst2/dev.tsv.", e);
        }
    }

    /**
     * Makes {@code dir} hold the shipped SST-2 (decompressed and checked once, written atomically);
     * false when this build has no shipped copy.
     */
    static boolean extractShipped(Path dir, java.util.function.Consumer<String> log) throws IOException {
        if (DemoData.class.getResource(SHIPPED + "train.tsv.gz") == null) return false;
        if (Files.isRegularFile(dir.resolve("train.tsv")) && Files.isRegularFile(dir.resolve("dev.tsv"))) return true;
        log.accept("extracting the shipped SST-2 into " + dir);
        Files.createDirectories(dir.getParent());
        AtomicFiles.writeDirectory(dir, tmp -> {
            for (String name : List.of("train.tsv", "dev.tsv")) {
                Path out = tmp.resolve(name);
                try (InputStream in = new GZIPInputStream(DemoData.class.getResourceAsStream(SHIPPED + name + ".gz"))) {
                    Files.copy(in, out);
                }
                String sha = sha256(out);
                if (!sha.equals(SHIPPED_SHA256.get(name))) {
                    throw new IOException("the jar's " + SHIPPED + name + ".gz decompresses to SHA-256 " + sha + ", expected " + SHIPPED_SHA256.get(name));
                }
            }
        });
        return true;
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
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
