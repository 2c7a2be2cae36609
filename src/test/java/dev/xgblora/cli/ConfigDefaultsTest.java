package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

class ConfigDefaultsTest {
    @TempDir
    Path dir;

    @Command(name = "toy", defaultValueProvider = ConfigDefaults.class)
    static final class Toy implements Runnable {
        @Option(names = "--config") Path config;
        @Option(names = "--steps", defaultValue = "0") int steps;
        @Option(names = "--lr", defaultValue = "1e-3") double lr;
        @Option(names = {"--steps-per-booster", "--kappa"}, defaultValue = "0") int kappa;
        @Option(names = "--targets", split = ",", defaultValue = "all") List<String> targets;
        @Option(names = "--bucket") boolean bucket;
        @Option(names = "--method", defaultValue = "xgblora") String method;

        @Override
        public void run() {
        }
    }

    private static Toy parse(String... args) {
        Toy t = new Toy();
        new CommandLine(t).parseArgs(args);
        return t;
    }

    @Test
    void jsonValuesFillOptionsAndTheCommandLineWins() throws Exception {
        Path f = dir.resolve("run.json");
        Files.writeString(f, "{\"steps\": 300, \"lr\": 5e-4, \"kappa\": 25, \"targets\": [\"query\", \"value\"], \"bucket\": true}");
        Toy t = parse("--config", f.toString(), "--steps", "7");
        assertEquals(7, t.steps, "command line overrides the file");
        assertEquals(5e-4, t.lr);
        assertEquals(25, t.kappa, "alias key");
        assertEquals(List.of("query", "value"), t.targets);
        assertTrue(t.bucket);
        assertEquals("xgblora", t.method, "keys absent from the file keep the built-in default");
        Toy order = parse("--steps", "7", "--config", f.toString());
        assertEquals(7, order.steps, "regardless of where --config stands");
        assertEquals(0, parse().steps, "no file, built-in defaults");
    }

    @Test
    void yamlThroughARealParser() throws Exception {
        Path f = dir.resolve("full.yml");
        Files.writeString(f, """
                %YAML 1.2
                ---
                base: 40
                steps-per-booster: '40'   # a quoted number
                method: "lo\\x72a"  # double-quoted escape: lora
                targets: [query,
                          value]      # a flow list over two lines
                lr: 0.0005
                bucket: true
                """);
        assertEquals("unknown key 'base'", assertThrows(IllegalArgumentException.class,
                () -> ConfigDefaults.load(f, new CommandLine(new Toy()).getCommandSpec())).getMessage().replaceAll(".*(unknown key 'base').*", "$1"));
        Files.writeString(f, Files.readString(f).replace("base: 40", "steps: 40"));
        Toy t = parse("--config", f.toString());
        assertEquals(40, t.steps);
        assertEquals(40, t.kappa, "alias key, quoted number");
        assertEquals("lora", t.method);
        assertEquals(List.of("query", "value"), t.targets);
        assertEquals(5e-4, t.lr);
        assertTrue(t.bucket);
        Files.writeString(f, "# nothing but a comment\n");
        assertEquals(0, parse("--config", f.toString()).steps, "an empty file sets nothing");
    }

    @Test
    void yamlFlatSubset() throws Exception {
        Path f = dir.resolve("run.yaml");
        Files.writeString(f, """
                # the default recipe
                method: 'lora'   # quoted
                steps-per-booster: 50
                lr: 5e-4
                targets:
                  - query
                  - value
                """);
        Toy t = parse("--config", f.toString());
        assertEquals("lora", t.method);
        assertEquals(50, t.kappa);
        assertEquals(5e-4, t.lr);
        assertEquals(List.of("query", "value"), t.targets);
        Files.writeString(f, "targets: [key, 'output']\n");
        assertEquals(List.of("key", "output"), parse("--config", f.toString()).targets);
    }

    @Test
    void unknownKeysAndNestingAreErrorsNamingTheFile() throws Exception {
        Path f = dir.resolve("bad.json");
        Files.writeString(f, "{\"stepz\": 3}");
        String err = run(f);
        assertTrue(err.contains("bad.json") && err.contains("unknown key 'stepz'"), err);
        Path y = dir.resolve("bad.yaml");
        Files.writeString(y, "method: xgblora\nboost:\n  rank: 1\n");
        err = run(y);
        assertTrue(err.contains("bad.yaml:2") && err.contains("'boost' holds a nested map"), err);
        Files.writeString(y, "method: xgblora\ntargets:\n  - name: query\n");
        err = run(y);
        assertTrue(err.contains("bad.yaml:2") && err.contains("'targets' holds a list of lists or maps"), err);
        Files.writeString(y, "method: xgblora\nsteps: [1, 2\nlr: 3\n");
        err = run(y);
        assertTrue(err.contains("bad.yaml:") && err.contains("not valid YAML"), err);
        Files.writeString(y, "steps: &s 4\nsteps-per-booster: *s\n");
        err = run(y);
        assertTrue(err.contains("bad.yaml:2") && err.contains("aliases (*s) are not supported"), err);
        Files.writeString(y, "- steps\n- lr\n");
        err = run(y);
        assertTrue(err.contains("bad.yaml:1") && err.contains("expected a YAML map"), err);
        err = run(dir.resolve("missing.json"));
        assertTrue(err.contains("does not exist"), err);
    }

    private static String run(Path config) {
        StringWriter sw = new StringWriter();
        CommandLine cl = new CommandLine(new Toy());
        cl.setErr(new PrintWriter(sw));
        int code = cl.execute("--config", config.toString());
        assertNotEquals(0, code);
        return sw.toString();
    }
}
