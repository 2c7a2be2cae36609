package dev.xgblora.train;

import static dev.xgblora.kernels.KernelTestSupport.randn;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The committed export fixtures under {@code src/test/resources/fixtures/bert-export}: a tiny
 * random BERT with a pooler and a word-level tokenizer ({@code base/}), and the two classifier
 * exports the project writes from it, {@code st-mean/} (mean pooling: sentence-transformers
 * layout) and {@code hf-cls/} (CLS + pooler: BertForSequenceClassification), both with a random
 * 3-class head. {@code make_expected.py} computes, from these files alone, what
 * sentence-transformers and transformers would predict; {@link ExportFixtureTest} checks ours.
 *
 * <p>Regenerate (then rerun make_expected.py):
 * {@code mvn -o -q test-compile && java -cp ... dev.xgblora.train.BertExportFixtures src/test/resources/fixtures/bert-export};
 * ExportFixtureTest also regenerates them into a temporary directory and requires identical files.
 */
public final class BertExportFixtures {
    public static final String BASE = "base", ST_MEAN = "st-mean", HF_CLS = "hf-cls";
    public static final List<String> LABELS = List.of("negative", "neutral", "positive");
    static final int HIDDEN = 16, LAYERS = 2, HEADS = 2, FFN = 32, POSITIONS = 32;
    static final List<String> WORDS = List.of("the", "a", "film", "movie", "plot", "was", "is", "not", "very", "good", "great",
            "bad", "dull", "boring", "fine", "ok", "it", "and", "but", ".", ",", "!", "##s", "act", "##or");

