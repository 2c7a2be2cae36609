package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.Preset;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.train.FineTuneBuilder;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The Java API trains a tiny model; eval and predict read its merged export and agree with the run's own evaluation. */
class EvalPredictCommandTest {
    @TempDir
    static Path dir;
    static FineTuneBuilder.Outcome run;
    static Path data;

    @BeforeAll
    static void train() throws Exception {
        Path model = TinyModelDir.create(dir.resolve("tiny"));
        data = TinyModelDir.sentiment(dir.resolve("toy.tsv"), 64, 1);
        run = FineTuneBuilder.model(model).trainFile(data).validFile(data)
                .method(Preset.XGBLORA, b -> b.stepsPerRound(4).layersPerRound(2))
                .settings(c -> c.steps(24).batchSize(8).lr(1e-2).headLr(1e-2).logEvery(4))
                .kernels(new ReferenceKernels()).output(dir.resolve("run")).run();
    }

    @Test
    void apiOutcomeHasBeforeAfterMetricsAndEveryOutput() {
        assertNotNull(run.before());
        assertNotNull(run.after());
        assertEquals(24, run.steps());
        assertEquals(6, run.rounds());
        assertTrue(run.after().loss() < run.before().loss(), "training lowers the loss on its own data: " + run.before().loss()
                + " -> " + run.after().loss());
        assertTrue(run.trainableParamsPerStep() > 0 && run.cumulativeTrainableParams() >= run.trainableParamsPerStep());
        for (Path p : List.of(run.merged().resolve("model.safetensors"), run.adapter().resolve("adapter_config.json"), run.runLog())) {
            assertTrue(Files.isRegularFile(p), p.toString());
        }
    }

    private static String[] cli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        assertEquals(0, code, err.toString());
        return new String[] {out.toString(), err.toString()};
    }

    @Test
    void evalOfTheMergedModelReproducesTheRunsFinalEvaluation() throws Exception {
        JsonNode m = new ObjectMapper().readTree(cli("eval", "--model", run.merged().toString(), "--data", data.toString(), "--json")[0]);
        assertEquals(run.after().accuracy(), m.get("accuracy").asDouble(), 1e-12);
        assertEquals(run.after().loss(), m.get("loss").asDouble(), 1e-5);
        assertEquals(64, m.get("count").asInt());
        assertTrue(cli("eval", "--model", run.merged().toString(), "--data", data.toString())[0].contains("accuracy"));
    }

    @Test
    void predictWritesOneLinePerTextWithProbabilitiesThatAgreeWithEval() throws Exception {
        Path out = dir.resolve("pred.jsonl");
        cli("predict", "--model", run.merged().toString(), "--input", data.toString(), "--output", out.toString());
        List<String> lines = Files.readAllLines(out);
        assertEquals(64, lines.size());
        List<String> truth = Files.readAllLines(data).subList(1, 65).stream().map(l -> l.split("\t")[0]).toList();
        int correct = 0;
        ObjectMapper json = new ObjectMapper();
        for (int i = 0; i < lines.size(); i++) {
            JsonNode n = json.readTree(lines.get(i));
            double p0 = n.get("probabilities").get("0").asDouble(), p1 = n.get("probabilities").get("1").asDouble();
            assertEquals(1.0, p0 + p1, 1e-9);
            assertEquals(p1 > p0 ? "1" : "0", n.get("label").asText());
            assertEquals(i + 2, n.get("line").asInt(), "file line of the text");
            if (n.get("label").asText().equals(truth.get(i))) correct++;
        }
        assertEquals(run.after().accuracy(), correct / 64.0, 1e-12);

        Path txt = dir.resolve("texts.txt");
        Files.writeString(txt, "a wonderful film\n\nboring plot\n");
        String[] stdout = cli("predict", "--model", run.merged().toString(), "--input", txt.toString());
        assertEquals(2, stdout[0].lines().count(), "blank lines skipped, JSONL on standard output");
    }

    @Test
    void predictReadsSentencePairsAndScoresThemAsPairs() throws Exception {
        Path tsv = dir.resolve("pairs.tsv"), jsonl = dir.resolve("pairs.jsonl");
        List<String> a = List.of("a wonderful film", "boring plot", "great acting"), b = List.of("truly awful", "yet moving", "fine");
        StringBuilder t = new StringBuilder("sentence1\tsentence2\tlabel\n"), j = new StringBuilder();
        for (int i = 0; i < a.size(); i++) {
            t.append(a.get(i)).append('\t').append(b.get(i)).append("\t0\n");
            j.append("{\"sentence1\":\"").append(a.get(i)).append("\",\"sentence2\":\"").append(b.get(i)).append("\"}\n");
        }
        Files.writeString(tsv, t);
        Files.writeString(jsonl, j);
        List<dev.xgblora.train.SavedClassifier.Scored> pairs, singles;
        try (var c = dev.xgblora.train.SavedClassifier.load(run.merged(), dev.xgblora.kernels.Backends.defaults(), 64,
                dev.xgblora.train.EncoderClassifier.PoolingMode.MEAN)) {
            pairs = c.predict(a, b, 64);
            singles = c.predict(a, null, 64);
        }
        ObjectMapper json = new ObjectMapper();
        for (Path in : List.of(tsv, jsonl)) {
            List<String> lines = cli("predict", "--model", run.merged().toString(), "--input", in.toString(),
                    "--text-column", "sentence1", "--pair-column", "sentence2")[0].lines().toList();
            assertEquals(a.size(), lines.size(), in.toString());
            for (int i = 0; i < a.size(); i++) {
                JsonNode n = json.readTree(lines.get(i));
                assertEquals(b.get(i), n.get("pair").asText());
                assertEquals(pairs.get(i).probabilities()[1], n.get("probabilities").get("1").asDouble(), 1e-12, in + " row " + i);
            }
        }
        boolean differs = false;
        for (int i = 0; i < a.size(); i++) differs |= Math.abs(pairs.get(i).probabilities()[1] - singles.get(i).probabilities()[1]) > 1e-6;
        assertTrue(differs, "the second sentence changes the prediction");
    }

    @Test
    void aModelWithoutHeadIsRefusedClearly() {
        StringWriter err = new StringWriter();
        int code = new CommandLine(new Main()).setErr(new PrintWriter(err)).setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println(e.getMessage());
            return 1;
        }).execute("eval", "--model", dir.resolve("tiny").toString(), "--data", data.toString());
        assertEquals(1, code);
        assertTrue(err.toString().contains("no classifier.weight"), err.toString());
    }
}
