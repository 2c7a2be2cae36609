package dev.xgblora.train;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.BertConfig;
import dev.xgblora.model.BertEncoder;
import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A sequence classifier loaded from a directory that {@code xgblora train} exported as
 * {@code merged/}: a sentence-transformers layout (Transformer, Pooling, Dense head), a
 * {@code BertForSequenceClassification} with its pooler, or a decoder's
 * {@code *ForSequenceClassification}; the label names come from {@code config.json}'s {@code id2label}. Evaluates labelled files and predicts probabilities.
 */
public final class SavedClassifier implements AutoCloseable {
    private final Tokenizer tok;
    private final WeightStore store;
    private final TaskModel model;
    private final LabelMap labels;
    private final int classes;
    private final int maxLength;
    private final Path dir;

    /** One prediction: the class id, its name, and the probability of every class (by id). */
    public record Scored(int label, String name, double[] probabilities) {
    }

    private SavedClassifier(Path dir, Tokenizer tok, WeightStore store, TaskModel model, LabelMap labels, int classes, int maxLength) {
        this.dir = dir;
        this.tok = tok;
        this.store = store;
        this.model = model;
        this.labels = labels;
        this.classes = classes;
        this.maxLength = maxLength;
    }

    /**
     * Loads a classifier export. The pooling comes from the export: its sentence-transformers
     * modules (1_Pooling/config.json), or CLS + pooler for a BertForSequenceClassification with
     * pooler weights. {@code poolingOverride} (null = from the export) is for directories that do
     * not say, such as merged/ exports of xgblora versions that wrote a mean-pooled model as
     * BertForSequenceClassification without a pooler.
     */
    public static SavedClassifier load(Path dir, Kernels k, int maxLength, EncoderClassifier.PoolingMode poolingOverride) {
        SentenceTransformersLayout.Read st = SentenceTransformersLayout.isLayout(dir) ? SentenceTransformersLayout.read(dir) : null;
        Path modelDir = st != null ? st.transformerDir() : dir;
        ModelConfig mc = ModelConfig.load(modelDir);
        WeightStore store = WeightStore.open(modelDir);
        Tokenizer tok = null;
        try {
            Map<String, Tensor> head = st != null ? st.head() : new LinkedHashMap<>();
            String headName = mc.isDecoder() ? "score.weight" : "classifier.weight";
            if (st == null) {
                if (!store.has(headName)) {
                    throw new IllegalArgumentException(dir + " has no " + headName + ": not a sequence-classification model"
                            + " (xgblora train writes one into OUTPUT/merged; export a checkpoint with xgblora export --merged)");
                }
            }
            int classes = (int) (st != null ? head.get(headName) : store.tensor(headName)).dim(0);
            tok = Tokenizer.load(modelDir);
            TaskModel model;
            if (mc.isDecoder()) {
                model = FineTune.build(mc, store, k, Task.CLASSIFY, classes, new TrainConfig().maxLength(maxLength));
            } else {
                BertEncoder enc = BertEncoder.fromStore(BertConfig.from(mc), store, k);
                Linear pooler = EncoderClassifier.poolerOf(n -> store.has(n) ? store.tensor(n) : null, enc.hiddenSize());
                EncoderClassifier.PoolingMode pooling = poolingOverride != null ? poolingOverride
                        : st != null ? st.pooling() : requirePooler(dir, pooler);
                if (st != null || pooling == EncoderClassifier.PoolingMode.MEAN) pooler = null;
                model = new EncoderClassifier(enc, classes, pooling, pooler, 0);
            }
            for (Param p : model.headParams()) {
                Tensor t = head.containsKey(p.name()) ? head.get(p.name()) : store.has(p.name()) ? store.tensor(p.name()) : null;
                if (t == null) throw new IllegalArgumentException(dir + " has no tensor " + p.name() + " (the classification head)");
                p.ensureWritableF32().copyFrom(t.dtype() == p.value().dtype() ? t : t.toDType(p.value().dtype(), null));
            }
            return new SavedClassifier(dir, tok, store, model, labelsOf(dir, mc, classes), classes, maxLength);
        } catch (RuntimeException e) {
            if (tok != null) tok.close();
            store.close();
            throw e;
        }
    }

