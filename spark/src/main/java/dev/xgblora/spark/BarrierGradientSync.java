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
    private long lastBytes;

    BarrierGradientSync(BarrierTaskContext ctx, int[] failAt) {
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
        String mine = new GradientMessage(rank(), step, values, scalars).encode();
        String[] all = ctx.allGather(mine);
        long received = 0;
        for (String s : all) received += s.length();
        lastBytes = mine.length() + received; // Base64 is ASCII: one byte per char
        GradientMessage.sumInRankOrder(all, step, values, scalars);
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
