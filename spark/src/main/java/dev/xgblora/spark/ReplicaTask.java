package dev.xgblora.spark;

import dev.xgblora.cli.TrainCommand;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.train.Checkpoint;
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

    private final HashMap<String, String> settings;
    private final boolean evaluateBefore;
    private final int[] failAt;

    ReplicaTask(Map<String, String> settings, boolean evaluateBefore, int[] failAt) {
        this.settings = new HashMap<>(settings);
        this.evaluateBefore = evaluateBefore;
        this.failAt = failAt;
    }

    @Override
    public Iterator<String> apply(Iterator<Integer> partition) {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        BarrierGradientSync sync = new BarrierGradientSync(ctx, failAt);
        try {
            Map<String, String> s = new HashMap<>(settings);
            Path output = TrainCommand.jobOf(s).outputDir();
            Path latest = Checkpoint.latest(output.resolve("checkpoints"));
            if (ctx.stageAttemptNumber() > 0 && latest != null) {
                s.put("resume", "true");
                if (sync.rank() == 0) RunLogTrim.toCheckpoint(output.resolve("run.jsonl"), latest);
            }
            FineTune.Job job = TrainCommand.jobOf(s);
            // the kernels use the cores Spark gave this task (spark.task.cpus)
            Kernels k = Backends.createPrimed(Backends.available().contains("vector") ? "vector" : "reference", Math.max(1, ctx.cpus()));
            FineTuneBuilder.Outcome o = FineTuneBuilder.run(job, k, ProgressListener.NONE, evaluateBefore && !job.resume(), sync);
            String result = sync.rank() == 0 ? OutcomeJson.write(o) : "";
            return CollectionConverters.asScala(java.util.List.of(result).iterator());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
