package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.PeftAdapter;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.LlamaDecoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Decoder tasks on the tiny Llama fixture (2 layers, vocab 64) made by the llama helper's PyTorch script. */
class DecoderTaskTest {
    @TempDir
    Path dir;

    static Path fixture() throws Exception {
        var url = DecoderTaskTest.class.getResource("/fixtures/llama/llama3-gqa/config.json");
        assertNotNull(url, "llama fixture missing from the test class path");
        return Path.of(url.toURI()).getParent();
    }

    static LlamaDecoder decoder() throws Exception {
        return LlamaDecoder.open(fixture(), new ReferenceKernels());
    }

    static TaskData lmData() throws Exception {
        StringBuilder text = new StringBuilder();
        String[] words = {"to", "be", "or", "not", "that", "is", "the", "question"};
        for (int i = 0; i < 60; i++) text.append(words[i % words.length]).append(' ');
        Dataset d = new Dataset(Path.of("t.txt"), Task.LM, List.of(Example.text(text.toString(), 1)), new LabelMap(), 0);
        return new TaskData(d, new FakeEncoder(64), 12);
    }

    @Test
    void xgbloraLmLearnsAndItsAdapterReproducesTheMergedDecoder() throws Exception {
        try (LlamaDecoder dec = decoder()) {
            DecoderLm model = new DecoderLm(dec);
            TaskData data = lmData();
            TrainConfig c = new TrainConfig().steps(12).batchSize(2).maxLength(12).lr(1e-2).warmupSteps(0).seed(1).logEvery(0);
            Trainer t = new Trainer(model, data, data, BoostConfig.of(Preset.XGBLORA).stepsPerRound(4).layersPerRound(1), c, new ReferenceKernels());
            EvalResult before = t.evaluate();
            t.run();
            EvalResult after = t.evals().get(t.evals().size() - 1);
            assertTrue(after.loss() < before.loss(), "lm loss " + before.loss() + " -> " + after.loss());
            assertEquals(Math.exp(after.loss()), after.perplexity(), 1e-9);
            assertEquals(3 * 7, t.scheduler().boosters().size(), "3 rounds x 7 modules of one layer");

            Batch b = data.batch(new int[] {0, 1});
            int[][] ids = EncoderClassifier.rows(b.tokens().ids(), 2, 12), mask = EncoderClassifier.rows(b.tokens().mask(), 2, 12);
            float[] merged = dec.inferLogits(ids, mask).toFloatArray();
            Path adapter = dir.resolve("adapter");
            ModelExport.writeAdapter(model, t.scheduler().boosters(), adapter, fixture());
            try (WeightStore st = WeightStore.open(adapter.resolve(PeftAdapter.WEIGHTS))) {
                assertTrue(st.names().stream().anyMatch(n -> n.matches("base_model\\.model\\.model\\.layers\\.\\d\\.self_attn\\.q_proj\\.lora_A\\.weight")),
                        st.names().toString());
            }
            assertTrue(Files.readString(adapter.resolve(PeftAdapter.CONFIG)).contains("\"CAUSAL_LM\""));
            try (LlamaDecoder fresh = decoder()) {
                assertTrue(ModelExport.loadAdapter(new DecoderLm(fresh), adapter) > 0);
                float[] viaAdapter = fresh.inferLogits(ids, mask).toFloatArray();
                for (int i = 0; i < merged.length; i++) assertEquals(merged[i], viaAdapter[i], 1e-5, "logit " + i);
            }
        }
    }

    @Test
    void sftCountsOnlyCompletionTokens() throws Exception {
        try (LlamaDecoder dec = decoder()) {
            DecoderLm model = new DecoderLm(dec);
            Dataset d = new Dataset(Path.of("s.jsonl"), Task.SFT, List.of(Example.sft("a b c d", "e f", 1), Example.sft("x", "y z w", 2)),
                    new LabelMap(), 0);
            Batch b = new TaskData(d, new FakeEncoder(64), 16).batch(new int[] {0, 1});
            TaskModel.Prediction p = model.predict(b);
            assertEquals(3 + 4, p.count(), "completion tokens + EOS per row");
            assertTrue(Double.isFinite(p.lossSum()) && p.lossSum() > 0);
        }
    }

    @Test
    void decoderClassifierTrainsItsScoreHead() throws Exception {
        try (LlamaDecoder dec = decoder()) {
            DecoderClassifier model = new DecoderClassifier(dec, 2, 5);
            Dataset train = TinyModels.sentiment(64, 3);
            TaskData data = new TaskData(train, new FakeEncoder(64), 16);
            TrainConfig c = new TrainConfig().steps(30).batchSize(8).maxLength(16).lr(1e-2).warmupSteps(0).seed(2).logEvery(0);
            Trainer t = new Trainer(model, data, data, BoostConfig.of(Preset.LORA).rank(4), c, new ReferenceKernels());
            EvalResult before = t.evaluate();
            t.run();
            EvalResult after = t.evals().get(t.evals().size() - 1);
            assertTrue(after.loss() < before.loss(), "classification loss " + before.loss() + " -> " + after.loss());
            assertEquals("LlamaForSequenceClassification", model.architecture());
            assertEquals("score.weight", model.headParams().get(0).name());
            List<Double> finite = new ArrayList<>(t.losses());
            finite.removeIf(x -> !Double.isFinite(x));
            assertEquals(30, finite.size());
        }
    }
}
