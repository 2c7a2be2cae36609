package dev.xgblora.train;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.ModelIdentity;
import dev.xgblora.io.OutputLock;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.BertConfig;
import dev.xgblora.model.BertEncoder;
import dev.xgblora.model.LlamaDecoder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One fine-tuning job from files to files: loads the model directory and tokenizer, reads the
 * data, trains with the chosen method, and writes into the output directory
 * {@code run.jsonl} (the log), {@code labels.json}, {@code checkpoints/}, {@code merged/}
 * (Hugging Face model) and {@code adapter/} (PEFT LoRA adapter; not for full fine-tuning).
 * With {@code resume}, continues from the newest checkpoint in the output directory.
 */
public final class FineTune {
    /** What to run. data: train/valid files and reading options; valid may be null. */
    public record Job(Path modelDir, Path trainFile, Path validFile, DataOptions data, BoostConfig boost, TrainConfig train,
                      Path outputDir, boolean resume, boolean exportModel, boolean exportAdapter) {
    }

    /**
     * What came out: final evaluation (null without validation data), the trainer (its losses,
     * evaluations and boosters; the model's mapped weights are closed once the job returns), where
     * things went.
     */
    public record Result(EvalResult eval, Trainer trainer, Path outputDir, double seconds) {
    }

    private FineTune() {
    }

    /** The task model for a config: BERT + pooling (+ pooler with CLS, when the model has one) + classifier, or a Llama-family decoder with a score or lm head. */
    static TaskModel build(ModelConfig mc, WeightStore store, Kernels k, Task task, int classes, TrainConfig cfg) {
        if (!mc.isDecoder()) {
            BertEncoder enc = BertEncoder.fromStore(BertConfig.from(mc), store, k);
            // CLS pooling goes through BERT's pooler when the model has one (BertForSequenceClassification)
            var pooler = cfg.pooling == EncoderClassifier.PoolingMode.CLS
                    ? EncoderClassifier.poolerOf(n -> store.has(n) ? store.tensor(n) : null, enc.hiddenSize()) : null;
            return new EncoderClassifier(enc, classes, cfg.pooling, pooler, Trainer.headSeed(cfg.seed));
        }
        LlamaDecoder dec = new LlamaDecoder(mc, n -> store.has(n) ? store.tensor(n) : null, k);
        dec.setRecompute(cfg.recompute);
        return task == Task.CLASSIFY ? new DecoderClassifier(dec, classes, Trainer.headSeed(cfg.seed)) : new DecoderLm(dec);
    }

    public static Result run(Job job, Kernels k, ProgressListener listener) {
        return run(job, k, listener, null);
    }

