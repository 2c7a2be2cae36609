package dev.xgblora.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.io.JsonFiles;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.io.SentencePooling;
import dev.xgblora.io.WeightStore;
import dev.xgblora.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A mean- or CLS-pooled classifier in the sentence-transformers layout, so that
 * {@code SentenceTransformer(dir)} computes what xgblora trained:
 * <pre>
 * modules.json                     Transformer (path ""), Pooling (1_Pooling), Dense (2_Dense)
 * config.json, model.safetensors   the BertModel (no "bert." prefix) and id2label/label2id
 * tokenizer files, sentence_bert_config.json, config_sentence_transformers.json
 * 1_Pooling/config.json            pooling_mode_mean_tokens or pooling_mode_cls_token
 * 2_Dense/config.json, model.safetensors   the head: linear.weight [classes, hidden], linear.bias,
 *                                  identity activation, so encode() returns the logits
 * </pre>
 * Class probabilities are the softmax of those logits; label names are config.json's id2label.
 */
public final class SentenceTransformersLayout {
    public static final String MODULES = SentencePooling.MODULES;
    public static final String POOLING_DIR = SentencePooling.POOLING_DIR, DENSE_DIR = "2_Dense";
    static final String DENSE = "sentence_transformers.models.Dense";
    static final String IDENTITY = "torch.nn.modules.linear.Identity";
    private static final ObjectMapper JSON = new ObjectMapper();

    private SentenceTransformersLayout() {
    }

    /** What a loader needs: where the transformer is, its pooling, and the head tensors under xgblora's names (classifier.*). */
    public record Read(Path transformerDir, EncoderClassifier.PoolingMode pooling, Map<String, Tensor> head) {
    }

    public static boolean isLayout(Path dir) {
        return Files.isRegularFile(dir.resolve(MODULES));
    }

    /** Writes the sentence-transformers files of {@code model} into {@code dir} (the transformer's files are the caller's). */
    static void write(Path dir, EncoderClassifier model, int maxSeqLength, Map<String, Tensor> head) throws IOException {
        ArrayNode modules = JSON.createArrayNode();
        SentencePooling.module(modules, "", SentencePooling.TRANSFORMER);
        SentencePooling.module(modules, POOLING_DIR, SentencePooling.POOLING);
        SentencePooling.module(modules, DENSE_DIR, DENSE);
        write(dir.resolve(MODULES), modules);
        ObjectNode sbert = JSON.createObjectNode();
        sbert.put("max_seq_length", maxSeqLength);
        sbert.put("do_lower_case", false);
        write(dir.resolve("sentence_bert_config.json"), sbert);
        ObjectNode st = JSON.createObjectNode();
        st.putObject("__version__").put("sentence_transformers", "3.0.0");
        st.putObject("prompts");
        st.putNull("default_prompt_name");
        st.putNull("similarity_fn_name");
        write(dir.resolve("config_sentence_transformers.json"), st);
        int hidden = model.encoder().hiddenSize();
        SentencePooling.writeConfig(dir, hidden, model.pooling() == EncoderClassifier.PoolingMode.CLS ? SentencePooling.Mode.CLS : SentencePooling.Mode.MEAN);
        ObjectNode dense = JSON.createObjectNode();
        dense.put("in_features", hidden);
        dense.put("out_features", model.classes());
        dense.put("bias", true);
        dense.put("activation_function", IDENTITY);
        Path d = dir.resolve(DENSE_DIR);
        Files.createDirectories(d);
        write(d.resolve("config.json"), dense);
        Map<String, Tensor> linear = new LinkedHashMap<>();
        linear.put("linear.weight", head.get("classifier.weight"));
        linear.put("linear.bias", head.get("classifier.bias"));
        SafeTensorsWriter.write(d.resolve(WeightStore.SINGLE_FILE), linear, Map.of("format", "pt"));
    }

    private static void write(Path file, JsonNode json) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
    }

    /**
     * Reads modules.json of {@code dir}: a Transformer, a Pooling with mean or CLS tokens, and a
     * Dense head with identity activation, in that order; anything else is named and refused.
     */
    public static Read read(Path dir) {
        Path file = dir.resolve(MODULES);
        JsonNode modules = JsonFiles.read(file);
        if (!modules.isArray()) throw new IllegalArgumentException(file + ": expected a JSON array of modules");
        String[] expected = {SentencePooling.TRANSFORMER, SentencePooling.POOLING, DENSE};
        if (modules.size() != 3) {
            throw new IllegalArgumentException(file + ": " + modules.size() + " module(s); a classifier xgblora reads has 3: "
                    + String.join(", ", expected) + " (a sentence-embedding model without a Dense head is not a classifier: use xgblora embed)");
        }
        Path[] paths = new Path[3];
        for (int i = 0; i < 3; i++) {
            JsonNode m = modules.get(i);
            String type = m.path("type").asText();
            if (!type.equals(expected[i])) {
                throw new IllegalArgumentException(file + ": module " + i + " is '" + type + "', expected " + expected[i]);
            }
            paths[i] = dir.resolve(m.path("path").asText(""));
        }
        boolean mean = SentencePooling.read(paths[1].resolve("config.json")) == SentencePooling.Mode.MEAN;
        Path denseFile = paths[2].resolve("config.json");
        JsonNode dense = JsonFiles.read(denseFile);
        String act = dense.path("activation_function").asText("");
        if (!act.equals(IDENTITY)) {
            throw new IllegalArgumentException(denseFile + ": activation_function is '" + act + "'; a classification head has " + IDENTITY);
        }
        Map<String, Tensor> head = new LinkedHashMap<>();
        try (WeightStore st = WeightStore.open(paths[2])) {
            for (String n : new String[]{"weight", "bias"}) {
                if (!st.has("linear." + n)) throw new IllegalArgumentException(paths[2] + ": no tensor linear." + n + " (the head)");
                head.put("classifier." + n, st.tensor("linear." + n).copy());
            }
        }
        long out = head.get("classifier.weight").dim(0);
        if (dense.path("out_features").asLong(out) != out) {
            throw new IllegalArgumentException(denseFile + ": out_features " + dense.path("out_features") + " but linear.weight has " + out + " rows");
        }
        return new Read(paths[0], mean ? EncoderClassifier.PoolingMode.MEAN : EncoderClassifier.PoolingMode.CLS, head);
    }
}
