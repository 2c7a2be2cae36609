package dev.xgblora.spark;

import dev.xgblora.cli.TrainCommand;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.train.Checkpoint;
import dev.xgblora.train.EvalResult;
import dev.xgblora.train.Evaluation;
import dev.xgblora.train.FineTune;
import dev.xgblora.train.FineTuneBuilder;
import dev.xgblora.train.ProgressListener;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.spark.BarrierTaskContext;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;

/**
 * What one barrier task (one replica) runs on its executor: rebuilds the job from the settings,
 * maps the model from the shared path, trains its share of every batch with the gradients summed
 * over all replicas, and (replica 0) returns the outcome as JSON. In a retried stage attempt
 * every replica resumes from the newest checkpoint, so a failed task or executor loses only the
 * steps since then, and the result is the uninterrupted run's.
 */
final class ReplicaTask extends scala.runtime.AbstractFunction1<Iterator<Integer>, Iterator<String>> implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The step replica 0 of a retried attempt resumed from, -1 if none (tests on local masters). */
    static final java.util.concurrent.atomic.AtomicInteger resumedAt = new java.util.concurrent.atomic.AtomicInteger(-1);
    private final HashMap<String, String> settings;
    private final boolean evaluateBefore;
    private final int[] failAt;
    private final int chunkBytes;

    ReplicaTask(Map<String, String> settings, boolean evaluateBefore, int[] failAt, int chunkBytes) {
        this.chunkBytes = chunkBytes;
        this.settings = new HashMap<>(settings);
        this.evaluateBefore = evaluateBefore;
        this.failAt = failAt;
    }

    @Override
    public Iterator<String> apply(Iterator<Integer> partition) {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        BarrierGradientSync sync = new BarrierGradientSync(ctx, failAt, chunkBytes);
        try {
            FineTune.Job asked = TrainCommand.jobOf(settings), job = asked;
            Path latest = Checkpoint.latest(asked.outputDir().resolve("checkpoints"));
            if (ctx.stageAttemptNumber() > 0 && latest != null && !asked.resume()) {
                Map<String, String> s = new HashMap<>(settings);
                s.put("resume", "true");
                job = TrainCommand.jobOf(s);
                if (sync.rank() == 0) resumedAt.set(RunLogTrim.toCheckpoint(asked.outputDir().resolve("run.jsonl"), latest));
            }
            // the kernels use the cores Spark gave this task (spark.task.cpus)
            Kernels k = Backends.createPrimed(Backends.available().contains("vector") ? "vector" : "reference", Math.max(1, ctx.cpus()));
            boolean baseline = evaluateBefore && !asked.resume() && sync.rank() == 0 && asked.validFile() != null;
            // a retried attempt resumes, which skips the untrained model's evaluation: the first attempt's was lost, so redo it
            EvalResult before = baseline && job.resume() ? Evaluation.untrained(asked, k) : null;
            FineTuneBuilder.Outcome o = FineTuneBuilder.run(job, k, ProgressListener.NONE, baseline, sync);
            if (before != null) {
                o = new FineTuneBuilder.Outcome(before, o.after(), o.steps(), o.seconds(), o.tokensPerSecond(), o.trainableParamsPerStep(),
                        o.cumulativeTrainableParams(), o.losses(), o.evaluations(), o.rounds(), o.outputDir(), o.runLog(), o.merged(), o.adapter(), o.stoppedBy());
            }
            String result = sync.rank() == 0 ? OutcomeJson.write(o) : "";
            return CollectionConverters.asScala(java.util.List.of(result).iterator());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
