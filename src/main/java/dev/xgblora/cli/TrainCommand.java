package dev.xgblora.cli;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.adapt.LayerSelection;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.ModelCache;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.train.DataOptions;
import dev.xgblora.train.EncoderClassifier;
import dev.xgblora.train.EvalResult;
import dev.xgblora.train.FineTune;
import dev.xgblora.train.LabelMap;
import dev.xgblora.train.LrSchedule;
import dev.xgblora.train.ProgressListener;
import dev.xgblora.train.Task;
import dev.xgblora.train.TrainConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Fine-tunes a model on a data file with XGBLoRA, LoRA, ReLoRA, CoLA or full fine-tuning. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Fine-tune a model (classification on BERT-family encoders) and export the merged model and a PEFT adapter.",
        footer = {"", "Example (SST-2 with all-MiniLM-L6-v2, XGBLoRA rank 1, 2 of 6 layers per booster):",
                "  xgblora train --model minilm --train ../shared/data/sst2/train.tsv --valid ../shared/data/sst2/dev.tsv \\",
                "      --method xgblora --steps 2105 --lr 1e-3 --head-lr 5e-4 --output runs/sst2-xgb"})
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory (config.json, safetensors, tokenizer.json), or 'minilm' for the bundled all-MiniLM-L6-v2.")
    String model;
    @Option(names = "--train", required = true, paramLabel = "FILE", description = "Training data: .tsv, .csv, .jsonl (or .txt for lm).")
    Path train;
    @Option(names = "--valid", paramLabel = "FILE", description = "Validation data, evaluated every --eval-every steps and at the end.")
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

    @Option(names = "--method", defaultValue = "xgblora", description = "xgblora (default), lora, full, relora or cola.")
    String method;
    @Option(names = "--steps", defaultValue = "0", description = "Optimizer steps (default: --epochs over the training set).")
    int steps;
    @Option(names = "--epochs", defaultValue = "1", description = "Epochs when --steps is not given (default 1).")
    double epochs;
    @Option(names = "--batch-size", defaultValue = "32") int batchSize;
    @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per optimizer step.") int gradAccum;
    @Option(names = "--max-length", defaultValue = "64", description = "Tokens per example (dynamic padding below it).") int maxLength;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Learning rate of adapters (all weights for full).") double lr;
    @Option(names = "--head-lr", description = "Learning rate of the classification head (default: --lr).") Double headLr;
    @Option(names = "--weight-decay", defaultValue = "0.01", description = "AdamW decoupled weight decay (none on biases and norms).") float weightDecay;
    @Option(names = "--warmup-ratio", defaultValue = "0.06") double warmupRatio;
    @Option(names = "--schedule", defaultValue = "linear", description = "linear, cosine or constant decay after warmup.") String schedule;
    @Option(names = "--rewarm-steps", defaultValue = "0", description = "Jagged LR re-warmup at each round start (relora: a tenth of a round).") int rewarmSteps;
    @Option(names = "--max-grad-norm", defaultValue = "0", description = "Clip the global gradient norm (0: off).") double maxGradNorm;

    @Option(names = {"--steps-per-booster", "--kappa"}, defaultValue = "0", description = "κ: steps per booster/round (xgblora 50, relora K/4, cola K/3).") int kappa;
    @Option(names = "--rounds", defaultValue = "0", description = "cola: number of rounds (3).") int rounds;
    @Option(names = "--layers-per-booster", defaultValue = "0", description = "L_s: layers per booster (xgblora: L/3, at least 1).") int layersPerBooster;
    @Option(names = "--rank", defaultValue = "0", description = "Adapter rank (xgblora 1, others 8).") int rank;
    @Option(names = "--alpha", defaultValue = "16") float alpha;
    @Option(names = "--rslora", description = "Scale alpha/sqrt(r) instead of alpha/r.") boolean rsLora;
    @Option(names = "--eta", defaultValue = "1.0", description = "Merge shrinkage η.") float eta;
    @Option(names = "--adapter-l2", defaultValue = "0", description = "λ: L2 penalty on adapter factors.") float l2;
    @Option(names = "--targets", split = ",", defaultValue = "all", description = "Target modules: names (query,key,value,attn_out,intermediate,output) or globs; 'all'.") List<String> targets;
    @Option(names = "--layer-selection", description = "random (xgblora default), cyclic or all.") String layerSelection;
    @Option(names = "--lora-dropout", defaultValue = "0", description = "Dropout on the adapter input while training (PEFT's lora_dropout).") float loraDropout;
    @Option(names = "--lora-plus-ratio", defaultValue = "1", description = "LoRA+: learning-rate multiplier of B.") float loraPlus;

    @Option(names = "--pooling", defaultValue = "mean", description = "mean (default) or cls.") String pooling;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--bucket", description = "Length bucketing (less padding).") boolean bucket;
    @Option(names = "--log-every", defaultValue = "10") int logEvery;
    @Option(names = "--eval-every", defaultValue = "0", description = "Evaluate every N steps (0: only at the end).") int evalEvery;
    @Option(names = "--eval-each-round", description = "Also evaluate after every booster round (logged with the round).") boolean evalEachRound;
    @Option(names = "--checkpoint-every", defaultValue = "0", description = "Checkpoint every N steps into OUTPUT/checkpoints (0: never).") int checkpointEvery;
    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Output directory: run.jsonl, labels.json, checkpoints/, merged/, adapter/.")
    Path output;
    @Option(names = "--resume", description = "Continue from the newest checkpoint in OUTPUT/checkpoints.") boolean resume;
    @Option(names = "--no-export", description = "Do not write merged/ and adapter/.") boolean noExport;

    @Override
    public Integer call() {
        Path modelDir = model.equalsIgnoreCase("minilm") ? ModelCache.miniLm() : Path.of(model);
        DataOptions data = new DataOptions(Task.parse(task), textColumn, pairColumn, labelColumn, skipMalformed, new LabelMap());
        BoostConfig b = BoostConfig.of(Preset.parse(method)).stepsPerRound(kappa).rounds(rounds).layersPerRound(layersPerBooster)
                .rank(rank).alpha(alpha).rsLora(rsLora).eta(eta).l2(l2).targets(targets).loraPlusRatio(loraPlus).dropout(loraDropout).seed(seed);
        if (layerSelection != null) b.selection(LayerSelection.parse(layerSelection));
        TrainConfig c = new TrainConfig().steps(steps).epochs(epochs).batchSize(batchSize).gradAccum(gradAccum).maxLength(maxLength)
                .lr(lr).headLr(headLr == null ? Double.NaN : headLr).weightDecay(weightDecay).warmupRatio(warmupRatio)
                .decay(LrSchedule.Decay.valueOf(schedule.toUpperCase(Locale.ROOT))).rewarmSteps(rewarmSteps).maxGradNorm(maxGradNorm)
                .seed(seed).bucketByLength(bucket).logEvery(logEvery).evalEvery(evalEvery).evalEachRound(evalEachRound).checkpointEvery(checkpointEvery)
                .pooling(EncoderClassifier.PoolingMode.valueOf(pooling.toUpperCase(Locale.ROOT)));
        Kernels k = Backends.defaults();
        FineTune.Result r = FineTune.run(new FineTune.Job(modelDir, train, valid, data, b, c, output, resume, !noExport, !noExport), k,
                new ConsoleProgress());
        System.out.printf("done in %.1f s%s%n", r.seconds(), r.eval() == null ? "" : "; validation: " + r.eval().describe());
        return 0;
    }

    /** One line per logged step, round and evaluation. */
    static final class ConsoleProgress implements ProgressListener {
        @Override
        public void onStep(StepInfo s) {
            System.out.printf("step %d/%d  epoch %d  loss %.4f  lr %.2e  %.0f tok/s%s%s%n", s.step(), s.totalSteps(), s.epoch(), s.loss(),
                    s.lr(), s.tokensPerSecond(), s.round() >= 0 ? "  round " + s.round() : "", s.skipped() ? "  (skipped: non-finite)" : "");
        }

        @Override
        public void onRound(BoostingScheduler.RoundSummary r, double meanLoss) {
            System.out.printf("round %d  layers %s  loss %.4f  |ΔW| %.4f%n", r.round(), Arrays.toString(r.layers()), meanLoss, r.deltaNorm());
        }

        @Override
        public void onEval(int step, EvalResult e) {
            System.out.println("eval @" + step + ": " + e.describe());
        }

        @Override
        public void onMessage(String m) {
            System.out.println(m);
        }
    }
}
