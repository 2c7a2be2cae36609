package dev.xgblora.train;

import java.util.Map;
import java.util.ServiceLoader;

/**
 * Runs one training job data-parallel on several replicas ({@code xgblora train --spark MASTER}).
 * Found with {@link ServiceLoader}, so the core never depends on a cluster framework: the
 * xgblora-spark module (its own Maven project under {@code spark/}) provides the implementation.
 */
public interface DistributedRunner {
    /**
     * Runs the job on {@code replicas} replicas (0: the cluster's default) and returns replica 0's
     * outcome; replica 0 writes the log, checkpoints, report data and exports into the output
     * directory, which must be on storage the driver and every executor can read.
     *
     * @param settings the options of {@code xgblora train} (long names without dashes, as in
     *                 train-config.json, plus {@code resume}); every replica rebuilds the job from them
     */
    FineTuneBuilder.Outcome train(String master, int replicas, Map<String, String> settings, boolean evaluateBefore,
                                  ProgressListener progress);

    /** The runner on the class path, or an error saying how to get one. */
    static DistributedRunner find() {
        return ServiceLoader.load(DistributedRunner.class).findFirst().orElseThrow(() -> new IllegalStateException(
                "--spark needs the xgblora-spark module on the class path, and it is not there: run through ./xgblora, which builds"
                        + " it (mvn -f spark/pom.xml package) when --spark is given, or add spark/target/xgblora-spark.jar and"
                        + " spark/target/lib/* to the class path (spark-submit: --jars)"));
    }
}
