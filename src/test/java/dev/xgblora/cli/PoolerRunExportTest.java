package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.PeftAdapter;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.train.BertExportFixtures;
import dev.xgblora.train.EncoderClassifier;
import dev.xgblora.train.FineTuneBuilder;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A run with --pooling cls on a model that has BERT's pooler (the fixture base): its merged/ is a
 * BertForSequenceClassification whose pooler trained with the head, eval of it reproduces the run's
 * final evaluation with the pooling read from the export, and the adapter is SEQ_CLS with the pooler
 * and classifier in modules_to_save.
 */
class PoolerRunExportTest {
    @TempDir
    Path dir;

    @Test
    void clsPoolerRunExportsABertForSequenceClassificationThatEvaluatesTheSame() throws Exception {
        Path base = dir.resolve("base");
        BertExportFixtures.writeBase(base);
        Random r = new Random(3);
        StringBuilder tsv = new StringBuilder("label\tsentence\n");
        String[] pos = {"good", "great", "fine"}, neg = {"bad", "dull", "boring"}, filler = {"the", "film", "was", "very", "plot", "it"};
        for (int i = 0; i < 48; i++) {
            boolean p = r.nextBoolean();
            tsv.append(p ? "positive" : "negative").append('\t').append(filler[r.nextInt(6)]).append(' ').append(filler[r.nextInt(6)])
                    .append(' ').append((p ? pos : neg)[r.nextInt(3)]).append('\n');
        }
        Path data = Files.writeString(dir.resolve("toy.tsv"), tsv);
        FineTuneBuilder.Outcome run = FineTuneBuilder.model(base).trainFile(data).validFile(data)
                .method(Preset.XGBLORA, b -> b.stepsPerRound(4).layersPerRound(1))
                .settings(c -> c.steps(16).batchSize(8).lr(1e-2).headLr(1e-2).logEvery(4).pooling(EncoderClassifier.PoolingMode.CLS))
                .kernels(new ReferenceKernels()).output(dir.resolve("run")).run();
        JsonNode cfg = new ObjectMapper().readTree(run.merged().resolve("config.json").toFile());
        assertEquals("BertForSequenceClassification", cfg.path("architectures").get(0).asText());
        assertFalse(Files.exists(run.merged().resolve("modules.json")));
        try (WeightStore m = WeightStore.open(run.merged()); WeightStore b = WeightStore.open(base)) {
            assertTrue(m.has("bert.encoder.layer.0.attention.self.query.weight") && m.has("classifier.weight"));
            assertFalse(java.util.Arrays.equals(m.tensor("bert.pooler.dense.weight").toFloatArray(), b.tensor("pooler.dense.weight").toFloatArray()),
                    "the pooler trained with the head");
        }
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertEquals(0, new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute("eval", "--model", run.merged().toString(), "--data", data.toString(), "--json"), err.toString());
        JsonNode e = new ObjectMapper().readTree(out.toString());
        assertEquals(run.after().loss(), e.path("loss").asDouble(), 1e-5, "eval of the export, pooling from the export");
        assertEquals(run.after().accuracy(), e.path("accuracy").asDouble(), 1e-12);

        JsonNode ac = new ObjectMapper().readTree(run.adapter().resolve(PeftAdapter.CONFIG).toFile());
        assertEquals("SEQ_CLS", ac.path("task_type").asText());
        assertEquals("[\"classifier\",\"bert.pooler.dense\"]", ac.path("modules_to_save").toString());
        try (WeightStore a = WeightStore.open(run.adapter().resolve(PeftAdapter.WEIGHTS))) {
            assertTrue(a.has("base_model.model.bert.pooler.dense.weight") && a.has("base_model.model.classifier.weight"), a.names().toString());
        }
    }
}
