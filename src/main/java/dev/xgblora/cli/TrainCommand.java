package dev.xgblora.cli;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.LayerSelection;
import dev.xgblora.adapt.MergeMode;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.ModelCache;
import dev.xgblora.io.OutputLock;
import dev.xgblora.kernels.Backends;
import dev.xgblora.train.DataOptions;
import dev.xgblora.train.EncoderClassifier;
import dev.xgblora.train.FineTune;
import dev.xgblora.train.FineTuneBuilder;
import dev.xgblora.train.LabelMap;
import dev.xgblora.train.LrSchedule;
import dev.xgblora.train.StopRequest;
import dev.xgblora.train.TrainingStoppedException;
import dev.xgblora.train.Task;
import dev.xgblora.train.TaskData;
import dev.xgblora.train.TrainConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Fine-tunes a model on a data file with XGBLoRA, LoRA, ReLoRA, CoLA or full fine-tuning. With no
 * arguments it runs the built-in default job: XGBLoRA on all-MiniLM-L6-v2 over SST-2 (or the Rotten
 * Tomatoes corpus where SST-2 is absent, see {@link DemoData}) with a budget of a few minutes.
 */
@Command(name = "train", mixinStandardHelpOptions = true, defaultValueProvider = ConfigDefaults.class,
        description = {"Fine-tune a model (classification on BERT-family encoders; sft/lm on Llama-family decoders), evaluate it before and after,",
                "and write the run log, report.html, the merged model and a PEFT adapter into --output.",
                "With no arguments: the built-in default job (XGBLoRA on all-MiniLM-L6-v2 and SST-2, " + TrainCommand.DEFAULT_STEPS + " steps)."},
        footer = {"", "Examples:",
                "  # built-in default job: MiniLM + SST-2 (or Rotten Tomatoes)",
                "  xgblora train",
                "  # one epoch of SST-2 with XGBLoRA",
                "  xgblora train --train ../shared/data/sst2/train.tsv \\",
                "      --valid ../shared/data/sst2/dev.tsv --epochs 1 --output runs/sst2-xgb",
                "  # options from a JSON/YAML file (keys = long option names); flags win",
                "  xgblora train --config run.yaml --steps 100",
                "",
                "Per-method defaults: --lr xgblora 1e-3, lora/relora/cola 5e-4, full 2e-5 (head: unused);",
                "--head-lr 5e-4 (head: 1e-3); --rank xgblora 1, others 8; xgblora: kappa 50, L_s = a third",
                "of the layers, random layers per round."})
