package dev.xgblora.cli;

import static dev.xgblora.kernels.KernelTestSupport.ones;
import static dev.xgblora.kernels.KernelTestSupport.randn;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.tensor.Tensor;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A tiny random BERT as a model directory (config.json, model.safetensors, tokenizer.json): 3
 * layers of width 16 over MiniLM's real tokenizer (so its full vocabulary), small enough for CLI
 * tests that train, export, evaluate and predict in seconds.
 */
public final class TinyModelDir { // public: the spark module's tests use it too
    static final int VOCAB = 30522, HIDDEN = 16, LAYERS = 3, FFN = 32;

    private TinyModelDir() {
    }

    public static Path create(Path dir) throws Exception {
        InputStream tok = TinyModelDir.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json");
        assumeTrue(tok != null, "all-minilm-l6-v2 jar (its tokenizer.json) not on the class path: skipped");
        Files.createDirectories(dir);
        try (tok) {
            Files.copy(tok, dir.resolve("tokenizer.json"));
        }
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": %d, "hidden_size": %d,
                 "num_hidden_layers": %d, "num_attention_heads": 2, "intermediate_size": %d, "max_position_embeddings": 64,
                 "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 0}
                """.formatted(VOCAB, HIDDEN, LAYERS, FFN));
        Random r = new Random(5);
        Map<String, Tensor> w = new LinkedHashMap<>();
        w.put("embeddings.word_embeddings.weight", randn(r, 0.5f, VOCAB, HIDDEN));
        w.put("embeddings.position_embeddings.weight", randn(r, 0.1f, 64, HIDDEN));
        w.put("embeddings.token_type_embeddings.weight", randn(r, 0.1f, 2, HIDDEN));
        w.put("embeddings.LayerNorm.weight", ones(HIDDEN));
        w.put("embeddings.LayerNorm.bias", Tensor.zeros(HIDDEN));
        for (int l = 0; l < LAYERS; l++) {
            String p = "encoder.layer." + l + ".";
            for (String m : List.of("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")) {
                w.put(p + m + ".weight", randn(r, 0.2f, HIDDEN, HIDDEN));
                w.put(p + m + ".bias", randn(r, 0.02f, HIDDEN));
            }
            w.put(p + "intermediate.dense.weight", randn(r, 0.2f, FFN, HIDDEN));
            w.put(p + "intermediate.dense.bias", randn(r, 0.02f, FFN));
            w.put(p + "output.dense.weight", randn(r, 0.2f, HIDDEN, FFN));
            w.put(p + "output.dense.bias", randn(r, 0.02f, HIDDEN));
            for (String n : List.of("attention.output.LayerNorm", "output.LayerNorm")) {
                w.put(p + n + ".weight", ones(HIDDEN));
                w.put(p + n + ".bias", Tensor.zeros(HIDDEN));
            }
        }
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), w, Map.of("format", "pt"));
        return dir;
    }

    /** A learnable toy sentiment file: label 1 for sentences with more positive than negative words. */
    public static Path sentiment(Path file, int n, long seed) throws Exception {
        Random r = new Random(seed);
        String[] pos = {"good", "great", "wonderful", "charming"}, neg = {"bad", "dull", "awful", "boring"};
        String[] neutral = {"the", "film", "a", "was", "plot", "actor", "it", "scene"};
        StringBuilder sb = new StringBuilder("label\tsentence\n");
        for (int i = 0; i < n; i++) {
            boolean positive = r.nextBoolean();
            StringBuilder s = new StringBuilder();
            for (int j = 0, m = 2 + r.nextInt(4); j < m; j++) s.append(neutral[r.nextInt(neutral.length)]).append(' ');
            s.append((positive ? pos : neg)[r.nextInt(4)]);
            sb.append(positive ? 1 : 0).append('\t').append(s).append('\n');
        }
        Files.writeString(file, sb.toString());
        return file;
    }
}
