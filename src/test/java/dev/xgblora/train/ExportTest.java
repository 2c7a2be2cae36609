package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.MergeMode;
import dev.xgblora.adapt.PeftAdapter;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.BertEncoder;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportTest {
    @TempDir
    Path dir;

    private Path baseDir() throws Exception {
        Path base = dir.resolve("base");
        Files.createDirectories(base);
        Files.writeString(base.resolve("config.json"), "{\"model_type\":\"bert\",\"hidden_size\":16,\"num_hidden_layers\":3}");
        Files.writeString(base.resolve("tokenizer.json"), "{}");
        return base;
    }

    private static Batch batch() {
        List<Example> ex = List.of(Example.classify("good film the plot", null, 1, 1), Example.classify("bad", null, 0, 2),
                Example.classify("a scene was good bad actor", null, 1, 3));
        return TinyModels.data(new Dataset(Path.of("x"), Task.CLASSIFY, ex, new LabelMap(), 0)).batch(new int[] {0, 1, 2});
    }

    @Test
    void mergedDirectoryAndBasePlusAdapterReproduceTheTrainedModel() throws Exception {
        mergedDirectoryAndAdapterReproduce(MergeMode.AUTO);
    }

    @Test
    void factoredBoostersAreFoldedIntoTheMergedDirectory() throws Exception {
        mergedDirectoryAndAdapterReproduce(MergeMode.FACTORED);
    }

    private void mergedDirectoryAndAdapterReproduce(MergeMode mode) throws Exception {
        Trainer t = new Trainer(TinyModels.classifier(11), TinyModels.data(TinyModels.sentiment(48, 1)), null,
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(3).layersPerRound(2).merge(mode), TrainerTest.cfg(9).lr(3e-2), new ReferenceKernels());
        t.run();
        EncoderClassifier trained = (EncoderClassifier) t.model();
        assertEquals(mode == MergeMode.FACTORED, trained.linears().stream().anyMatch(l -> l.mergedFactors() != null), "factors kept");
        Batch b = batch();
        trained.predict(b);
        float[] want = trained.lastLogits().toFloatArray();

        Path base = baseDir();
        LabelMap labels = new LabelMap();
        labels.idOf("0");
        labels.idOf("1");
        Path merged = dir.resolve("merged");
        ModelExport.writeMerged(trained, merged, base, t.sourceDtypes(), null, labels);
        JsonNode cfg = new ObjectMapper().readTree(merged.resolve("config.json").toFile());
        // mean pooling: the sentence-transformers layout (a BertModel + Pooling + Dense head), not BertForSequenceClassification
        assertEquals("BertModel", cfg.path("architectures").get(0).asText());
        assertEquals("1", cfg.path("id2label").path("1").asText());
        SentenceTransformersLayout.Read st = SentenceTransformersLayout.read(merged);
        assertEquals(EncoderClassifier.PoolingMode.MEAN, st.pooling());
        try (WeightStore ws = WeightStore.open(merged)) {
            assertTrue(ws.has("encoder.layer.0.attention.self.query.weight"));
            assertFalse(ws.has("classifier.weight"), "the head lives in 2_Dense");
            EncoderClassifier reloaded = new EncoderClassifier(new BertEncoder(TinyModels.CFG, n -> ws.has(n) ? ws.tensor(n) : null, new ReferenceKernels()), 2,
                    st.pooling(), 0);
            reloaded.head().weight().value().copyFrom(st.head().get("classifier.weight"));
            reloaded.head().bias().value().copyFrom(st.head().get("classifier.bias"));
            reloaded.predict(b);
            assertClose(want, reloaded.lastLogits().toFloatArray(), "merged directory");
        }
        assertThrows(IllegalArgumentException.class, () -> ModelExport.writeMerged(trained, merged, base, t.sourceDtypes(), null, labels));

        Path adapter = dir.resolve("adapter");
        ModelExport.writeAdapter(trained, t.scheduler().boosters(), adapter, base);
        JsonNode ac = new ObjectMapper().readTree(adapter.resolve(PeftAdapter.CONFIG).toFile());
        assertEquals("LORA", ac.path("peft_type").asText());
        assertEquals("FEATURE_EXTRACTION", ac.path("task_type").asText(), "over the BertModel of the sentence-transformers layout");
        assertEquals("../base", ac.path("base_model_name_or_path").asText(), "no hub id: the base's path relative to the adapter");
        assertTrue(ac.path("modules_to_save").isNull());
        assertTrue(Files.isRegularFile(adapter.resolve(ModelExport.ADAPTER_HEAD)));
        try (WeightStore st2 = WeightStore.open(adapter.resolve(PeftAdapter.WEIGHTS))) {
            // 3 rounds x 2 of 3 layers: some module was touched by k >= 2 boosters, stacked
            int maxK = 0;
            for (String n : st2.names()) {
                assertTrue(n.startsWith("base_model.model.encoder.layer."), n);
                if (!n.endsWith(".lora_A.weight")) continue;
                String path = n.substring("base_model.model.".length(), n.length() - ".lora_A.weight".length());
                int k = (int) st2.shape(n)[0];
                assertEquals(k, ac.path("rank_pattern").path(path).asInt());
                assertEquals(k, ac.path("alpha_pattern").path(path).asInt(), "scaling 1");
                assertEquals(k, st2.shape("base_model.model." + path + ".lora_B.weight")[1]);
                maxK = Math.max(maxK, k);
            }
            assertTrue(maxK >= 2, "stacked boosters");
        }
        EncoderClassifier fresh = TinyModels.classifier(11);
        int attached = ModelExport.loadAdapter(fresh, adapter);
        assertTrue(attached > 0);
        fresh.predict(b);
        assertClose(want, fresh.lastLogits().toFloatArray(), "base + adapter");
    }

    @Test
    void bf16BaseIsWrittenBackAsBf16UnlessAsked() throws Exception {
        Map<String, Tensor> w = TinyModels.bertWeights(3, DType.BF16);
        EncoderClassifier m = new EncoderClassifier(TinyModels.bert(w, new ReferenceKernels()), 2, EncoderClassifier.PoolingMode.CLS, 1);
        Trainer t = new Trainer(m, TinyModels.data(TinyModels.sentiment(16, 1)), null, BoostConfig.of(Preset.LORA),
                TrainerTest.cfg(2), new ReferenceKernels());
        t.run();
        Path base = baseDir();
        ModelExport.writeMerged(m, dir.resolve("a"), base, t.sourceDtypes(), null, null);
        ModelExport.writeMerged(m, dir.resolve("b"), base, t.sourceDtypes(), DType.F32, null);
        try (WeightStore a = WeightStore.open(dir.resolve("a")); WeightStore f = WeightStore.open(dir.resolve("b"))) {
            String q = "encoder.layer.0.attention.self.query.weight"; // CLS without a pooler: sentence-transformers layout, plain BertModel names
            assertEquals("BF16", a.dtypeName(q));
            assertEquals("F32", f.dtypeName(q));
            assertEquals("F32", a.dtypeName("embeddings.word_embeddings.weight"), "embeddings were F32 in the source");
        }
    }

    private static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5, what + " logit " + i);
    }
}
