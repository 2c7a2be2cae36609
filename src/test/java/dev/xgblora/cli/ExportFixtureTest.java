package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Backends;
import dev.xgblora.tensor.Tensor;
import dev.xgblora.train.BertExportFixtures;
import dev.xgblora.train.SavedClassifier;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * The committed classifier exports (fixtures/bert-export: a tiny random BERT with a pooler, exported
 * mean-pooled in the sentence-transformers layout and CLS + pooler as BertForSequenceClassification)
 * against make_expected.py, an independent PyTorch implementation of what sentence-transformers and
 * transformers do with those directories: predict and eval, which take the pooling from the export,
 * agree within 1e-4. The committed files must be what the exporter writes today.
 */
class ExportFixtureTest {
    static final Path ROOT = Path.of("src/test/resources/fixtures/bert-export");
    static final double TOL = 1e-4;
    @TempDir
    Path tmp;

    private static String[] cli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        assertEquals(0, code, err.toString());
        return new String[] {out.toString(), err.toString()};
    }

    private static JsonNode expected() throws Exception {
        return new ObjectMapper().readTree(ROOT.resolve("expected.json").toFile());
    }

    /** max |ours - expected| over every class probability of every sentence. */
    private static double worstDiff(Path model, JsonNode want) throws Exception {
        String out = cli("predict", "--model", model.toString(), "--input", ROOT.resolve("sentences.tsv").toString(),
                "--text-column", "sentence", "--batch-size", "3")[0];
        List<String> lines = out.lines().toList();
        assertEquals(want.size(), lines.size());
        ObjectMapper json = new ObjectMapper();
        double worst = 0;
        for (int i = 0; i < lines.size(); i++) {
            JsonNode p = json.readTree(lines.get(i)).path("probabilities");
            List<String> names = BertExportFixtures.LABELS;
            for (int c = 0; c < names.size(); c++) {
                worst = Math.max(worst, Math.abs(p.path(names.get(c)).asDouble() - want.get(i).get(c).asDouble()));
            }
        }
        return worst;
    }

    @ParameterizedTest
    @ValueSource(strings = {BertExportFixtures.ST_MEAN, BertExportFixtures.HF_CLS})
    void predictAgreesWithTheIndependentLoader(String export) throws Exception {
        double worst = worstDiff(ROOT.resolve(export), expected().path(export).path("probabilities"));
        System.out.printf("%s: predict vs make_expected.py, max |Δp| = %.3g%n", export, worst);
        assertTrue(worst <= TOL, export + ": probabilities differ from the independent loader by " + worst);
    }

    @ParameterizedTest
    @ValueSource(strings = {BertExportFixtures.ST_MEAN, BertExportFixtures.HF_CLS})
    void evalAgreesWithTheIndependentLoader(String export) throws Exception {
        JsonNode m = new ObjectMapper().readTree(cli("eval", "--model", ROOT.resolve(export).toString(), "--data",
                ROOT.resolve("sentences.tsv").toString(), "--text-column", "sentence", "--json")[0]);
        JsonNode want = expected().path(export);
        assertEquals(want.path("accuracy").asDouble(), m.path("accuracy").asDouble(), 1e-12, "accuracy");
        assertEquals(want.path("loss").asDouble(), m.path("loss").asDouble(), TOL, "mean cross-entropy");
    }

    @Test
    void theExportSaysItsPooling() throws Exception {
        // the same export with its Pooling module flipped to CLS predicts something else: the pooling is read from the files
        Path flipped = copy(ROOT.resolve(BertExportFixtures.ST_MEAN), tmp.resolve("flipped"));
        Path pool = flipped.resolve("1_Pooling/config.json");
        Files.writeString(pool, Files.readString(pool).replace("\"pooling_mode_cls_token\" : false", "\"pooling_mode_cls_token\" : true")
                .replace("\"pooling_mode_mean_tokens\" : true", "\"pooling_mode_mean_tokens\" : false"));
        double worst = worstDiff(flipped, expected().path(BertExportFixtures.ST_MEAN).path("probabilities"));
        assertTrue(worst > 0.05, "flipping the pooling changed the probabilities by only " + worst);
    }

    @Test
    void aSequenceClassifierWithoutPoolerIsRefusedUnlessThePoolingIsGiven() throws Exception {
        Path noPooler = copy(ROOT.resolve(BertExportFixtures.HF_CLS), tmp.resolve("no-pooler"));
        Map<String, Tensor> kept = new LinkedHashMap<>();
        try (WeightStore st = WeightStore.open(noPooler)) {
            for (String n : st.names()) if (!n.contains("pooler")) kept.put(n, st.tensor(n).copy());
        }
        SafeTensorsWriter.write(noPooler.resolve("model.safetensors"), kept, Map.of("format", "pt"));
        var e = assertThrows(IllegalArgumentException.class, () -> SavedClassifier.load(noPooler, Backends.defaults(), 32, null));
        assertTrue(e.getMessage().contains("without pooler weights") && e.getMessage().contains("--pooling mean"), e.getMessage());
        try (SavedClassifier c = SavedClassifier.load(noPooler, Backends.defaults(), 32, dev.xgblora.train.EncoderClassifier.PoolingMode.MEAN)) {
            assertEquals(3, c.classes());
        }
    }

    @Test
    void committedExportsAreWhatTheExporterWritesToday() throws Exception {
        Path fresh = tmp.resolve("fresh");
        Map<String, double[][]> inMemory = BertExportFixtures.write(fresh, BertExportFixtures.sentences(ROOT.resolve("sentences.tsv")));
        // end to end: the model as trained (in memory, before export) and the independent loader reading its export agree
        for (var e : inMemory.entrySet()) {
            JsonNode want = expected().path(e.getKey()).path("probabilities");
            double worst = 0;
            for (int i = 0; i < e.getValue().length; i++) {
                for (int c = 0; c < e.getValue()[i].length; c++) worst = Math.max(worst, Math.abs(e.getValue()[i][c] - want.get(i).get(c).asDouble()));
            }
            assertTrue(worst <= TOL, e.getKey() + ": the exported model's loader disagrees with the model that was exported by " + worst);
        }
        for (String d : List.of(BertExportFixtures.BASE, BertExportFixtures.ST_MEAN, BertExportFixtures.HF_CLS)) {
            List<Path> committed;
            try (Stream<Path> s = Files.walk(ROOT.resolve(d))) {
                committed = s.filter(Files::isRegularFile).map(ROOT.resolve(d)::relativize).sorted().toList();
            }
            List<Path> written;
            try (Stream<Path> s = Files.walk(fresh.resolve(d))) {
                written = s.filter(Files::isRegularFile).map(fresh.resolve(d)::relativize).sorted().toList();
            }
            assertEquals(written, committed, d + ": files (regenerate with BertExportFixtures.main and rerun make_expected.py)");
            for (Path f : committed) {
                assertArrayEquals(Files.readAllBytes(fresh.resolve(d).resolve(f)), Files.readAllBytes(ROOT.resolve(d).resolve(f)),
                        d + "/" + f + " differs from what the exporter writes now (regenerate, then rerun make_expected.py)");
            }
        }
    }

    static Path copy(Path from, Path to) throws Exception {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return to;
    }
}
