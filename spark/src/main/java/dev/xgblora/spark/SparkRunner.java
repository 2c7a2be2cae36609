package dev.xgblora.spark;

import dev.xgblora.train.DistributedRunner;
import dev.xgblora.train.FineTuneBuilder;
import dev.xgblora.train.ProgressListener;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import scala.reflect.ClassTag$;

/**
 * {@code xgblora train --spark MASTER}: one Spark job in barrier execution mode, one task per
 * replica, all started together (see {@link ReplicaTask}); the driver shows replica 0's progress
 * from run.jsonl and returns its outcome. A failed task fails the barrier stage, which Spark
 * retries as a whole ({@code spark.stage.maxConsecutiveAttempts}); the replicas then resume from
 * the newest checkpoint. Under spark-submit the master spark-submit was given wins.
 */
public final class SparkRunner implements DistributedRunner {
    /** {@code rank:step}: replica {@code rank} fails once at {@code step} (a drill of the retry path). */
    public static final String FAIL_AT = "xgblora.spark.failAt";
    /** Raw gradient bytes of all replicas' parts in one allGather (default 32 MiB; its reply is about 4/3 of it). */
    public static final String CHUNK_BYTES = "xgblora.spark.chunkBytes";
    private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+|\\*)]");

    @Override
    public FineTuneBuilder.Outcome train(String master, int replicas, Map<String, String> settings, boolean evaluateBefore,
                                         ProgressListener progress) {
        // Spark logs INFO to the console by default; the progress bar is what a user should see
        org.apache.logging.log4j.core.config.Configurator.setRootLevel(
                org.apache.logging.log4j.Level.toLevel(System.getProperty("xgblora.spark.logLevel", "WARN")));
        // warnings that say nothing about the run (loopback host name, no native Hadoop, DJL's CUDA probe)
        for (String quiet : List.of("org.apache.spark.util.Utils", "org.apache.hadoop.util.NativeCodeLoader", "ai.djl")) {
            org.apache.logging.log4j.core.config.Configurator.setLevel(quiet, org.apache.logging.log4j.Level.ERROR);
        }
        SparkConf conf = new SparkConf().setAppName("xgblora train");
        if (!conf.contains("spark.master")) conf.setMaster(withRetries(master));
        conf.setIfMissing("spark.ui.enabled", "false");
        boolean resume = Boolean.parseBoolean(settings.getOrDefault("resume", "false"));
        Path log = Path.of(settings.get("output")).resolve("run.jsonl");
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            int n = replicas > 0 ? replicas : sc.defaultParallelism();
            progress.onMessage("Spark " + sc.version() + " on " + sc.master() + ": " + n + " replicas");
            if (!resume) Files.deleteIfExists(log); // the follower must not replay an earlier run's log
            ReplicaTask task = new ReplicaTask(settings, evaluateBefore, failAt(), Integer.getInteger(CHUNK_BYTES, 32 << 20));
            List<String> results;
            try (RunLogFollower follower = new RunLogFollower(log, progress, resume)) {
                // Spark retries a failed barrier stage only when it is a shuffle-map stage (a result
                // stage may have committed output): the shuffle after it makes it one
                results = sc.parallelize(IntStream.range(0, n).boxed().toList(), n).rdd().barrier()
                        .mapPartitions(task, false, ClassTag$.MODULE$.apply(String.class)).toJavaRDD().repartition(1).collect();
            }
            return OutcomeJson.read(results.stream().filter(r -> !r.isEmpty()).findFirst()
                    .orElseThrow(() -> new IllegalStateException("replica 0 returned no outcome")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** local[N] gives each task one attempt; local[N,4] lets the barrier stage be retried after a failure. */
    static String withRetries(String master) {
        Matcher m = LOCAL.matcher(master.trim());
        return m.matches() ? "local[" + m.group(1) + ",4]" : master;
    }

    static int[] failAt() {
        String v = System.getProperty(FAIL_AT);
        if (v == null || v.isBlank()) return null;
        String[] p = v.trim().split(":");
        try {
            if (p.length != 2) throw new NumberFormatException();
            return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property " + FAIL_AT + " must be rank:step (e.g. 1:5), got '" + v + "'");
        }
    }
}
