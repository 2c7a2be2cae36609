package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.ModelCache;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.BertConfig;
import dev.xgblora.model.BertEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole job on the real all-MiniLM-L6-v2: a few XGBLoRA steps, exports, and both exports reproduce the trained model. */
class FineTuneMiniLmTest {
    @TempDir
    Path dir;

    @Test
    void xgbloraJobOnMiniLmExportsAMergedModelAndAnAdapterThatAgree() throws Exception {
        assumeTrue(getClass().getResource("/all-minilm-l6-v2.onnx") != null, "all-minilm-l6-v2 jar not on the class path: skipped");
        Path model = ModelCache.miniLm(); // imported into the tests' own cache when absent; a failing import fails the test
        StringBuilder tsv = new StringBuilder("label\tsentence\n");
        String[] pos = {"a wonderful film", "great acting and a moving story", "i loved it", "charming and funny"};
        String[] neg = {"a dull mess", "boring and far too long", "i hated it", "the plot makes no sense"};
        for (int i = 0; i < 16; i++) tsv.append("1\t").append(pos[i % 4]).append('\n').append("0\t").append(neg[i % 4]).append('\n');
        Path train = dir.resolve("train.tsv");
        Files.writeString(train, tsv.toString());
        Path out = dir.resolve("run");
        Kernels k = Backends.defaults();
        TrainConfig cfg = new TrainConfig().steps(4).batchSize(8).maxLength(16).lr(1e-3).headLr(5e-4).logEvery(1).checkpointEvery(2);
        FineTune.Result r = FineTune.run(new FineTune.Job(model, train, train, DataOptions.classify(),
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(2), cfg, out, false, true, true), k, ProgressListener.NONE);
        assertNotNull(r.eval());
        assertEquals(4, r.trainer().losses().size());
        for (String f : List.of("run.jsonl", "labels.json", "merged/config.json", "merged/model.safetensors", "merged/tokenizer.json",
                "adapter/adapter_model.safetensors", "adapter/adapter_config.json")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        assertNotNull(Checkpoint.latest(out.resolve("checkpoints")));
        var adapterConfig = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("adapter/adapter_config.json").toFile());
        assertEquals(dev.xgblora.io.ModelIdentity.MINILM_HUB_ID, adapterConfig.path("base_model_name_or_path").asText());
        assertEquals(dev.xgblora.io.ModelIdentity.sha256(model), ModelExport.recordedBaseSha256(out.resolve("adapter")));

        // the job closed its mapped weights; the exports must reproduce what it evaluated
        try (Tokenizer tok = Tokenizer.load(model)) {
            TaskData data = new TaskData(DatasetReader.read(train, DataOptions.classify()), new TokenizerEncoder(tok), 16);
            Batch b = data.batch(new int[] {0, 1, 2, 3});
            float[] viaMerged;
            try (WeightStore merged = WeightStore.open(out.resolve("merged"))) {
                EncoderClassifier m = new EncoderClassifier(BertEncoder.fromStore(BertConfig.from(ModelConfig.load(out.resolve("merged"))),
                        merged, k), 2, EncoderClassifier.PoolingMode.MEAN, 0);
                var head = SentenceTransformersLayout.read(out.resolve("merged")).head();
                m.head().weight().value().copyFrom(head.get("classifier.weight"));
                m.head().bias().value().copyFrom(head.get("classifier.bias"));
                double lossSum = 0;
                int n = 0;
                for (Batch e : data.sequentialBatches(cfg.evalBatchSize)) {
                    TaskModel.Prediction p = m.predict(e);
                    lossSum += p.lossSum();
                    n += p.count();
                }
                assertEquals(r.eval().loss(), lossSum / n, 1e-5, "merged model's loss equals the trained model's final eval loss");
                m.predict(b);
                viaMerged = m.lastLogits().toFloatArray();
            }
            try (WeightStore base = WeightStore.open(model)) {
                EncoderClassifier m = new EncoderClassifier(BertEncoder.fromStore(BertConfig.from(ModelConfig.load(model)), base, k), 2,
                        EncoderClassifier.PoolingMode.MEAN, 0);
                int modules = ModelExport.loadAdapter(m, out.resolve("adapter"), model);
                assertTrue(modules >= 12 && modules <= 24, "2 rounds x 2 layers x 6 modules, layers may repeat: " + modules);
                m.predict(b);
                assertArrayClose(viaMerged, m.lastLogits().toFloatArray(), "base + PEFT adapter vs merged");
            }
        }
    }

    private static void assertArrayClose(float[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5, what + " logit " + i);
    }
}
