package dev.xgblora.train;

import static dev.xgblora.kernels.KernelTestSupport.ones;
import static dev.xgblora.kernels.KernelTestSupport.randn;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.BertConfig;
import dev.xgblora.model.BertEncoder;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A tiny random BERT and a tiny labelled data set, for training-loop tests. */
final class TinyModels {
    static final BertConfig CFG = new BertConfig(16, 3, 2, 32, 40, 32, 2, 1e-12f, "gelu");

    private TinyModels() {
    }

    /** HF-named random weights (seeded); {@code dtype} for the linear matrices. */
    static Map<String, Tensor> bertWeights(long seed, DType dtype) {
        Random r = new Random(seed);
        Map<String, Tensor> w = new LinkedHashMap<>();
        int c = CFG.hiddenSize(), f = CFG.intermediateSize();
        w.put("embeddings.word_embeddings.weight", randn(r, 0.5f, CFG.vocabSize(), c));
        w.put("embeddings.position_embeddings.weight", randn(r, 0.1f, CFG.maxPositions(), c));
        w.put("embeddings.token_type_embeddings.weight", randn(r, 0.1f, CFG.typeVocabSize(), c));
        w.put("embeddings.LayerNorm.weight", ones(c));
        w.put("embeddings.LayerNorm.bias", Tensor.zeros(c));
        for (int l = 0; l < CFG.numLayers(); l++) {
            String p = "encoder.layer." + l + ".";
            for (String m : List.of("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")) {
                w.put(p + m + ".weight", randn(r, 0.2f, c, c).toDType(dtype, dtype == DType.F32 ? null : java.lang.foreign.Arena.ofAuto()));
                w.put(p + m + ".bias", randn(r, 0.02f, c));
            }
            w.put(p + "intermediate.dense.weight", randn(r, 0.2f, f, c).toDType(dtype, dtype == DType.F32 ? null : java.lang.foreign.Arena.ofAuto()));
            w.put(p + "intermediate.dense.bias", randn(r, 0.02f, f));
            w.put(p + "output.dense.weight", randn(r, 0.2f, c, f).toDType(dtype, dtype == DType.F32 ? null : java.lang.foreign.Arena.ofAuto()));
            w.put(p + "output.dense.bias", randn(r, 0.02f, c));
            w.put(p + "attention.output.LayerNorm.weight", ones(c));
            w.put(p + "attention.output.LayerNorm.bias", Tensor.zeros(c));
            w.put(p + "output.LayerNorm.weight", ones(c));
            w.put(p + "output.LayerNorm.bias", Tensor.zeros(c));
        }
        return w;
    }

    static BertEncoder bert(Map<String, Tensor> weights, Kernels k) {
        return new BertEncoder(CFG, weights::get, k);
    }

    static EncoderClassifier classifier(long seed) {
        return new EncoderClassifier(bert(bertWeights(seed, DType.F32), new ReferenceKernels()), 2,
                EncoderClassifier.PoolingMode.MEAN, Trainer.headSeed(seed));
    }

    /** Learnable toy task: label 1 when the sentence holds more "good" than "bad" words. */
    static Dataset sentiment(int n, long seed) {
        Random r = new Random(seed);
        String[] neutral = {"the", "film", "a", "was", "plot", "actor", "it", "scene"};
        List<Example> ex = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int good = r.nextInt(3), bad = r.nextInt(3);
            if (good == bad) good++;
            List<String> w = new ArrayList<>();
            for (int j = 0; j < good; j++) w.add("good");
            for (int j = 0; j < bad; j++) w.add("bad");
            for (int j = 0, m = 1 + r.nextInt(5); j < m; j++) w.add(neutral[r.nextInt(neutral.length)]);
            java.util.Collections.shuffle(w, r);
            ex.add(Example.classify(String.join(" ", w), null, good > bad ? 1 : 0, i + 2));
        }
        LabelMap m = new LabelMap();
        m.idOf("0");
        m.idOf("1");
        return new Dataset(java.nio.file.Path.of("toy.tsv"), Task.CLASSIFY, ex, m.freeze(), 0);
    }

    static TaskData data(Dataset d) {
        return new TaskData(d, new FakeEncoder(TinyModels.CFG.vocabSize()), 16);
    }
}
