package dev.xgblora.model;

import dev.xgblora.kernels.KernelTestSupport;
import dev.xgblora.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Random tiny BERT weights under Hugging Face names, for tests. */
final class TinyBert {
    private TinyBert() {
    }

    static BertConfig config(int layers, String act) {
        return new BertConfig(16, layers, 2, 32, 50, 12, 2, 1e-12f, act);
    }

    static Map<String, Tensor> weights(BertConfig cfg, long seed) {
        Random r = new Random(seed);
        int c = cfg.hiddenSize(), ff = cfg.intermediateSize();
        Map<String, Tensor> w = new LinkedHashMap<>();
        w.put("embeddings.word_embeddings.weight", KernelTestSupport.randn(r, 0.5f, cfg.vocabSize(), c));
        w.put("embeddings.position_embeddings.weight", KernelTestSupport.randn(r, 0.5f, cfg.maxPositions(), c));
        w.put("embeddings.token_type_embeddings.weight", KernelTestSupport.randn(r, 0.5f, cfg.typeVocabSize(), c));
        norm(w, r, "embeddings.LayerNorm", c);
        for (int l = 0; l < cfg.numLayers(); l++) {
            String p = "encoder.layer." + l + ".";
            dense(w, r, p + "attention.self.query", c, c);
            dense(w, r, p + "attention.self.key", c, c);
            dense(w, r, p + "attention.self.value", c, c);
            dense(w, r, p + "attention.output.dense", c, c);
            norm(w, r, p + "attention.output.LayerNorm", c);
            dense(w, r, p + "intermediate.dense", ff, c);
            dense(w, r, p + "output.dense", c, ff);
            norm(w, r, p + "output.LayerNorm", c);
        }
        return w;
    }

    private static void dense(Map<String, Tensor> w, Random r, String name, int out, int in) {
        w.put(name + ".weight", KernelTestSupport.randn(r, (float) (1.0 / Math.sqrt(in)), out, in));
        w.put(name + ".bias", KernelTestSupport.randn(r, 0.1f, out));
    }

    private static void norm(Map<String, Tensor> w, Random r, String name, int c) {
        Tensor g = KernelTestSupport.randn(r, 0.2f, c);
        for (int i = 0; i < c; i++) g.set(i, g.get(i) + 1f);
        w.put(name + ".weight", g);
        w.put(name + ".bias", KernelTestSupport.randn(r, 0.1f, c));
    }

    /** Two sequences of lengths 5 and 3, padded to 5, with both token types in use. */
    static int[][] ids() {
        return new int[][] {{1, 7, 23, 42, 2}, {1, 13, 2, 0, 0}};
    }

    static int[][] mask() {
        return new int[][] {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}};
    }

    static int[][] types() {
        return new int[][] {{0, 0, 0, 1, 1}, {0, 1, 1, 0, 0}};
    }

    /** An adapter with random (non-zero) B so that gradients reach A too. */
    static LoraAdapter adapter(Linear target, int rank, float scale, Random r) {
        LoraAdapter a = LoraAdapter.create(target, rank, scale, r);
        Tensor b = a.b().value();
        for (long i = 0; i < b.numel(); i++) b.set(i, (float) (r.nextGaussian() * 0.3));
        target.attach(a);
        return a;
    }
}
