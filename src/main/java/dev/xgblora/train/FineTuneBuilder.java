package dev.xgblora.train;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.adapt.Preset;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The entry point for JVM applications: describe a fine-tuning job, run it, get metrics and the
 * paths of what it wrote.
 *
 * <pre>{@code
 * FineTuneBuilder.Outcome out = FineTuneBuilder.model(ModelCache.miniLm())   // or any BERT/Llama HF directory
 *         .trainFile(Path.of("sst2/train.tsv"))
 *         .validFile(Path.of("sst2/dev.tsv"))
 *         .method(Preset.XGBLORA, b -> b.rank(1).alpha(16).layersPerRound(2).stepsPerRound(50))
 *         .settings(c -> c.steps(300).lr(1e-3).headLr(5e-4).batchSize(32).maxLength(64))
 *         .output(Path.of("runs/demo"))
 *         .progress(new ProgressListener() {
 *             public void onStep(StepInfo s) { System.out.println(s.step() + " " + s.loss()); }
 *         })
 *         .run();
 * System.out.println(out.before().accuracy() + " -> " + out.after().accuracy() + ", model in " + out.merged());
 * }</pre>
 *
 * Defaults: task classify, method xgblora (rank 1, κ 50, L_s = a third of the layers), the
 * {@link TrainConfig} defaults (one epoch, batch 32, 64 tokens, lr 1e-3, 6 % warmup, linear decay,
 * seed 0), the untrained model evaluated before training when a validation file is given, the
 * merged model and the PEFT adapter exported.
 */
public final class FineTuneBuilder {
    private final Path model;
    private Path train, valid, output;
    private DataOptions data = DataOptions.classify();
    private BoostConfig boost = BoostConfig.of(Preset.XGBLORA);
    private final TrainConfig cfg = new TrainConfig();
    private ProgressListener listener = ProgressListener.NONE;
    private Kernels kernels;
    private boolean resume, exportModel = true, exportAdapter = true, evaluateBefore = true;

    private FineTuneBuilder(Path model) {
        this.model = Objects.requireNonNull(model, "model directory");
    }

    /** Starts a job on the model in {@code dir} (config.json, safetensors weights, tokenizer.json). */
    public static FineTuneBuilder model(Path dir) {
        return new FineTuneBuilder(dir);
    }

    /** classify (default), sft or lm; keeps the column settings. */
    public FineTuneBuilder task(Task task) {
        data = new DataOptions(task, data.textColumn(), data.pairColumn(), data.labelColumn(), data.skipMalformed(), new LabelMap());
        return this;
    }

    public FineTuneBuilder trainFile(Path file) {
        train = file;
        return this;
    }

    /** Validation file: evaluated before training, every {@code evalEvery} steps, and at the end. */
    public FineTuneBuilder validFile(Path file) {
        valid = file;
        return this;
    }

    /** Column (TSV/CSV) or key (JSONL) names; null keeps the default. */
    public FineTuneBuilder columns(String text, String pair, String label) {
        data = data.withColumns(text, pair, label);
        return this;
    }

    public FineTuneBuilder skipMalformedRows(boolean skip) {
        data = data.withSkipMalformed(skip);
        return this;
    }

    /** The method with its preset defaults, adjusted by {@code settings} (rank, alpha, κ, L_s, targets, ...). */
    public FineTuneBuilder method(Preset preset, Consumer<BoostConfig> settings) {
        boost = BoostConfig.of(preset);
        if (settings != null) settings.accept(boost);
        return this;
    }

    public FineTuneBuilder method(Preset preset) {
        return method(preset, null);
    }

    /** Loop settings: steps or epochs, batch, lengths, learning rates, schedule, evaluation and checkpoint cadence, seed. */
    public FineTuneBuilder settings(Consumer<TrainConfig> settings) {
        settings.accept(cfg);
        return this;
    }

    /** Output directory: run.jsonl, labels.json, checkpoints/, merged/, adapter/. Required. */
    public FineTuneBuilder output(Path dir) {
        output = dir;
        return this;
    }

