package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.kernels.ReferenceKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The Trainer's data-parallel hook without a cluster: N trainers in threads, summing through an
 * in-memory exchange, must follow the loss curve of one trainer on the whole batch (the Spark
 * module runs the same hook over BarrierTaskContext.allGather).
 */
class GradientSyncTest {
    /** N replicas in one JVM: each sum waits for all, then every replica adds the slots in rank order. */
    static final class ThreadExchange {
        final int n;
        final float[][] values;
        final double[][] scalars;
        final CyclicBarrier filled, read;

        ThreadExchange(int n) {
            this.n = n;
            values = new float[n][];
            scalars = new double[n][];
            filled = new CyclicBarrier(n);
            read = new CyclicBarrier(n);
        }

        GradientSync replica(int rank) {
            return new GradientSync() {
                public int replicas() {
                    return n;
                }

                public int rank() {
                    return rank;
                }

                public void sum(int step, float[] v, double[] s) {
                    try {
                        values[rank] = v.clone();
                        scalars[rank] = s.clone();
                        filled.await();
                        java.util.Arrays.fill(v, 0f);
                        java.util.Arrays.fill(s, 0);
                        for (int r = 0; r < n; r++) {
                            for (int i = 0; i < v.length; i++) v[i] += values[r][i];
                            for (int i = 0; i < s.length; i++) s[i] += scalars[r][i];
                        }
                        read.await();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }

                public long lastBytes() {
                    return 0;
                }

                public double lastSeconds() {
                    return 0;
                }
            };
        }
    }

    private static TrainConfig cfg(int batch) {
        return new TrainConfig().steps(8).batchSize(batch).maxLength(16).lr(5e-3).headLr(5e-3).warmupSteps(2).seed(3).logEvery(1);
    }

    /** Losses of replica 0 of an N-replica run (every replica's must agree). */
    private static List<Double> replicated(int n, Supplier<BoostConfig> boost, Dataset d, int batch) throws Exception {
        ThreadExchange x = new ThreadExchange(n);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<List<Double>>> runs = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                GradientSync sync = x.replica(r);
                runs.add(pool.submit(() -> {
                    Trainer t = TrainerTest.trainer(boost.get(), cfg(batch), d, null).replicas(sync);
                    t.run();
                    return t.losses();
                }));
            }
            List<Double> first = runs.get(0).get();
            for (Future<List<Double>> f : runs) assertEquals(first, f.get(), "every replica sees the same summed losses");
            return first;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void assertSameCurve(List<Double> expected, List<Double> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) assertEquals(expected.get(i), actual.get(i), 1e-5, "loss at step " + (i + 1));
        assertTrue(!expected.get(0).equals(expected.get(expected.size() - 1)), "the run trained");
    }

    @Test
    void twoReplicasOfHalfTheBatchFollowOneProcess() throws Exception {
        Dataset d = TinyModels.sentiment(64, 1);
        for (Preset p : List.of(Preset.XGBLORA, Preset.LORA)) {
            Supplier<BoostConfig> b = () -> BoostConfig.of(p).stepsPerRound(3).layersPerRound(2);
            Trainer one = TrainerTest.trainer(b.get(), cfg(16), d, null);
            one.run();
            assertSameCurve(one.losses(), replicated(2, b, d, 16));
        }
    }

    @Test
    void unevenSharesAndAShortLastBatchAreWeightedByTheirPart() throws Exception {
        // 20 examples, batch 8: batches of 8, 8, 4 per epoch; three replicas take 2+3+3, then 1+1+2
        Dataset d = TinyModels.sentiment(20, 2);
        Supplier<BoostConfig> b = () -> BoostConfig.of(Preset.XGBLORA).stepsPerRound(3).layersPerRound(2);
        Trainer one = TrainerTest.trainer(b.get(), cfg(8), d, null);
        one.run();
        assertSameCurve(one.losses(), replicated(3, b, d, 8));
    }

    @Test
    void sharesCoverTheBatchOnceInOrder() {
        ThreadExchange x = new ThreadExchange(3);
        int[] batch = {9, 4, 7, 1, 3, 8, 2};
        List<Integer> joined = new ArrayList<>();
        for (int r = 0; r < 3; r++) for (int u : x.replica(r).share(batch)) joined.add(u);
        assertEquals(List.of(9, 4, 7, 1, 3, 8, 2), joined);
        assertEquals(0, x.replica(0).share(new int[] {5}).length, "fewer units than replicas: the first replicas get none");
    }

    @Test
    void withoutTheSparkModuleTheRunnerIsMissingWithAHowTo() {
        IllegalStateException e = assertThrows(IllegalStateException.class, DistributedRunner::find);
        assertTrue(e.getMessage().contains("spark/pom.xml"), e.getMessage());
    }
}