public final class TrainCommand implements Callable<Integer> {
    /** Budget of the built-in default job (measured: a few minutes on 2 cores). */
    static final int DEFAULT_STEPS = 300;

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "Options from a JSON or YAML file: keys are the long option names without dashes; flags on the command line win.")
    Path config;
    @Option(names = "--model", defaultValue = "minilm", paramLabel = "DIR", description = "Model directory (config.json, safetensors, tokenizer.json), or 'minilm' (default) for the bundled all-MiniLM-L6-v2.")
    String model;
    @Option(names = "--train", paramLabel = "FILE", description = "Training data: .tsv, .csv, .jsonl (or .txt for lm). Default: SST-2 from ../shared/data, xgblora.data or XGBLORA_DATA, else the Rotten Tomatoes corpus.")
    Path train;
    @Option(names = "--valid", paramLabel = "FILE", description = "Validation data, evaluated before training, every --eval-every steps and at the end.")
    Path valid;
    @Option(names = "--task", defaultValue = "classify", description = "classify (default), sft or lm.")
    String task;
    @Option(names = "--text-column", description = "Text column/key (default: the column that is not 'label').")
    String textColumn;
    @Option(names = "--pair-column", description = "Second-text column/key for sentence pairs.")
    String pairColumn;
    @Option(names = "--label-column", description = "Label column/key (default: label).")
    String labelColumn;
    @Option(names = "--skip-malformed", description = "Skip and count malformed rows instead of stopping at the first.")
    boolean skipMalformed;

    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP)
    String device;

    @Option(names = "--method", defaultValue = "xgblora", description = "xgblora (default), lora, full, head (backbone frozen), relora or cola.")
    String method;
    @Option(names = "--steps", defaultValue = "0", description = "Optimizer steps (default: --epochs over the training set; the default job: " + DEFAULT_STEPS + ").")
    int steps;
    @Option(names = "--epochs", description = "Epochs when --steps is not given (default 1).")
    Double epochs;
    @Option(names = "--time-budget", paramLabel = "SECONDS", description = "Wall-clock budget of the training loop: 600, 600s, 10m or 1.5h. The LR schedule and the rounds are planned for the steps that fit (measured after the first steps); training stops at the budget, then evaluates and exports. --steps/--epochs stay the upper bound.")
    String timeBudget;
    @Option(names = "--memory-budget", paramLabel = "SIZE", description = "Resident-memory cap (e.g. 2g, 1500m): training stops after the first step above it, then evaluates and exports; decoders are checked against the memory estimate before training.")
    String memoryBudget;
    @Option(names = "--batch-size", defaultValue = "32") int batchSize;
    @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per optimizer step.") int gradAccum;
    @Option(names = "--max-length", defaultValue = "64", description = "Tokens per example (dynamic padding below it).") int maxLength;
    @Option(names = "--lr", description = "Learning rate of adapters (all weights for full); default per method: xgblora 1e-3, lora/relora/cola 5e-4, full 2e-5; head: unused.") Double lr;
    @Option(names = "--head-lr", description = "Learning rate of the classification head (default 5e-4; 1e-3 for --method head).") Double headLr;
    @Option(names = "--weight-decay", defaultValue = "0.01", description = "AdamW decoupled weight decay (none on biases and norms).") float weightDecay;
    @Option(names = "--warmup-ratio", defaultValue = "0.06") double warmupRatio;
    @Option(names = "--schedule", defaultValue = "linear", description = "linear, cosine or constant decay after warmup.") String schedule;
    @Option(names = "--rewarm-steps", defaultValue = "0", description = "Jagged LR re-warmup at each round start (relora: a tenth of a round).") int rewarmSteps;
    @Option(names = "--max-grad-norm", defaultValue = "0", description = "Clip the global gradient norm (0: off).") double maxGradNorm;

    @Option(names = {"--steps-per-booster", "--kappa"}, defaultValue = "0", description = "κ: steps per booster/round (xgblora 50, relora K/4, cola K/3).") int kappa;
    @Option(names = "--rounds", defaultValue = "0", description = "cola: number of rounds (3); xgblora: boosters over the run, κ = planned steps / rounds (under --time-budget: the steps that fit). --kappa wins.") int rounds;
    @Option(names = "--layers-per-booster", defaultValue = "0", description = "L_s: layers per booster (xgblora: L/3, at least 1).") int layersPerBooster;
    @Option(names = "--head-warmup-steps", defaultValue = "0", description = "Train the head alone for N steps before the first booster (adapter methods).") int headWarmupSteps;
    @Option(names = "--rank", defaultValue = "0", description = "Adapter rank (xgblora 1, others 8).") int rank;
    @Option(names = "--alpha", defaultValue = "16") float alpha;
    @Option(names = "--rslora", description = "Scale alpha/sqrt(r) instead of alpha/r.") boolean rsLora;
    @Option(names = "--eta", defaultValue = "1.0", description = "Merge shrinkage η.") float eta;
    @Option(names = "--adapter-l2", defaultValue = "0", description = "λ: L2 penalty on adapter factors.") float l2;
    @Option(names = "--targets", split = ",", defaultValue = "all", description = "Target modules: names (query,key,value,attn_out,intermediate,output) or globs; 'all'.") List<String> targets;
    @Option(names = "--layer-selection", description = "random (xgblora default), cyclic, gradient (the L_s layers whose candidate boosters have the largest gradient on a probe batch) or all.") String layerSelection;
    @Option(names = "--lora-dropout", defaultValue = "0", description = "Dropout on the adapter input while training (PEFT's lora_dropout).") float loraDropout;
    @Option(names = "--lora-plus-ratio", defaultValue = "1", description = "LoRA+: learning-rate multiplier of B.") float loraPlus;
    @Option(names = "--merge", defaultValue = "auto", description = "How boosters join frozen weights: factored (U·V next to the mapped weight), dense (F32 copy) or auto (factored while k·(in+out) < in·out/2).") String merge;

    @Option(names = "--recompute", description = "Decoders: keep only each layer's input and recompute the layer in backward (activations of one layer instead of all).") boolean recompute;
    @Option(names = "--pack", description = "lm/sft: pack whole documents into rows of --max-length tokens (attention and positions stay inside each document; less padding with many short documents).") boolean pack;
    @Option(names = "--pooling", defaultValue = "mean", description = "mean (default) or cls.") String pooling;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--bucket", description = "Length bucketing (less padding).") boolean bucket;
    @Option(names = "--log-every", defaultValue = "10") int logEvery;
    @Option(names = "--eval-every", defaultValue = "0", description = "Evaluate every N steps (0: only at the end).") int evalEvery;
    @Option(names = "--eval-each-round", description = "Also evaluate after every booster round (logged with the round).") boolean evalEachRound;
    @Option(names = "--checkpoint-every", defaultValue = "0", description = "Checkpoint every N steps into OUTPUT/checkpoints (0: never).") int checkpointEvery;
    @Option(names = "--output", paramLabel = "DIR", description = "Output directory: run.jsonl, report.html, train-config.json, labels.json, checkpoints/, merged/, adapter/ (default: runs/<time>-<method>).")
    Path output;
    @Option(names = "--resume", arity = "0..1", fallbackValue = "", paramLabel = "DIR", description = "Continue the run in DIR (default: --output) from its newest checkpoint, with the settings in DIR/train-config.json; a finished run is left as it is.") String resume;
    @Option(names = "--no-export", description = "Do not write merged/ and adapter/.") boolean noExport;
    @Option(names = "--merged-dtype", defaultValue = "source", description = "Element type of merged/'s weights: source (default: as loaded, bf16 stays bf16), f32, bf16 or f16. f32 keeps the trained model exactly; bf16 rounds each merged weight (~0.4 % relative).") String mergedDtype;
    @Option(names = "--no-baseline", description = "Skip evaluating the untrained model before training.") boolean noBaseline;
    @Option(names = "--json", description = "Progress as one JSON object per line (step, round, eval, message, final).") boolean json;
    @Option(names = "--quiet", description = "Print only the final results table.") boolean quiet;
    @Option(names = "--spark", paramLabel = "MASTER", description = "Data-parallel on Apache Spark: local[2], spark://host:7077, k8s://...; --batch-size stays the global batch (needs the spark module, see README).")
    String spark;
    @Option(names = "--replicas", defaultValue = "0", description = "Replicas with --spark (default: N of local[N], else Spark's default parallelism).") int replicas;

    @Override
    public Integer call() throws Exception {
        ProgressRenderer progress = ProgressRenderer.forConsole(json, quiet, Math.max(50, logEvery));
        if (resume != null) {
            if (!resume.isEmpty()) output = Path.of(resume);
            if (output == null) throw new IllegalArgumentException("--resume needs the run's directory: --resume DIR");
            if (FineTune.finished(output)) {
                String done = "the run in " + output + " is finished; nothing to resume (results: " + output.resolve("merged") + ", "
                        + output.resolve("adapter") + ", " + output.resolve(RunReport.FILE) + ")";
                if (quiet) System.out.println(done);
                else progress.onMessage(done);
                return 0;
            }
        }
        boolean builtIn = train == null;
        String dataName = train == null ? null : train.getFileName().toString();
        if (builtIn) {
            DemoData.Files2 d = DemoData.resolve(progress::onMessage);
            dataName = d.name();
            train = d.train();
            if (valid == null) valid = d.dev();
            if (steps == 0 && epochs == null) {
                steps = DEFAULT_STEPS;
                if (evalEvery == 0) evalEvery = 100;
            }
            progress.onMessage("built-in default job: " + method + " on " + d.name() + ", " + (steps > 0 ? steps + " steps" : epochs + " epoch(s)"));
        }
        if (output == null) {
            output = Path.of("runs", java.time.LocalDateTime.now().format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))
                    + "-" + method.toLowerCase(Locale.ROOT));
        }
        FineTune.Job job = job();
        Map<String, String> settings = settings();
        String title = "xgblora train: " + method + " on " + dataName + (builtIn ? ", the built-in default job" : "");
        if (spark != null) {
            // replica 0 takes the output directory's lock in its task (in local mode it shares this JVM)
            if (resume == null) writeSettings(settings, output.resolve(SETTINGS_FILE));
            Map<String, String> replicated = new LinkedHashMap<>(settings);
            if (resume != null) replicated.put("resume", "true");
            FineTuneBuilder.Outcome o = TrainRun.present(dev.xgblora.train.DistributedRunner.find().train(spark, replicas, replicated,
                    !noBaseline, progress), job, progress, settings, title + " on " + spark, System.out);
            return o.steps() > 0 ? 0 : 1;
        }
        // the lock first: a second run on this directory must not overwrite its settings
        try (OutputLock lock = OutputLock.acquire(output); StopRequest stop = StopRequest.onShutdown()) {
            if (resume == null) writeSettings(settings, output.resolve(SETTINGS_FILE));
            job.train().stop(stop);
            FineTuneBuilder.Outcome o = TrainRun.execute(job, Devices.kernels(device), progress, settings, title, System.out, !noBaseline);
            return o.steps() > 0 ? 0 : 1;
        } catch (TrainingStoppedException stopped) {
            return 128 + 15; // SIGTERM's status; the trainer reported where it stopped and what it saved
        }
    }

    /** The effective options of a run, written into its output directory; {@code xgblora export} reads them back. */
    static final String SETTINGS_FILE = ConfigDefaults.RUN_SETTINGS;

    /** The job these options describe (data files and output must be set). */
    FineTune.Job job() {
        Path modelDir = model.equalsIgnoreCase("minilm") ? ModelCache.miniLm() : Path.of(model);
        Preset preset = Preset.parse(method);
        double adapterLr = lr != null ? lr : switch (preset) {
            case XGBLORA -> 1e-3;
            case FULL -> 2e-5;
            default -> 5e-4;
        };
        DataOptions data = new DataOptions(Task.parse(task), textColumn, pairColumn, labelColumn, skipMalformed, new LabelMap());
        if (pack) TaskData.requirePackable(data.task());
        BoostConfig b = BoostConfig.of(preset).stepsPerRound(kappa).rounds(rounds).layersPerRound(layersPerBooster)
                .rank(rank).alpha(alpha).rsLora(rsLora).eta(eta).l2(l2).targets(targets).loraPlusRatio(loraPlus).dropout(loraDropout).seed(seed)
                .merge(MergeMode.parse(merge)).headWarmupSteps(headWarmupSteps);
        if (layerSelection != null) b.selection(LayerSelection.parse(layerSelection));
        TrainConfig c = new TrainConfig().steps(steps).epochs(epochs == null ? 1 : epochs).batchSize(batchSize).gradAccum(gradAccum).maxLength(maxLength)
                .lr(adapterLr).headLr(headLr != null ? headLr : preset == Preset.HEAD ? 1e-3 : 5e-4).weightDecay(weightDecay).warmupRatio(warmupRatio)
                .decay(LrSchedule.Decay.valueOf(schedule.toUpperCase(Locale.ROOT))).rewarmSteps(rewarmSteps).maxGradNorm(maxGradNorm)
                .seed(seed).bucketByLength(bucket).logEvery(logEvery).evalEvery(evalEvery).evalEachRound(evalEachRound).checkpointEvery(checkpointEvery)
                .pooling(EncoderClassifier.PoolingMode.valueOf(pooling.toUpperCase(Locale.ROOT))).recompute(recompute).pack(pack)
                .mergedDtype(mergedDtype(mergedDtype))
                .timeBudgetSeconds(timeBudget == null ? 0 : parseSeconds(timeBudget))
                .memoryBudgetBytes(memoryBudget == null ? 0 : dev.xgblora.train.ResidentMemory.parseSize(memoryBudget));
        return new FineTune.Job(modelDir, train, valid, data, b, c, output, resume != null, !noExport, !noExport);
    }

    /** --merged-dtype: null for "source" (the dtypes as loaded), else F32, BF16 or F16. */
    static dev.xgblora.tensor.DType mergedDtype(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "source" -> null;
            case "f32" -> dev.xgblora.tensor.DType.F32;
            case "bf16" -> dev.xgblora.tensor.DType.BF16;
            case "f16" -> dev.xgblora.tensor.DType.F16;
            default -> throw new IllegalArgumentException("--merged-dtype: expected source, f32, bf16 or f16, got '" + s + "'");
        };
    }

    /** A duration: seconds, or a number with an s, m or h suffix. */
    static double parseSeconds(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        double mult = t.endsWith("h") ? 3600 : t.endsWith("m") ? 60 : 1;
        if (t.endsWith("h") || t.endsWith("m") || t.endsWith("s")) t = t.substring(0, t.length() - 1);
        try {
            double v = Double.parseDouble(t) * mult;
            if (v > 0 && Double.isFinite(v)) return v;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("--time-budget: not a positive duration: '" + s + "' (expected e.g. 600, 600s, 10m or 1.5h)");
    }

    /** Option name → value for every option that has one (the report's settings and train-config.json). */
    Map<String, String> settings() {
        Map<String, String> m = new LinkedHashMap<>();
        for (OptionSpec o : spec.options()) {
            String key = ConfigDefaults.key(o);
            if (o.usageHelp() || o.versionHelp() || NOT_SETTINGS.contains(key)) continue;
            Object v = o.getValue();
            if (v == null) continue;
            m.put(key, v instanceof List<?> l ? String.join(",", l.stream().map(String::valueOf).toList())
                    : v instanceof Path p ? p.toAbsolutePath().normalize().toString() : String.valueOf(v));
        }
        // the learning rate the method's default gave, so that the file reproduces the run
        if (lr == null || headLr == null) {
            TrainConfig resolved = job().train();
            if (lr == null) m.put("lr", String.valueOf(resolved.lr));
            if (headLr == null) m.put("head-lr", String.valueOf(resolved.effectiveHeadLr()));
        }
        return m;
    }

    private static final java.util.Set<String> NOT_SETTINGS = java.util.Set.of("config", "json", "quiet", "resume", "spark", "replicas");

    /** The job that {@link #settings()} (plus "resume") describe: how each replica of a --spark run rebuilds it. */
    public static FineTune.Job jobOf(Map<String, String> settings) throws java.io.IOException {
        Path file = java.nio.file.Files.createTempFile("xgblora-settings", ".json");
        try {
            java.nio.file.Files.writeString(file, new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(settings));
            TrainCommand c = new TrainCommand();
            new picocli.CommandLine(c).parseArgs("--config", file.toString());
            return c.job();
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    private static void writeSettings(Map<String, String> settings, Path file) throws java.io.IOException {
        java.nio.file.Files.createDirectories(file.getParent());
        dev.xgblora.io.AtomicFiles.writeString(file, new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter()
                .writeValueAsString(settings) + "\n");
    }
}
