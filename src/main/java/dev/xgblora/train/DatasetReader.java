package dev.xgblora.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads TSV, CSV (RFC 4180 quoting), JSONL and plain text into {@link Example}s. The format comes
 * from the file extension (.tsv, .csv, .jsonl/.json, anything else = plain text).
 * Defaults fit GLUE files: header row, a column named "label", the text in the other column
 * (or in "sentence1"/"sentence2" for pairs).
 */
public final class DatasetReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] TEXT_NAMES = {"sentence", "text", "content", "sentence1", "question", "prompt"};

    private DatasetReader() {
    }

    public static Dataset read(Path file, DataOptions opt) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        try {
            if (name.endsWith(".tsv")) return readTable(file, opt, '\t');
            if (name.endsWith(".csv")) return readTable(file, opt, ',');
            if (name.endsWith(".jsonl") || name.endsWith(".json")) return readJsonl(file, opt);
            if (opt.task() != Task.LM) {
                throw new IllegalArgumentException(file + ": plain text files serve the lm task only; use .tsv, .csv or .jsonl for " + opt.task().name().toLowerCase(Locale.ROOT));
            }
            return new Dataset(file, opt.task(), List.of(Example.text(Files.readString(file, StandardCharsets.UTF_8), 1)), opt.labels(), 0);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new MalformedDataException(file, firstNonUtf8Line(file), "not UTF-8 text");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The line holding the first byte sequence that is not UTF-8 (for the error message). */
    private static int firstNonUtf8Line(Path file) {
        try {
            byte[] b = Files.readAllBytes(file);
            java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(b);
            java.nio.CharBuffer out = java.nio.CharBuffer.allocate(b.length + 1);
            java.nio.charset.CoderResult r = StandardCharsets.UTF_8.newDecoder().decode(in, out, true);
            int end = r.isError() ? in.position() : b.length;
            int line = 1;
            for (int i = 0; i < end; i++) if (b[i] == '\n') line++;
            return line;
        } catch (IOException e) {
            return 0;
        }
    }

    // ---- TSV / CSV ----------------------------------------------------------------------------

    private static Dataset readTable(Path file, DataOptions opt, char sep) throws IOException {
        List<Example> out = new ArrayList<>();
        int skipped = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            RowReader rows = new RowReader(file, r, sep);
            List<String> header = rows.next();
            if (header == null) throw new MalformedDataException(file, 1, "empty file (expected a header row)");
            if (!header.isEmpty()) header.set(0, stripBom(header.get(0)));
            Columns cols = Columns.resolve(file, header, opt);
            List<String> row;
            while ((row = rows.next()) != null) {
                int line = rows.startLine();
                if (row.size() == 1 && row.get(0).isBlank()) continue;
                try {
                    if (row.size() != header.size()) {
                        throw new MalformedDataException(file, line, "expected " + header.size() + " fields "
                                + header + ", found " + row.size());
                    }
                    out.add(cols.example(file, line, row, opt));
                } catch (MalformedDataException e) {
                    if (!opt.skipMalformed()) throw e;
                    skipped++;
                }
            }
        }
        return new Dataset(file, opt.task(), out, opt.labels(), skipped);
    }

    private static String stripBom(String s) {
        return s.startsWith("\uFEFF") ? s.substring(1) : s;
    }

    /** Which header positions hold text, pair, label (classify) or prompt, completion (sft). */
    private record Columns(int text, int pair, int label) {
        static Columns resolve(Path file, List<String> header, DataOptions opt) {
            return switch (opt.task()) {
                case CLASSIFY -> {
                    int label = find(file, header, opt.labelColumn() == null ? "label" : opt.labelColumn(), true);
                    int text, pair = -1;
                    if (opt.textColumn() != null) {
                        text = find(file, header, opt.textColumn(), true);
                    } else if (indexOf(header, "sentence1") >= 0 && indexOf(header, "sentence2") >= 0) {
                        text = indexOf(header, "sentence1");
                        pair = indexOf(header, "sentence2");
                    } else {
                        text = defaultText(file, header, label);
                    }
                    if (opt.pairColumn() != null) pair = find(file, header, opt.pairColumn(), true);
                    yield new Columns(text, pair, label);
                }
                case SFT -> new Columns(find(file, header, opt.textColumn() == null ? "prompt" : opt.textColumn(), true),
                        find(file, header, opt.pairColumn() == null ? "completion" : opt.pairColumn(), true), -1);
                // a pair only when --pair-column names one (unlabelled classifier input for predict)
                case LM -> new Columns(opt.textColumn() != null ? find(file, header, opt.textColumn(), true)
                        : defaultText(file, header, -1), opt.pairColumn() == null ? -1 : find(file, header, opt.pairColumn(), true), -1);
            };
        }

        static int defaultText(Path file, List<String> header, int label) {
            if (header.size() == 2 && label >= 0) return 1 - label;
            for (String n : TEXT_NAMES) if (indexOf(header, n) >= 0) return indexOf(header, n);
            for (int i = 0; i < header.size(); i++) if (i != label) return i;
            throw new MalformedDataException(file, 1, "no text column in header " + header);
        }

        static int find(Path file, List<String> header, String name, boolean required) {
            int i = indexOf(header, name);
            if (i < 0 && required) throw new MalformedDataException(file, 1, "no column named '" + name + "' in header " + header);
            return i;
        }

        static int indexOf(List<String> header, String name) {
            for (int i = 0; i < header.size(); i++) if (header.get(i).trim().equalsIgnoreCase(name)) return i;
            return -1;
        }

        Example example(Path file, int line, List<String> row, DataOptions opt) {
            String t = row.get(text);
            if (t.isBlank()) throw new MalformedDataException(file, line, "empty text");
            return switch (opt.task()) {
                case CLASSIFY -> Example.classify(t, pair < 0 ? null : row.get(pair), labelId(file, line, row.get(label).trim(), opt), line);
                case SFT -> Example.sft(t, row.get(pair), line);
                case LM -> pair < 0 ? Example.text(t, line) : Example.input(t, row.get(pair), line);
            };
        }
    }

    static int labelId(Path file, int line, String label, DataOptions opt) {
        if (label.isEmpty()) throw new MalformedDataException(file, line, "empty label");
        int id;
        try {
            id = opt.labels().idOf(label);
        } catch (IllegalArgumentException e) {
            throw new MalformedDataException(file, line, e.getMessage());
        }
        if (id < 0) throw new MalformedDataException(file, line, "label '" + label + "' not seen in training data " + opt.labels().asMap().keySet());
        return id;
    }

    /** Splits records; CSV honours double quotes (fields may span lines), TSV splits on tabs only. */
    private static final class RowReader {
        private final Path file;
        private final BufferedReader r;
        private final char sep;
        private int lineNo;
        private int start;

        RowReader(Path file, BufferedReader r, char sep) {
            this.file = file;
            this.r = r;
            this.sep = sep;
        }

        int startLine() {
            return start;
        }

        List<String> next() throws IOException {
            String line = r.readLine();
            if (line == null) return null;
            start = ++lineNo;
            line = stripCr(line);
            List<String> fields = new ArrayList<>();
            if (sep == '\t') {
                for (String f : line.split("\t", -1)) fields.add(f);
                return fields;
            }
            StringBuilder cur = new StringBuilder();
            boolean quoted = false;
            int i = 0;
            while (true) {
                if (i == line.length()) {
                    if (!quoted) break;
                    String more = r.readLine();
                    if (more == null) throw new MalformedDataException(file, start, "unterminated quoted field");
                    lineNo++;
                    cur.append('\n');
                    line = stripCr(more);
                    i = 0;
                    continue;
                }
                char c = line.charAt(i++);
                if (quoted) {
                    if (c == '"') {
                        if (i < line.length() && line.charAt(i) == '"') {
                            cur.append('"');
                            i++;
                        } else {
                            quoted = false;
                        }
                    } else {
                        cur.append(c);
                    }
                } else if (c == '"' && cur.isEmpty()) {
                    quoted = true;
                } else if (c == sep) {
                    fields.add(cur.toString());
                    cur.setLength(0);
                } else {
                    cur.append(c);
                }
            }
            fields.add(cur.toString());
            return fields;
        }

        private static String stripCr(String s) {
            return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }
    }

    // ---- JSONL --------------------------------------------------------------------------------

    private static Dataset readJsonl(Path file, DataOptions opt) throws IOException {
        List<Example> out = new ArrayList<>();
        int skipped = 0, lineNo = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) continue;
                try {
                    out.add(jsonExample(file, lineNo, line, opt));
                } catch (MalformedDataException e) {
                    if (!opt.skipMalformed()) throw e;
                    skipped++;
                }
            }
        }
        return new Dataset(file, opt.task(), out, opt.labels(), skipped);
    }

    private static Example jsonExample(Path file, int line, String json, DataOptions opt) {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new MalformedDataException(file, line, "invalid JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) throw new MalformedDataException(file, line, "expected a JSON object");
        return switch (opt.task()) {
            case CLASSIFY -> {
                String text = field(file, line, n, opt.textColumn(), "text", "sentence", "sentence1");
                String pair = opt.pairColumn() != null ? field(file, line, n, opt.pairColumn())
                        : (n.has("sentence2") ? n.get("sentence2").asText() : null);
                JsonNode l = n.get(opt.labelColumn() == null ? "label" : opt.labelColumn());
                if (l == null || l.isNull()) throw new MalformedDataException(file, line, "missing \"label\"");
                yield Example.classify(text, pair, labelId(file, line, l.asText().trim(), opt), line);
            }
            case SFT -> Example.sft(field(file, line, n, opt.textColumn(), "prompt"),
                    field(file, line, n, opt.pairColumn(), "completion"), line);
            case LM -> opt.pairColumn() == null ? Example.text(field(file, line, n, opt.textColumn(), "text"), line)
                    : Example.input(field(file, line, n, opt.textColumn(), "text", "sentence", "sentence1"),
                            field(file, line, n, opt.pairColumn()), line);
        };
    }

    /** The first present key among {@code explicit} (if set) or {@code defaults}, as text. */
    private static String field(Path file, int line, JsonNode n, String explicit, String... defaults) {
        String[] keys = explicit != null ? new String[] {explicit} : defaults;
        for (String k : keys) {
            JsonNode v = n.get(k);
            if (v != null && !v.isNull()) {
                if (!v.isValueNode()) throw new MalformedDataException(file, line, "\"" + k + "\" must be a string");
                return v.asText();
            }
        }
        throw new MalformedDataException(file, line, "missing " + (keys.length == 1 ? "\"" + keys[0] + "\"" : "one of " + String.join(", ", keys)));
    }
}
