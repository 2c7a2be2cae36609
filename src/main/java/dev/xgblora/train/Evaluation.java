package dev.xgblora.train;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
import java.util.ArrayList;
import java.util.List;

/** Metrics of a task model on labelled data, outside a training run (untrained baselines, saved models). */
public final class Evaluation {
    private Evaluation() {
    }

    /** Loss and (classify) accuracy, F1, MCC, or (sft/lm) perplexity of {@code model} on every unit of {@code data}. */
    public static EvalResult evaluate(TaskModel model, TaskData data, int batchSize) {
        double lossSum = 0;
        int count = 0;
        List<Integer> pred = new ArrayList<>(), truth = new ArrayList<>();
        for (Batch b : data.sequentialBatches(batchSize)) {
            TaskModel.Prediction p = model.predict(b);
            lossSum += p.lossSum();
            count += p.count();
            if (p.predicted() != null) {
                for (int i = 0; i < p.predicted().length; i++) {
                    pred.add(p.predicted()[i]);
                    truth.add(b.labels()[i]);
                }
            }
        }
        double loss = count == 0 ? Double.NaN : lossSum / count;
        if (data.task() != Task.CLASSIFY) return new EvalResult(loss, Double.NaN, Double.NaN, Double.NaN, Metrics.perplexity(loss), count);
        int classes = Math.max(2, data.dataset().labels().numClasses());
        for (int v : pred) classes = Math.max(classes, v + 1);
        for (int v : truth) classes = Math.max(classes, v + 1);
        Metrics.Classification c = Metrics.classification(pred.stream().mapToInt(Integer::intValue).toArray(),
                truth.stream().mapToInt(Integer::intValue).toArray(), classes);
        return new EvalResult(loss, c.accuracy(), c.f1(), c.mcc(), Double.NaN, count);
    }

    /**
     * The job's model before any training step (base weights, head initialised exactly as the
     * trainer will from the seed) on the job's validation file: the "before" of a before/after
     * comparison. Null when the job has no validation file.
     */
    public static EvalResult untrained(FineTune.Job job, Kernels k) {
        if (job.validFile() == null) return null;
        ModelConfig mc = ModelConfig.load(job.modelDir());
        try (Tokenizer tok = Tokenizer.load(job.modelDir()); WeightStore store = WeightStore.open(job.modelDir())) {
            DataOptions opts = job.data().withLabels(new LabelMap());
            LabelMap labels = DatasetReader.read(job.trainFile(), opts).labels().freeze();
            Dataset valid = DatasetReader.read(job.validFile(), opts.withLabels(labels));
            TrainConfig cfg = job.train();
            TaskModel model = FineTune.build(mc, store, k, opts.task(), Math.max(2, labels.numClasses()), cfg);
            return evaluate(model, new TaskData(valid, new TokenizerEncoder(tok), cfg.maxLength), cfg.evalBatchSize);
        }
    }
}
