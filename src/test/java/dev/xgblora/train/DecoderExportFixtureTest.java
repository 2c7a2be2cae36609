package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Llama sequence classifier export (fixtures/decoder-export/llama-seqcls, from the llama3-gqa
 * fixture with a random 3-class score head) against make_expected.py, an independent PyTorch
 * implementation of transformers' LlamaForSequenceClassification: score on the hidden state of
 * each row's last token that is not config.json's pad_token_id. Right-padded rows of different
 * lengths; logits agree within 1e-4.
 */
class DecoderExportFixtureTest {
    static final Path ROOT = Path.of("src/test/resources/fixtures/decoder-export");
    static final Path LLAMA = Path.of("src/test/resources/fixtures/llama/llama3-gqa");
    static final int CLASSES = 3;
    @TempDir
    Path tmp;

    /** Regenerates the export: {@code java ... DecoderExportFixtureTest} from the repository root, then rerun make_expected.py. */
    public static void main(String[] args) throws Exception {
        export(ROOT.resolve("llama-seqcls"));
    }

    static void export(Path out) {
        ModelConfig mc = ModelConfig.load(LLAMA);
        try (WeightStore store = WeightStore.open(LLAMA)) {
            TaskModel m = FineTune.build(mc, store, new ReferenceKernels(), Task.CLASSIFY, CLASSES, new TrainConfig().seed(4));
            Random r = new Random(4);
            for (Param p : m.headParams()) {
                Tensor v = p.ensureWritableF32();
                for (long i = 0; i < v.numel(); i++) v.set(i, (float) r.nextGaussian());
            }
            Map<String, Integer> labels = new LinkedHashMap<>();
            for (int c = 0; c < CLASSES; c++) labels.put("c" + c, c);
            ModelExport.writeMerged(m, out, LLAMA, ModelExport.sourceDtypes(m), null, LabelMap.of(labels));
        }
    }

    @Test
    void scoreOnTheLastNonPaddingTokenMatchesTransformersSemantics() throws Exception {
        Path dir = ROOT.resolve("llama-seqcls");
        JsonNode want = new ObjectMapper().readTree(ROOT.resolve("expected.json").toFile());
        JsonNode rows = want.path("ids");
        ModelConfig mc = ModelConfig.load(dir);
        assertEquals("LlamaForSequenceClassification", new ObjectMapper().readTree(dir.resolve("config.json").toFile())
                .path("architectures").get(0).asText());
        int b = rows.size(), t = 0;
        for (JsonNode row : rows) t = Math.max(t, row.size());
        int[] ids = new int[b * t], mask = new int[b * t];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < rows.get(i).size(); j++) {
                ids[i * t + j] = rows.get(i).get(j).asInt();
                mask[i * t + j] = 1;
            }
        }
        try (WeightStore store = WeightStore.open(dir)) {
            DecoderClassifier m = (DecoderClassifier) FineTune.build(mc, store, new ReferenceKernels(), Task.CLASSIFY, CLASSES, new TrainConfig());
            m.head().weight().ensureWritableF32().copyFrom(store.tensor("score.weight"));
            m.predict(new Batch(new EncodedBatch(ids, mask, null, b, t), new int[b]));
            double worst = 0;
            for (int i = 0; i < b; i++) {
                for (int c = 0; c < CLASSES; c++) worst = Math.max(worst, Math.abs(m.lastLogits().get(i, c) - want.path("logits").get(i).get(c).asDouble()));
            }
            System.out.printf("llama seq-cls export vs make_expected.py: max |Δlogit| = %.3g%n", worst);
            assertTrue(worst <= 1e-4, "logits differ from transformers' semantics by " + worst);
        }
    }

    @Test
    void committedExportIsWhatTheExporterWritesToday() throws Exception {
        Path fresh = tmp.resolve("fresh");
        export(fresh);
        // (xgblora-base.json is left out: it holds the base's path relative to where the export was written)
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            assertArrayEquals(Files.readAllBytes(fresh.resolve(f)), Files.readAllBytes(ROOT.resolve("llama-seqcls").resolve(f)),
                    f + " differs from what the exporter writes now (regenerate, rerun make_expected.py)");
        }
        assertEquals(ModelExport.recordedBaseSha256(ROOT.resolve("llama-seqcls")), ModelExport.recordedBaseSha256(fresh));
    }
}