    /** As {@link #run(Job, Kernels, ProgressListener)}, as one replica of a data-parallel run (sync null: one process). */
    public static Result run(Job job, Kernels k, ProgressListener listener, GradientSync sync) {
        boolean writes = sync == null || sync.rank() == 0; // replica 0 writes; the others only read
        long t0 = System.nanoTime();
        ModelConfig mc = ModelConfig.load(job.modelDir());
        Task task = job.data().task();
        if (job.train().pack) TaskData.requirePackable(task);
        if (!mc.isDecoder() && task != Task.CLASSIFY) {
            throw new IllegalArgumentException("task " + task.name().toLowerCase(java.util.Locale.ROOT) + " needs a decoder model; "
                    + mc.modelType() + " supports classify only");
        }
        try (Tokenizer tok = Tokenizer.load(job.modelDir()); WeightStore store = WeightStore.open(job.modelDir())) {
            TextEncoder enc = new TokenizerEncoder(tok);
            Dataset train = DatasetReader.read(job.trainFile(), job.data());
            if (train.skipped() > 0) listener.onMessage("skipped " + train.skipped() + " malformed row(s) in " + job.trainFile());
            LabelMap labels = train.labels().freeze();
            Dataset valid = job.validFile() == null ? null : DatasetReader.read(job.validFile(), job.data().withLabels(labels));
            if (writes) Files.createDirectories(job.outputDir());
            // replica 0 (or the one process) holds the output directory's lock; other replicas write nothing
            try (OutputLock lock = writes ? OutputLock.acquire(job.outputDir()) : null) {
                return train(job, k, listener, mc, store, enc, train, valid, labels, t0, sync, writes);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** The part of {@link #run} that writes into the (locked) output directory. */
    private static Result train(Job job, Kernels k, ProgressListener listener, ModelConfig mc, WeightStore store, TextEncoder enc,
                                Dataset train, Dataset valid, LabelMap labels, long t0, GradientSync sync, boolean writes)
            throws IOException {
        Task task = job.data().task();
        if (job.resume() && finished(job.outputDir())) {
            throw new IllegalArgumentException("the run in " + job.outputDir() + " is finished; nothing to resume");
        }
        if (task == Task.CLASSIFY && writes) labels.save(job.outputDir().resolve("labels.json"));
        TrainConfig cfg = job.train();
        if (cfg.baseModelSha256 == null) cfg.baseModelSha256 = ModelIdentity.sha256(job.modelDir());
        if (cfg.logFile == null && writes) cfg.logFile = job.outputDir().resolve("run.jsonl");
        if (!writes) cfg.logFile = null;
        if (cfg.checkpointDir == null) cfg.checkpointDir = job.outputDir().resolve("checkpoints");
        TaskModel model = build(mc, store, k, task, Math.max(2, labels.numClasses()), cfg);
        MemoryCheck.beforeTraining(model, job.boost(), cfg, listener);
        TaskData trainData = cfg.pack ? TaskData.packed(train, enc, cfg.maxLength, cfg.seed) : new TaskData(train, enc, cfg.maxLength);
        Trainer t = new Trainer(model, trainData,
                valid == null ? null : new TaskData(valid, enc, cfg.maxLength), job.boost(), cfg, k).listener(listener).replicas(sync);
        listener.onMessage(t.scheduler().plan().describe() + "; " + t.totalSteps() + " steps, " + train.size() + " examples"
                + (trainData.isPacked() ? " packed into " + trainData.units() + " rows of up to " + cfg.maxLength + " tokens" : ""));
        if (job.resume()) {
            Path latest = Checkpoint.latest(cfg.checkpointDir);
            if (latest != null) {
                Checkpoint.restore(t, latest);
                listener.onMessage("resumed from " + latest + " at step " + t.step());
            } else {
                listener.onMessage("no checkpoint under " + cfg.checkpointDir + " yet: starting from step 0");
            }
            if (writes) {
                if (Files.isRegularFile(cfg.logFile)) RunLog.keepUpTo(cfg.logFile, t.step());
                // exports of the interrupted run, if any, are rewritten from the finished training
                for (String d : List.of("merged", "adapter")) AtomicFiles.deleteTree(job.outputDir().resolve(d));
                AtomicFiles.deleteTemporaries(job.outputDir());
            }
        }
        t.run();
        listener.onMessage(String.format("trainable parameters per step: %,d; cumulative over the run: %,d",
                t.trainableParamsPerStep(), t.cumulativeTrainableParams()));
        if (!writes) {
            EvalResult last = t.evals().isEmpty() ? null : t.evals().get(t.evals().size() - 1);
            return new Result(last, t, job.outputDir(), (System.nanoTime() - t0) / 1e9);
        }
        if (job.exportModel()) {
            Path merged = job.outputDir().resolve("merged");
            ModelExport.writeMerged(model, merged, job.modelDir(), t.sourceDtypes(), cfg.mergedDtype, task == Task.CLASSIFY ? labels : null);
            listener.onMessage("merged model written to " + merged);
        }
        if (job.exportAdapter() && !t.scheduler().boosters().isEmpty()) {
            Path adapter = job.outputDir().resolve("adapter");
            ModelExport.writeAdapter(model, t.scheduler().boosters(), adapter, job.modelDir());
            listener.onMessage("PEFT adapter written to " + adapter);
        }
        AtomicFiles.writeString(job.outputDir().resolve(FINISHED), "{\"steps\": " + t.step() + "}\n");
        EvalResult last = t.evals().isEmpty() ? null : t.evals().get(t.evals().size() - 1);
        return new Result(last, t, job.outputDir(), (System.nanoTime() - t0) / 1e9);
    }

    /** Written last, after the exports: the run in this directory is complete. */
    public static final String FINISHED = "finished.json";

    /** Whether the run writing into {@code outputDir} completed (training and exports). */
    public static boolean finished(Path outputDir) {
        return Files.isRegularFile(outputDir.resolve(FINISHED));
    }
}
