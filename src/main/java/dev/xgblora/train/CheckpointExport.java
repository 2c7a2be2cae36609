package dev.xgblora.train;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
import java.nio.file.Path;

/**
 * Exports a checkpoint of a run without training further: rebuilds the run's trainer from its job
 * (same base model, training file and settings, as the checkpoint requires), restores the
 * checkpoint, merges a round still open at that step (its adapters as they were), and writes the
 * merged model and/or the PEFT adapter of the boosters so far.
 */
public final class CheckpointExport {
    private CheckpointExport() {
    }

    /** What was written (null where not asked for or not possible) and the checkpoint's step. */
    public record Written(Path merged, Path adapter, int step) {
    }

    /**
     * @param checkpoint a checkpoint-N directory or the checkpoints root (its newest is taken)
     * @param merged     directory to write the merged model into (must not exist), or null
     * @param adapter    directory to write the PEFT adapter into, or null
     */
    public static Written export(FineTune.Job job, Path checkpoint, Kernels k, Path merged, Path adapter) {
        ModelConfig mc = ModelConfig.load(job.modelDir());
        try (Tokenizer tok = Tokenizer.load(job.modelDir()); WeightStore store = WeightStore.open(job.modelDir())) {
            DataOptions opts = job.data().withLabels(new LabelMap());
            Dataset train = DatasetReader.read(job.trainFile(), opts);
            LabelMap labels = train.labels().freeze();
            TrainConfig cfg = job.train();
            TaskModel model = FineTune.build(mc, store, k, opts.task(), Math.max(2, labels.numClasses()), cfg);
            Trainer t = new Trainer(model, new TaskData(train, new TokenizerEncoder(tok), cfg.maxLength), null, job.boost(), cfg, k);
            Checkpoint.restore(t, checkpoint);
            if (t.scheduler().inRound()) t.scheduler().end();
            Path m = null, a = null;
            if (merged != null) {
                ModelExport.writeMerged(model, merged, job.modelDir(), t.sourceDtypes(), null, opts.task() == Task.CLASSIFY ? labels : null);
                m = merged;
            }
            if (adapter != null) {
                if (t.scheduler().boosters().isEmpty()) {
                    throw new IllegalArgumentException("checkpoint " + checkpoint + " holds no boosters (full fine-tuning, or no round"
                            + " finished): only --merged can be exported");
                }
                ModelExport.writeAdapter(model, t.scheduler().boosters(), adapter, job.modelDir().toString());
                a = adapter;
            }
            return new Written(m, a, t.step());
        }
    }
}
