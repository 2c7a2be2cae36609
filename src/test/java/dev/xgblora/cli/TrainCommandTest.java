package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.WeightStore;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** xgblora train on a tiny BERT: results table, report.html, train-config.json, --json progress, --config, and export of a checkpoint. */
class TrainCommandTest {
    @TempDir
    static Path dir;
    static Path model, data;

    @BeforeAll
    static void setUp() throws Exception {
        model = TinyModelDir.create(dir.resolve("tiny"));
        data = TinyModelDir.sentiment(dir.resolve("toy.tsv"), 48, 2);
    }

    /** Runs the CLI with System.out captured (train prints its progress and table there). */
    private static String run(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        int code;
        try {
            System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
            code = new CommandLine(new Main()).setErr(new PrintWriter(err)).setOut(new PrintWriter(System.out, true)).execute(args);
        } finally {
            System.setOut(saved);
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, err + "\n" + out);
        return out;
    }

    private String[] trainArgs(Path out, String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("train", "--model", model.toString(), "--train", data.toString(), "--valid",
                data.toString(), "--steps", "8", "--kappa", "2", "--batch-size", "8", "--lr", "1e-2", "--head-lr", "1e-2",
                "--log-every", "1", "--output", out.toString()));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void trainPrintsTheTableAndWritesReportSettingsAndExports() throws Exception {
        Path out = dir.resolve("run");
        String stdout = run(trainArgs(out, "--quiet", "--checkpoint-every", "4"));
        assertFalse(stdout.contains("step 1/8"), "--quiet shows no progress: " + stdout);
        for (String row : List.of("accuracy (before → after)", "F1 (before → after)", "steps", "wall time", "training tokens/s",
                "trainable params per step", "trainable params cumulative", "report", "merged model", "PEFT adapter")) {
            assertTrue(stdout.contains(row), row + " missing in\n" + stdout);
        }
        String html = Files.readString(out.resolve("report.html"));
        assertEquals(4, count(html, "class=\"cell\""), "4 rounds x L_s=1 (a third of 3 layers)");
        assertEquals(4, count(html, "class=\"bar\""));
        assertTrue(html.contains("id=\"metric-chart\"") && html.contains("id=\"settings\""));
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("train-config.json").toFile());
        assertEquals("8", cfg.get("steps").asText());
        assertEquals(data.toAbsolutePath().toString(), cfg.get("train").asText());
        assertTrue(Files.isRegularFile(out.resolve("merged/model.safetensors")));

