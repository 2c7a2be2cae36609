package dev.xgblora.kernels;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.function.IntConsumer;

/**
 * A fixed set of worker threads for the vector kernels. Work is split into numbered parts; which
 * thread runs a part never changes what the part computes, so results do not depend on the
 * thread count (every output element is produced by exactly one part, in a fixed order).
 */
final class KernelPool implements AutoCloseable {
    private final int threads;
    private final ForkJoinPool pool;

    KernelPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads, p -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("xgblora-kernel-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    int threads() {
        return threads;
    }

    /** Runs body(0..parts-1), in parallel when there are threads and parts to spare. */
    void run(int parts, IntConsumer body) {
        if (parts <= 0) return;
        if (pool == null || parts == 1 || ForkJoinTask.inForkJoinPool()) {
            for (int i = 0; i < parts; i++) body.accept(i);
            return;
        }
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[parts];
        for (int i = 0; i < parts; i++) {
            int part = i;
            tasks[i] = pool.submit(() -> body.accept(part));
        }
        for (ForkJoinTask<?> t : tasks) t.join();
    }

    /**
     * Splits [0, n) into at most {@code threads} contiguous ranges whose boundaries are multiples
     * of {@code grain} and runs body(start, end) for each.
     */
    void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        int units = (n + grain - 1) / grain;
        int parts = Math.min(threads, units);
        if (parts <= 1) {
            body.run(0, n);
            return;
        }
        run(parts, p -> {
            int u0 = (int) ((long) units * p / parts), u1 = (int) ((long) units * (p + 1) / parts);
            int s = u0 * grain, e = Math.min(n, u1 * grain);
            if (s < e) body.run(s, e);
        });
    }

    @FunctionalInterface
    interface RangeBody {
        void run(int start, int end);
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdown();
    }
}
