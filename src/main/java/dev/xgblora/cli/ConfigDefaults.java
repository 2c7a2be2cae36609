package dev.xgblora.cli;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Default values from the file named by the command's {@code --config} option (JSON, or YAML read
 * by {@link #parseYaml}): keys are long option names without the dashes
 * ({@code "steps": 300}, {@code layers-per-booster: 2}); lists may be arrays; booleans switch flags.
 * Options given on the command line win, because picocli asks a default value provider only
 * for options the command line left out. Unknown keys are an error naming the key and the file.
 */
public final class ConfigDefaults implements CommandLine.IDefaultValueProvider {
    public static final String OPTION = "--config";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper YAML = new YAMLMapper();

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

    /** JSON: a top-level object of option names to values. */
    static Map<String, String> parseJson(Path file, String text) throws IOException {
        return parse(file, text, JSON, "JSON");
    }

    /**
     * YAML through Jackson's YAML module (SnakeYAML): a top-level map of option names to values;
     * plain or quoted scalars, lists as {@code [a, b]} or as {@code - item} lines, comments. Nested maps,
     * lists of maps and aliases ({@code *name}) are refused naming the key and its line.
     */
    static Map<String, String> parseYaml(Path file, String text) throws IOException {
        return parse(file, text, YAML, "YAML");
    }

    private static Map<String, String> parse(Path file, String text, ObjectMapper mapper, String format) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        try (JsonParser p = mapper.createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) return out; // an empty file sets nothing
            if (first != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException(where(file, p) + "expected a " + format + " map of option names to values, found " + first.asString());
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                String at = where(file, p);
                String v = value(p, at, key);
                if (v != null) out.put(key, v);
            }
        } catch (JsonProcessingException e) {
            JsonLocation l = e.getLocation();
            throw new IllegalArgumentException(file + (l == null || l.getLineNr() < 1 ? "" : ":" + l.getLineNr()) + ": not valid " + format + ": "
                    + e.getOriginalMessage(), e);
        }
        return out;
    }

    /** The value after a key as the option's text: a scalar as written, a list joined with commas, null for null. */
    private static String value(JsonParser p, String at, String key) throws IOException {
        JsonToken t = p.nextToken();
        if (t == JsonToken.START_OBJECT) {
            throw new IllegalArgumentException(at + "key '" + key + "' holds a nested map; options are flat: 'option-name: value' (a list for list options)");
        }
        if (t != JsonToken.START_ARRAY) {
            noAlias(p, at, key);
            return t == JsonToken.VALUE_NULL ? null : p.getText();
        }
        List<String> items = new ArrayList<>();
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t.isStructStart()) throw new IllegalArgumentException(at + "key '" + key + "' holds a list of lists or maps; expected a list of plain values");
            noAlias(p, at, key);
            items.add(p.getText());
        }
        return String.join(",", items);
    }

    /** Jackson's tree of a YAML alias is the anchor's name, not its value: refuse rather than pass 'k' on. */
    private static void noAlias(JsonParser p, String at, String key) throws IOException {
        if (p instanceof YAMLParser y && y.isCurrentAlias()) {
            throw new IllegalArgumentException(at + "key '" + key + "': YAML aliases (*" + p.getValueAsString("") + ") are not supported; write the value");
        }
    }

    private static String where(Path file, JsonParser p) {
        int line = p.currentTokenLocation().getLineNr();
        return file + (line > 0 ? ":" + line : "") + ": ";
    }
}