        // export the step-4 checkpoint: two rounds merged, as a model and as an adapter
        Path exp = dir.resolve("exp");
        String msg = run("export", "--checkpoint", out.resolve("checkpoints").toString(), "--output", exp.toString());
        assertTrue(msg.contains("step 4"), msg);
        try (WeightStore a = WeightStore.open(exp.resolve("adapter/adapter_model.safetensors"));
             WeightStore m = WeightStore.open(exp.resolve("merged/2_Dense/model.safetensors"));
             WeightStore fin = WeightStore.open(out.resolve("merged/2_Dense/model.safetensors"))) {
            assertTrue(a.names().stream().anyMatch(n -> n.contains("lora_A")), a.names().toString());
            assertTrue(m.has("linear.weight"), "the head of the mean-pooled export is its sentence-transformers Dense module");
            float[] mid = m.tensor("linear.weight").toFloatArray(), end = fin.tensor("linear.weight").toFloatArray();
            assertFalse(java.util.Arrays.equals(mid, end), "the step-4 head differs from the step-8 head");
        }
    }

    @Test
    void exportOfACheckpointInsideARoundNeedsNoDataAndMergesEveryBoosterAsSaved() throws Exception {
        Path copy = dir.resolve("moved.tsv"), out = dir.resolve("open");
        Files.copy(data, copy);
        List<String> args = new java.util.ArrayList<>(List.of(trainArgs(out, "--quiet", "--no-export", "--checkpoint-every", "4")));
        args.set(args.indexOf(data.toString()), copy.toString());
        args.set(args.indexOf("--kappa") + 1, "3");
        run(args.toArray(String[]::new));
        Files.delete(copy); // the data is gone; the export must not need it
        Path ckpt = out.resolve("checkpoints/checkpoint-4"), exp = dir.resolve("open-exp");
        run("export", "--checkpoint", ckpt.toString(), "--output", exp.toString());

        // expected: base + every saved booster (factor from state.json) + the open round's adapters at alpha/r = 16
        JsonNode meta = new ObjectMapper().readTree(ckpt.resolve("state.json").toFile());
        assertTrue(meta.get("round_open").asBoolean(), "step 4 lies inside round 1 (steps 3..5)");
        java.util.Map<String, float[]> expected = new java.util.HashMap<>();
        try (WeightStore base = WeightStore.open(model); WeightStore st = WeightStore.open(ckpt.resolve("state.safetensors"))) {
            JsonNode bs = meta.get("boosters");
            for (int i = 0; i < bs.size(); i++) {
                addProduct(expected, base, bs.get(i).get("module").asText(), st.tensor("booster/" + i + "/a").toFloatArray(),
                        st.tensor("booster/" + i + "/b").toFloatArray(), (float) bs.get(i).get("factor").asDouble());
            }
            int open = 0;
            for (String n : st.names()) {
                if (!n.startsWith("round/") || !n.endsWith(".lora_A.weight")) continue;
                String module = n.substring(6, n.length() - ".lora_A.weight".length());
                addProduct(expected, base, module, st.tensor(n).toFloatArray(), st.tensor("round/" + module + ".lora_B.weight").toFloatArray(), 16f);
                open++;
            }
            assertTrue(bs.size() > 0 && open > 0, bs.size() + " merged boosters, " + open + " open adapters");
        }
        try (WeightStore m = WeightStore.open(exp.resolve("merged/model.safetensors"))) {
            for (var e : expected.entrySet()) {
                String name = m.has(e.getKey()) ? e.getKey() : "bert." + e.getKey();
                float[] got = m.tensor(name).toFloatArray();
                for (int i = 0; i < got.length; i++) assertEquals(e.getValue()[i], got[i], 1e-6f, name + "[" + i + "]");
            }
        }
        assertTrue(Files.isRegularFile(exp.resolve("adapter/adapter_model.safetensors")));
    }

    /** expected[module.weight] (starting from the base weight) += factor · B·A. */
    private static void addProduct(java.util.Map<String, float[]> expected, WeightStore base, String module, float[] a, float[] b, float factor) {
        String w = module + ".weight";
        float[] v = expected.computeIfAbsent(w, n -> base.tensor(n).toFloatArray());
        int in = a.length, out = b.length; // rank 1
        for (int i = 0; i < out; i++) for (int j = 0; j < in; j++) v[i * in + j] += factor * b[i] * a[j];
    }

    @Test
    void jsonProgressIsOneObjectPerLineEndingWithTheFinalRecord() throws Exception {
        String stdout = run(trainArgs(dir.resolve("json"), "--json", "--no-export"));
        List<JsonNode> ev = new java.util.ArrayList<>();
        for (String l : stdout.lines().toList()) ev.add(new ObjectMapper().readTree(l));
        assertEquals(8, ev.stream().filter(n -> n.get("type").asText().equals("step")).count());
        assertEquals(4, ev.stream().filter(n -> n.get("type").asText().equals("round")).count());
        JsonNode fin = ev.get(ev.size() - 1);
        assertEquals("final", fin.get("type").asText());
        assertEquals(8, fin.get("steps").asInt());
        assertTrue(fin.has("before_accuracy") && fin.has("after_accuracy"));
        assertTrue(fin.get("merged").isNull(), "--no-export");
    }

    @Test
    void configFileFillsTrainOptionsAndFlagsWin() throws Exception {
        Path f = dir.resolve("run.yaml");
        Files.writeString(f, "method: lora\nrank: 4\nkappa: 7\nsteps: 100\ntargets: [query, value]\nbucket: true\n");
        TrainCommand t = new TrainCommand();
        new CommandLine(t).parseArgs("--config", f.toString(), "--steps", "5", "--model", model.toString());
        assertEquals("lora", t.method);
        assertEquals(4, t.rank);
        assertEquals(7, t.kappa);
        assertEquals(5, t.steps);
        assertEquals(List.of("query", "value"), t.targets);
        assertTrue(t.bucket);
        assertEquals(5e-4, t.job().train().lr, 0, "lora's default learning rate");
        assertEquals(5e-4, t.job().train().effectiveHeadLr(), 0, "the default head learning rate");
        TrainCommand head = new TrainCommand();
        new CommandLine(head).parseArgs("--method", "head", "--model", model.toString());
        assertEquals(1e-3, head.job().train().effectiveHeadLr(), 0, "head-only trains its head faster by default");
        assertEquals(Preset.HEAD, head.job().boost().preset);
    }

    private static int count(String s, String needle) {
        Matcher m = Pattern.compile(Pattern.quote(needle)).matcher(s);
        int n = 0;
        while (m.find()) n++;
        return n;
    }
}