    public FineTuneBuilder progress(ProgressListener l) {
        listener = l == null ? ProgressListener.NONE : l;
        return this;
    }

    /** Compute backend (default: {@link Backends#defaults()}). */
    public FineTuneBuilder kernels(Kernels k) {
        kernels = k;
        return this;
    }

    /** Continue from the newest checkpoint in the output directory. */
    public FineTuneBuilder resume(boolean v) {
        resume = v;
        return this;
    }

    public FineTuneBuilder export(boolean mergedModel, boolean peftAdapter) {
        exportModel = mergedModel;
        exportAdapter = peftAdapter;
        return this;
    }

    /** Evaluate the untrained model (base weights + the seeded initial head) first (default true). */
    public FineTuneBuilder evaluateBefore(boolean v) {
        evaluateBefore = v;
        return this;
    }

    /** The job as {@link FineTune} takes it. */
    public FineTune.Job job() {
        if (train == null) throw new IllegalStateException("no training file: call trainFile(...)");
        if (output == null) throw new IllegalStateException("no output directory: call output(...)");
        if (!Files.isDirectory(model)) throw new IllegalArgumentException("model directory " + model + " does not exist");
        return new FineTune.Job(model, train, valid, data, boost, cfg, output, resume, exportModel, exportAdapter);
    }

    /**
     * What a run produced. before/after: validation metrics of the untrained and the trained model
     * (null without a validation file); merged/adapter: null when not written.
     */
    public record Outcome(EvalResult before, EvalResult after, int steps, double seconds, double tokensPerSecond,
                          long trainableParamsPerStep, long cumulativeTrainableParams, List<Double> losses,
                          List<EvalResult> evaluations, int rounds, Path outputDir, Path runLog, Path merged, Path adapter,
                          String stoppedBy) {
    }

    /** Runs the job (blocking) and returns its outcome. */
    public Outcome run() {
        return run(job(), kernels == null ? Backends.defaults() : kernels, listener, evaluateBefore);
    }

    /** Runs {@code job}: optional baseline evaluation, training and exports. */
    public static Outcome run(FineTune.Job job, Kernels k, ProgressListener listener, boolean evaluateBefore) {
        return run(job, k, listener, evaluateBefore, null);
    }

    /** As {@link #run(FineTune.Job, Kernels, ProgressListener, boolean)}, as one replica of a data-parallel run (sync null: one process). */
    public static Outcome run(FineTune.Job job, Kernels k, ProgressListener listener, boolean evaluateBefore, GradientSync sync) {
        EvalResult before = null;
        if (evaluateBefore && job.validFile() != null && !job.resume() && (sync == null || sync.rank() == 0)) {
            listener.onMessage("evaluating the untrained model on " + job.validFile());
            before = Evaluation.untrained(job, k);
            listener.onEval(0, before);
        }
        double[] tps = {Double.NaN};
        ProgressListener tap = new ProgressListener() {
            @Override
            public void onStep(StepInfo s) {
                tps[0] = s.tokensPerSecond();
                listener.onStep(s);
            }

            @Override
            public void onRound(BoostingScheduler.RoundSummary r, double meanLoss) {
                listener.onRound(r, meanLoss);
            }

            @Override
            public void onEval(int step, EvalResult e) {
                listener.onEval(step, e);
            }

            @Override
            public void onMessage(String m) {
                listener.onMessage(m);
            }
        };
        FineTune.Result r = FineTune.run(job, k, tap, sync);
        Trainer t = r.trainer();
        Path merged = job.outputDir().resolve("merged"), adapter = job.outputDir().resolve("adapter");
        return new Outcome(before, r.eval(), t.step(), r.seconds(), tps[0], t.trainableParamsPerStep(), t.cumulativeTrainableParams(),
                t.losses(), t.evals(), t.scheduler().boosters().stream().mapToInt(b -> b.round()).max().orElse(-1) + 1,
                job.outputDir(), job.train().logFile, job.exportModel() && Files.isDirectory(merged) ? merged : null,
                job.exportAdapter() && Files.isDirectory(adapter) ? adapter : null, t.stoppedBy());
    }
}
