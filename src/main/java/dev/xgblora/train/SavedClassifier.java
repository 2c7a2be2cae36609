package dev.xgblora.train;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
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
 * {@code merged/} (or any Hugging Face {@code *ForSequenceClassification} directory this project
 * reads): backbone, the head ({@code classifier.*} or {@code score.*}) and the label names from
 * {@code config.json}'s {@code id2label}. Evaluates labelled files and predicts probabilities.
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

    public static SavedClassifier load(Path dir, Kernels k, int maxLength, EncoderClassifier.PoolingMode pooling) {
        ModelConfig mc = ModelConfig.load(dir);
        WeightStore store = WeightStore.open(dir);
        Tokenizer tok = null;
        try {
            String headName = mc.isDecoder() ? "score.weight" : "classifier.weight";
            if (!store.has(headName)) {
                throw new IllegalArgumentException(dir + " has no " + headName + ": not a sequence-classification model"
                        + " (xgblora train writes one into OUTPUT/merged; export a checkpoint with xgblora export --merged)");
            }
            int classes = (int) store.shape(headName)[0];
            tok = Tokenizer.load(dir);
            TrainConfig cfg = new TrainConfig().pooling(pooling).maxLength(maxLength);
            TaskModel model = FineTune.build(mc, store, k, Task.CLASSIFY, classes, cfg);
            for (Param p : model.headParams()) {
                if (!store.has(p.name())) throw new IllegalArgumentException(dir + " has no tensor " + p.name() + " (the classification head)");
                Tensor t = store.tensor(p.name());
                p.ensureWritableF32().copyFrom(t.dtype() == p.value().dtype() ? t : t.toDType(p.value().dtype(), null));
            }
            return new SavedClassifier(dir, tok, store, model, labelsOf(dir, mc, classes), classes, maxLength);
        } catch (RuntimeException e) {
            if (tok != null) tok.close();
            store.close();
            throw e;
        }
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