    private BertExportFixtures() {
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args.length > 0 ? args[0] : "src/test/resources/fixtures/bert-export");
        write(root, sentences(root.resolve("sentences.tsv")));
    }

    /** The sentence column of a label/sentence TSV. */
    public static List<String> sentences(Path tsv) throws Exception {
        List<String> lines = Files.readAllLines(tsv);
        return lines.subList(1, lines.size()).stream().map(l -> l.substring(l.indexOf('\t') + 1)).toList();
    }

    /**
     * Writes base/, st-mean/ and hf-cls/ into {@code root} (the exports must not exist yet); returns,
     * per export, the class probabilities of {@code sentences} by the in-memory model that was exported.
     */
    public static Map<String, double[][]> write(Path root, List<String> sentences) throws Exception {
        Path base = root.resolve(BASE);
        writeBase(base);
        Map<String, double[][]> probs = new LinkedHashMap<>();
        probs.put(ST_MEAN, export(base, root.resolve(ST_MEAN), EncoderClassifier.PoolingMode.MEAN, 21, sentences));
        probs.put(HF_CLS, export(base, root.resolve(HF_CLS), EncoderClassifier.PoolingMode.CLS, 22, sentences));
        return probs;
    }

    public static void writeBase(Path dir) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), """
                {
                  "architectures": ["BertModel"],
                  "model_type": "bert",
                  "vocab_size": %d,
                  "hidden_size": %d,
                  "num_hidden_layers": %d,
                  "num_attention_heads": %d,
                  "intermediate_size": %d,
                  "max_position_embeddings": %d,
                  "type_vocab_size": 2,
                  "layer_norm_eps": 1e-12,
                  "hidden_act": "gelu",
                  "position_embedding_type": "absolute",
                  "pad_token_id": 0
                }
                """.formatted(5 + WORDS.size(), HIDDEN, LAYERS, HEADS, FFN, POSITIONS));
        Files.writeString(dir.resolve("tokenizer.json"), tokenizerJson());
        Random r = new Random(12);
        Map<String, Tensor> w = new LinkedHashMap<>();
        w.put("embeddings.word_embeddings.weight", randn(r, 0.5f, 5 + WORDS.size(), HIDDEN));
        w.put("embeddings.position_embeddings.weight", randn(r, 0.2f, POSITIONS, HIDDEN));
        w.put("embeddings.token_type_embeddings.weight", randn(r, 0.2f, 2, HIDDEN));
        norm(w, r, "embeddings.LayerNorm");
        for (int l = 0; l < LAYERS; l++) {
            String p = "encoder.layer." + l + ".";
            for (String m : List.of("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")) {
                dense(w, r, p + m, HIDDEN, HIDDEN);
            }
            norm(w, r, p + "attention.output.LayerNorm");
            dense(w, r, p + "intermediate.dense", FFN, HIDDEN);
            dense(w, r, p + "output.dense", HIDDEN, FFN);
            norm(w, r, p + "output.LayerNorm");
        }
        dense(w, r, "pooler.dense", HIDDEN, HIDDEN);
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), w, Map.of("format", "pt"));
    }

    private static void dense(Map<String, Tensor> w, Random r, String name, int out, int in) {
        w.put(name + ".weight", randn(r, (float) (1.5 / Math.sqrt(in)), out, in));
        w.put(name + ".bias", randn(r, 0.1f, out));
    }

    private static void norm(Map<String, Tensor> w, Random r, String name) {
        Tensor g = randn(r, 0.2f, HIDDEN);
        for (int i = 0; i < HIDDEN; i++) g.set(i, g.get(i) + 1f);
        w.put(name + ".weight", g);
        w.put(name + ".bias", randn(r, 0.1f, HIDDEN));
    }

    /** A BERT WordPiece tokenizer.json over {@link #WORDS} (the format of all-MiniLM-L6-v2's). */
    static String tokenizerJson() throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode t = json.createObjectNode();
        t.put("version", "1.0");
        t.putNull("truncation");
        t.putNull("padding");
        ArrayNode added = t.putArray("added_tokens");
        List<String> special = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]");
        for (int i = 0; i < special.size(); i++) {
            ObjectNode a = added.addObject();
            a.put("id", i);
            a.put("content", special.get(i));
            a.put("single_word", false);
            a.put("lstrip", false);
            a.put("rstrip", false);
            a.put("normalized", false);
            a.put("special", true);
        }
        ObjectNode norm = t.putObject("normalizer");
        norm.put("type", "BertNormalizer");
        norm.put("clean_text", true);
        norm.put("handle_chinese_chars", true);
        norm.putNull("strip_accents");
        norm.put("lowercase", true);
        t.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
        ObjectNode post = t.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        special(single, "[CLS]", 0);
        sequence(single, "A", 0);
        special(single, "[SEP]", 0);
        ArrayNode pair = post.putArray("pair");
        special(pair, "[CLS]", 0);
        sequence(pair, "A", 0);
        special(pair, "[SEP]", 0);
        sequence(pair, "B", 1);
        special(pair, "[SEP]", 1);
        ObjectNode st = post.putObject("special_tokens");
        for (String s : List.of("[CLS]", "[SEP]")) {
            ObjectNode o = st.putObject(s);
            o.put("id", s);
            o.putArray("ids").add(special.indexOf(s));
            o.putArray("tokens").add(s);
        }
        ObjectNode dec = t.putObject("decoder");
        dec.put("type", "WordPiece");
        dec.put("prefix", "##");
        dec.put("cleanup", true);
        ObjectNode model = t.putObject("model");
        model.put("type", "WordPiece");
        model.put("unk_token", "[UNK]");
        model.put("continuing_subword_prefix", "##");
        model.put("max_input_chars_per_word", 100);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < special.size(); i++) vocab.put(special.get(i), i);
        for (int i = 0; i < WORDS.size(); i++) vocab.put(WORDS.get(i), special.size() + i);
        return json.writerWithDefaultPrettyPrinter().writeValueAsString(t) + "\n";
    }

    private static void special(ArrayNode a, String id, int type) {
        ObjectNode o = a.addObject().putObject("SpecialToken");
        o.put("id", id);
        o.put("type_id", type);
    }

    private static void sequence(ArrayNode a, String id, int type) {
        ObjectNode o = a.addObject().putObject("Sequence");
        o.put("id", id);
        o.put("type_id", type);
    }

    /**
     * Builds the classifier as training would, gives it a random head (and pooler) whose bias
     * centres the logits of {@code sentences} (random pooled features share a large common part,
     * which would otherwise make every sentence the same class), and exports it.
     */
    static double[][] export(Path base, Path out, EncoderClassifier.PoolingMode pooling, long seed, List<String> sentences) {
        ModelConfig mc = ModelConfig.load(base);
        try (WeightStore store = WeightStore.open(base); Tokenizer tok = Tokenizer.load(base)) {
            EncoderClassifier model = (EncoderClassifier) FineTune.build(mc, store, new ReferenceKernels(), Task.CLASSIFY, LABELS.size(),
                    new TrainConfig().pooling(pooling).seed(seed));
            Random r = new Random(seed);
            for (Param p : model.headParams()) {
                double std = p.name().equals("classifier.weight") ? 3 : 0.3;
                Tensor v = p.ensureWritableF32();
                for (long i = 0; i < v.numel(); i++) v.set(i, v.get(i) + (float) (r.nextGaussian() * std));
            }
            model.predict(new Batch(new TokenizerEncoder(tok).encodeBatch(sentences, null, POSITIONS), new int[sentences.size()]));
            Tensor logits = model.lastLogits(), bias = model.head().bias().value();
            for (int c = 0; c < LABELS.size(); c++) {
                double mean = 0;
                for (int i = 0; i < sentences.size(); i++) mean += logits.get(i, c) / sentences.size();
                bias.set(c, (float) (bias.get(c) - mean));
            }
            Map<String, Integer> labels = new LinkedHashMap<>();
            for (int i = 0; i < LABELS.size(); i++) labels.put(LABELS.get(i), i);
            Batch batch = new Batch(new TokenizerEncoder(tok).encodeBatch(sentences, null, POSITIONS), new int[sentences.size()]);
            model.predict(batch);
            double[][] probs = new double[sentences.size()][];
            for (int i = 0; i < probs.length; i++) probs[i] = SavedClassifier.softmax(model.lastLogits(), i, LABELS.size());
            ModelExport.writeMerged(model, out, base, ModelExport.sourceDtypes(model), null, LabelMap.of(labels));
            return probs;
        }
    }
}
