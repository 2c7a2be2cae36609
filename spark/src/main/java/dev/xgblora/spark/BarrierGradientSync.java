package dev.xgblora.spark;

import dev.xgblora.train.GradientSync;
import org.apache.spark.BarrierTaskContext;

/**
 * {@link GradientSync} over Spark's barrier execution mode: every step each replica sends its
 * contribution with {@link BarrierTaskContext#allGather} (through the driver's barrier
 * coordinator) and sums all of them in rank order. {@code failAt} injects one task failure (tests
 * and the README's drill): the replica of rank {@code failAt[0]} throws at step {@code failAt[1]}
 * in the stage's first attempt only.
 */
final class BarrierGradientSync implements GradientSync {
    /** How many injected failures fired in this JVM (tests on local masters). */
    static final java.util.concurrent.atomic.AtomicInteger injectedFailures = new java.util.concurrent.atomic.AtomicInteger();
    private final BarrierTaskContext ctx;
    private final int replicas;
    private final int[] failAt;
    private final int chunkBytes;
    private long lastBytes;
    private double lastSeconds;

    /** @param chunkBytes raw gradient bytes of all replicas' parts together in one allGather */
    BarrierGradientSync(BarrierTaskContext ctx, int[] failAt, int chunkBytes) {
        this.chunkBytes = chunkBytes;
        this.ctx = ctx;
        this.replicas = ctx.getTaskInfos().length;
        this.failAt = failAt;
    }

    @Override
    public int replicas() {
        return replicas;
    }

    @Override
    public int rank() {
        return ctx.partitionId();
    }

    @Override
    public void sum(int step, float[] values, double[] scalars) {
        if (failAt != null && failAt[0] == rank() && failAt[1] == step && ctx.stageAttemptNumber() == 0) {
            injectedFailures.incrementAndGet();
            throw new InjectedFailure("injected failure of replica " + rank() + " at step " + step + " (xgblora.spark.failAt)");
        }
        // large exchanges (full fine-tuning) go in parts, so that no reply (all replicas' parts) nears Spark's RPC limits
        long t0 = System.nanoTime();
        int per = Math.max(1, chunkBytes / 4 / replicas);
        long bytes = 0;
        for (int from = 0; from == 0 || from < values.length; from += per) {
            int to = Math.min(values.length, from + per);
            float[] part = java.util.Arrays.copyOfRange(values, from, to);
            double[] partScalars = from == 0 ? scalars : new double[0];
            String mine = new GradientMessage(rank(), step, part, partScalars).encode();
            String[] all = ctx.allGather(mine);
            bytes += mine.length(); // Base64 is ASCII: one byte per char
            for (String s : all) bytes += s.length();
            GradientMessage.sumInRankOrder(all, step, part, partScalars);
            System.arraycopy(part, 0, values, from, part.length);
        }
        lastBytes = bytes;
        lastSeconds = (System.nanoTime() - t0) / 1e9;
    }

    @Override
    public double lastSeconds() {
        return lastSeconds;
    }

    @Override
    public long lastBytes() {
        return lastBytes;
    }

    /** The failure {@code xgblora.spark.failAt} plants. */
    static final class InjectedFailure extends RuntimeException {
        InjectedFailure(String message) {
            super(message);
        }
    }
}