    /** A BertForSequenceClassification directory means CLS + pooler: refuse one without pooler weights rather than guess. */
    private static EncoderClassifier.PoolingMode requirePooler(Path dir, Linear pooler) {
        if (pooler != null) return EncoderClassifier.PoolingMode.CLS;
        throw new IllegalArgumentException(dir + " is a BertForSequenceClassification without pooler weights (no "
                + EncoderClassifier.POOLER + ".weight), so its pooling is unknown: transformers would put a random pooler on the"
                + " CLS token. merged/ exports of earlier xgblora versions were trained with mean pooling: pass --pooling mean"
                + " (or --pooling cls if it was trained so); re-export the checkpoint to get a sentence-transformers layout that says it");
    }

    /** Label names: labels.json beside the model or config.json's id2label, else the ids themselves. */
    static LabelMap labelsOf(Path dir, ModelConfig mc, int classes) {
        Path json = dir.resolve("labels.json");
        try {
            if (Files.isRegularFile(json)) return LabelMap.load(json);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + json + ": " + e.getMessage(), e);
        }
        Map<String, Integer> m = new LinkedHashMap<>();
        if (mc.id2label() != null && mc.id2label().size() == classes) {
            mc.id2label().forEach((id, name) -> m.put(name, id));
        } else {
            for (int i = 0; i < classes; i++) m.put(String.valueOf(i), i);
        }
        return LabelMap.of(m);
    }

    public LabelMap labels() {
        return labels;
    }

    public int classes() {
        return classes;
    }

    public TaskModel model() {
        return model;
    }

    /** Metrics on a labelled file (TSV/CSV/JSONL as training reads it); its labels must be ones the model knows. */
    public EvalResult evaluate(Path file, DataOptions opts, int batchSize) {
        Dataset d = DatasetReader.read(file, opts.withLabels(labels));
        if (d.size() == 0) throw new IllegalArgumentException(file + ": no examples");
        return Evaluation.evaluate(model, new TaskData(d, new TokenizerEncoder(tok), maxLength), batchSize);
    }

    /** Class probabilities (softmax of the logits) for each text, with its pair text when {@code pairs} is non-null. */
    public List<Scored> predict(List<String> texts, List<String> pairs, int batchSize) {
        List<String> names = labels.names();
        List<Scored> out = new ArrayList<>(texts.size());
        TokenizerEncoder enc = new TokenizerEncoder(tok);
        for (int s = 0; s < texts.size(); s += batchSize) {
            int e = Math.min(texts.size(), s + batchSize);
            Batch b = new Batch(enc.encodeBatch(texts.subList(s, e), pairs == null ? null : pairs.subList(s, e), maxLength), new int[e - s]);
            model.predict(b);
            Tensor logits = model instanceof EncoderClassifier ec ? ec.lastLogits() : ((DecoderClassifier) model).lastLogits();
            for (int i = 0; i < e - s; i++) {
                double[] p = softmax(logits, i, classes);
                int best = 0;
                for (int c = 1; c < classes; c++) if (p[c] > p[best]) best = c;
                out.add(new Scored(best, best < names.size() ? names.get(best) : String.valueOf(best), p));
            }
        }
        return out;
    }

    static double[] softmax(Tensor logits, int row, int classes) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) max = Math.max(max, logits.get(row, c));
        double[] p = new double[classes];
        double sum = 0;
        for (int c = 0; c < classes; c++) sum += p[c] = Math.exp(logits.get(row, c) - max);
        for (int c = 0; c < classes; c++) p[c] /= sum;
        return p;
    }

    @Override
    public void close() {
        tok.close();
        store.close();
    }

    @Override
    public String toString() {
        return "SavedClassifier(" + dir + ", " + classes + " classes)";
    }
}
