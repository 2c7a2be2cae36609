package dev.xgblora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Default values from the file named by the command's {@code --config} option (JSON, or the flat
 * YAML subset described at {@link #parseYaml}): keys are long option names without the dashes
 * ({@code "steps": 300}, {@code layers-per-booster: 2}); lists may be arrays; booleans switch flags.
 * Options given on the command line win, because picocli asks a default value provider only
 * for options the command line left out. Unknown keys are an error naming the key and the file.
 */
public final class ConfigDefaults implements CommandLine.IDefaultValueProvider {
    public static final String OPTION = "--config";
    private static final ObjectMapper JSON = new ObjectMapper();

    private Path loadedFrom;
    private Map<String, String> values = Map.of();

    @Override
    public String defaultValue(ArgSpec arg) throws Exception {
        if (!(arg instanceof OptionSpec opt) || opt.longestName().equals(OPTION)) return null;
        CommandSpec cmd = arg.command();
        Path path = configFile(cmd);
        if (path == null) return null;
        if (!path.equals(loadedFrom)) {
            values = load(path, cmd);
            loadedFrom = path;
        }
        return values.get(key(opt));
    }

    /** The --config file; without one, a run's own settings file when resuming it ({@code --resume [DIR]}). */
    private static Path configFile(CommandSpec cmd) {
        OptionSpec config = cmd.findOption(OPTION);
        Object file = config == null ? null : config.getValue();
        if (file != null) return Path.of(file.toString());
        OptionSpec resume = cmd.findOption(RESUME);
        Object dir = resume == null ? null : resume.getValue();
        if (dir == null) return null;
        if (dir.toString().isEmpty()) {
            OptionSpec output = cmd.findOption("--output");
            dir = output == null ? null : output.getValue();
            if (dir == null) return null;
        }
        Path settings = Path.of(dir.toString()).resolve(RUN_SETTINGS);
        if (!Files.isRegularFile(settings)) {
            throw new IllegalArgumentException("--resume " + dir + ": no " + RUN_SETTINGS + " there (is it the output directory of an xgblora train run?)");
        }
        return settings;
    }

    static final String RESUME = "--resume";
    /** What a run writes into its output directory (TrainCommand.SETTINGS_FILE). */
    static final String RUN_SETTINGS = "train-config.json";

    static String key(OptionSpec opt) {
        return opt.longestName().replaceFirst("^-+", "");
    }

    /** The file's values by option key, checked against the command's options. */
    static Map<String, String> load(Path file, CommandSpec cmd) throws IOException {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("config file " + file + " does not exist");
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        String text = Files.readString(file);
        Map<String, String> raw = name.endsWith(".yaml") || name.endsWith(".yml") ? parseYaml(file, text) : parseJson(file, text);
        Set<String> known = new HashSet<>();
        for (OptionSpec o : cmd.options()) {
            known.add(key(o));
            for (String n : o.names()) known.add(n.replaceFirst("^-+", ""));
        }
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, String> e : raw.entrySet()) {
            if (!known.contains(e.getKey()) || e.getKey().equals(OPTION.substring(2))) {
                throw new IllegalArgumentException(file + ": unknown key '" + e.getKey() + "' (keys are the long option names of '"
                        + cmd.name() + "' without dashes, e.g. steps, batch-size, method)");
            }
            // aliases (e.g. kappa for steps-per-booster) land on the option's longest name
            OptionSpec o = cmd.findOption(e.getKey().length() == 1 ? "-" + e.getKey() : "--" + e.getKey());
            out.put(key(o), e.getValue());
        }
        return out;
    }

    static Map<String, String> parseJson(Path file, String text) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException(file + ": expected a JSON object of option names to values");
        Map<String, String> out = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (v.isArray()) {
                List<String> items = new ArrayList<>();
                v.forEach(x -> items.add(x.asText()));
                out.put(e.getKey(), String.join(",", items));
            } else if (v.isObject()) {
                throw new IllegalArgumentException(file + ": key '" + e.getKey() + "' holds an object; expected a number, string, boolean or list");
            } else if (!v.isNull()) {
                out.put(e.getKey(), v.asText());
            }
        }
        return out;
    }

    /**
     * The YAML this needs, without a YAML library: one {@code key: value} per line, {@code #}
     * comments, values plain or quoted ('…' or "…"), lists as {@code [a, b]} or as following
     * {@code - item} lines. Nested maps are refused with the line number.
     */
    static Map<String, String> parseYaml(Path file, String text) {
        Map<String, String> out = new HashMap<>();
        String listKey = null;
        List<String> list = null;
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = stripComment(lines[i]);
            if (line.isBlank() || line.strip().equals("---")) continue;
            String t = line.strip();
            if (t.startsWith("- ") || t.equals("-")) {
                if (list == null) throw new IllegalArgumentException(file + ":" + (i + 1) + ": list item outside a list");
                list.add(unquote(t.substring(1).strip()));
                continue;
            }
            if (list != null) {
                out.put(listKey, String.join(",", list));
                list = null;
            }
            if (Character.isWhitespace(line.charAt(0))) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": nested values are not supported; use flat 'option-name: value' lines");
            }
            int colon = t.indexOf(':');
            if (colon <= 0) throw new IllegalArgumentException(file + ":" + (i + 1) + ": expected 'option-name: value', found '" + t + "'");
            String key = t.substring(0, colon).strip();
            String value = t.substring(colon + 1).strip();
            if (value.isEmpty()) {
                listKey = key;
                list = new ArrayList<>();
            } else if (value.startsWith("[") && value.endsWith("]")) {
                List<String> items = new ArrayList<>();
                for (String s : value.substring(1, value.length() - 1).split(",")) if (!s.isBlank()) items.add(unquote(s.strip()));
                out.put(key, String.join(",", items));
            } else {
                out.put(key, unquote(value));
            }
        }
        if (list != null) out.put(listKey, String.join(",", list));
        return out;
    }

    private static String stripComment(String line) {
        boolean single = false, dbl = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\'' && !dbl) single = !single;
            else if (c == '"' && !single) dbl = !dbl;
            else if (c == '#' && !single && !dbl && (i == 0 || Character.isWhitespace(line.charAt(i - 1)))) return line.substring(0, i);
        }
        return line;
    }

    private static String unquote(String v) {
        if (v.length() >= 2 && ((v.startsWith("\"") && v.endsWith("\"")) || (v.startsWith("'") && v.endsWith("'")))) {
            return v.substring(1, v.length() - 1);
        }
        return v;
    }
}
