package dev.xgblora.train;

import java.nio.file.Path;

/** Settings of the training loop. Fluent setters return this. */
public final class TrainConfig {
    /** Settings with defaults (default settings); adjust with the fluent setters. */
    public TrainConfig() {
    }

    /** Total optimizer steps; 0 = epochs × batches per epoch / accumulation. */
    public int steps;
    public double epochs = 1;
    public int batchSize = 32;
    public int gradAccum = 1;
    public int maxLength = 64;
    /** Learning rate of adapters (or of all weights in full fine-tuning). */
    public double lr = 1e-3;
    /** Learning rate of the task head; NaN = same as lr. */
    public double headLr = Double.NaN;
    public float weightDecay = 0.01f;
    public double warmupRatio = 0.06;
    /** Warmup steps; -1 = warmupRatio × steps. */
    public int warmupSteps = -1;
    public LrSchedule.Decay decay = LrSchedule.Decay.LINEAR;
    /** Jagged re-warmup steps at each round start (0 = off; relora sets its own). */
    public int rewarmSteps;
    /** Clip the global gradient norm to this (0 = no clipping). */
    public double maxGradNorm;
    public long seed;
    public boolean bucketByLength;
    public int logEvery = 10;
    /** Evaluate on the validation data every N steps (0 = only at the end). */
    public int evalEvery;
    public int evalBatchSize = 64;
    /** Also evaluate after every round (its metric goes into the round's log record). */
    public boolean evalEachRound;
    /** Consecutive non-finite steps tolerated before the run stops. */
    public int maxBadSteps = 5;
    /** Checkpoint every N steps into checkpointDir (0 = never). */
    public int checkpointEvery;
    public Path checkpointDir;
    /** JSONL run log (null = none). */
    public Path logFile;
    /** SHA-256 of the base model's weight files (set by FineTune; checkpoints record it, resume and export check it). */
    public String baseModelSha256;
    public EncoderClassifier.PoolingMode pooling = EncoderClassifier.PoolingMode.MEAN;
    /** Stops the loop cleanly at the next step boundary, with a checkpoint (null = never asked). */
    public StopRequest stop;
    /** Decoders: keep only each layer's input and recompute the layer in backward (less memory, one more forward). */
    public boolean recompute;
    /**
     * sft/lm: pack whole documents into rows of maxLength tokens (attention, positions and targets
     * stay inside each document); the validation data is evaluated unpacked.
     */
    public boolean pack;
    /**
     * Wall-clock budget of the training loop in seconds (0 = none): the horizon of the LR schedule
     * and of the rounds is planned from the measured step time, and training stops at the budget,
     * then evaluates and exports as usual; steps/epochs stay the upper bound.
     */
    public double timeBudgetSeconds;
    /** Resident-memory cap in bytes (0 = none): training stops after the first step that exceeds it. */
    public long memoryBudgetBytes;
    /** Element type of the merged export's backbone weights (null = as loaded, e.g. bf16 stays bf16). */
    public dev.xgblora.tensor.DType mergedDtype;
    /** Nanosecond clock of the time budget (tests substitute a fake one). */
    public java.util.function.LongSupplier clock = System::nanoTime;
    /** Resident bytes of this process, read after each step under a memory budget (tests substitute one). */
    public java.util.function.LongSupplier residentBytes = ResidentMemory::current;

    public TrainConfig steps(int v) { steps = v; return this; }
    public TrainConfig epochs(double v) { epochs = v; return this; }
    public TrainConfig batchSize(int v) { batchSize = v; return this; }
    public TrainConfig gradAccum(int v) { gradAccum = v; return this; }
    public TrainConfig maxLength(int v) { maxLength = v; return this; }
    public TrainConfig lr(double v) { lr = v; return this; }
    public TrainConfig headLr(double v) { headLr = v; return this; }
    public TrainConfig weightDecay(float v) { weightDecay = v; return this; }
    public TrainConfig warmupRatio(double v) { warmupRatio = v; return this; }
    public TrainConfig warmupSteps(int v) { warmupSteps = v; return this; }
    public TrainConfig decay(LrSchedule.Decay v) { decay = v; return this; }
    public TrainConfig rewarmSteps(int v) { rewarmSteps = v; return this; }
    public TrainConfig maxGradNorm(double v) { maxGradNorm = v; return this; }
    public TrainConfig seed(long v) { seed = v; return this; }
    public TrainConfig bucketByLength(boolean v) { bucketByLength = v; return this; }
    public TrainConfig logEvery(int v) { logEvery = v; return this; }
    public TrainConfig evalEvery(int v) { evalEvery = v; return this; }
    public TrainConfig evalBatchSize(int v) { evalBatchSize = v; return this; }
    public TrainConfig evalEachRound(boolean v) { evalEachRound = v; return this; }
    public TrainConfig maxBadSteps(int v) { maxBadSteps = v; return this; }
    public TrainConfig checkpointEvery(int v) { checkpointEvery = v; return this; }
    public TrainConfig checkpointDir(Path v) { checkpointDir = v; return this; }
    public TrainConfig logFile(Path v) { logFile = v; return this; }
    public TrainConfig pooling(EncoderClassifier.PoolingMode v) { pooling = v; return this; }
    public TrainConfig stop(StopRequest v) { stop = v; return this; }
    public TrainConfig recompute(boolean v) { recompute = v; return this; }
    public TrainConfig pack(boolean v) { pack = v; return this; }
    public TrainConfig timeBudgetSeconds(double v) { timeBudgetSeconds = v; return this; }
    public TrainConfig memoryBudgetBytes(long v) { memoryBudgetBytes = v; return this; }
    public TrainConfig mergedDtype(dev.xgblora.tensor.DType v) { mergedDtype = v; return this; }

    public double effectiveHeadLr() {
        return Double.isNaN(headLr) ? lr : headLr;
    }

    /** Total steps for a training set with {@code batchesPerEpoch} batches. */
    public int totalSteps(int batchesPerEpoch) {
        if (steps > 0) return steps;
        return Math.max(1, (int) Math.ceil(epochs * batchesPerEpoch / gradAccum));
    }
}
