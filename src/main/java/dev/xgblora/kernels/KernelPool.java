package dev.xgblora.kernels;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * A fixed set of worker threads for the vector kernels. Work is split into numbered parts; which
 * thread runs a part never changes what the part computes, so results do not depend on the
 * thread count (every output element is produced by exactly one part, in a fixed order).
 *
 * <p>The workers are plain threads of this pool, not a ForkJoinPool: a caller inside any other
 * pool (a parallel stream, the common pool) still gets them all, and waits in
 * {@link ForkJoinPool#managedBlock} so that its own pool can compensate for the blocked thread.
 * Only a call from one of this pool's own workers (a kernel nested in a part) runs inline, as
 * parts never wait for each other. The first part to fail stops the parts not yet started and is
 * rethrown, unchanged, to the caller once the parts already running have returned (so no part
 * writes to the caller's buffers after the call).
 */
final class KernelPool implements AutoCloseable {
    private final int threads;
    private final ThreadPoolExecutor executor;

    KernelPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        if (threads == 1) {
            executor = null;
            return;
        }
        AtomicInteger index = new AtomicInteger();
        executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Worker(r, "xgblora-kernel-" + index.getAndIncrement());
            t.setDaemon(true);
            return t;
        });
    }

    /** A worker of some KernelPool: kernels called from a part run inline there. */
    private static final class Worker extends Thread {
        Worker(Runnable r, String name) {
            super(r, name);
        }
    }

    int threads() {
        return threads;
    }

    /** Runs body(0..parts-1), in parallel when there are threads and parts to spare. */
    void run(int parts, IntConsumer body) {
        if (parts <= 0) return;
        if (executor == null || parts == 1 || Thread.currentThread() instanceof Worker) {
            for (int i = 0; i < parts; i++) body.accept(i);
            return;
        }
        Call call = new Call(parts, body);
        for (int i = 0; i < parts; i++) {
            int part = i;
            try {
                executor.execute(() -> call.runPart(part));
            } catch (RejectedExecutionException e) {
                call.fail(new IllegalStateException("kernel pool is closed", e));
                for (int j = i; j < parts; j++) call.done.countDown(); // never submitted
                break;
            }
        }
        call.await();
        call.rethrow();
    }

    /** One {@link #run} call: its parts, the first failure, and a latch that counts finished parts. */
    private static final class Call implements ForkJoinPool.ManagedBlocker {
        final IntConsumer body;
        final CountDownLatch done;
        final AtomicBoolean stopped = new AtomicBoolean();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicInteger skipped = new AtomicInteger();

        Call(int parts, IntConsumer body) {
            this.body = body;
            this.done = new CountDownLatch(parts);
        }

        void runPart(int part) {
            try {
                if (stopped.get()) skipped.incrementAndGet();
                else body.accept(part);
            } catch (Throwable t) {
                fail(t);
            } finally {
                done.countDown();
            }
        }

        /** Keeps the first failure; parts that have not started yet skip their work. */
        void fail(Throwable t) {
            failure.compareAndSet(null, t);
            stopped.set(true);
        }

        /**
         * Waits for every part (managed, so a ForkJoinPool caller's pool may add a thread). On
         * interrupt, stops the parts not yet started (they return at once), still waits for the
         * running ones, and restores the interrupt flag.
         */
        void await() {
            boolean interrupted = false;
            while (done.getCount() > 0) {
                try {
                    ForkJoinPool.managedBlock(this);
                } catch (InterruptedException e) {
                    interrupted = true;
                    stopped.set(true);
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }

        @Override
        public boolean block() throws InterruptedException {
            done.await();
            return true;
        }

        @Override
        public boolean isReleasable() {
            return done.getCount() == 0;
        }

        void rethrow() {
            Throwable t = failure.get();
            if (t == null && skipped.get() > 0) throw new KernelInterruptedException(skipped.get());
            if (t == null) return;
            if (t instanceof RuntimeException r) throw r;
            if (t instanceof Error e) throw e;
            throw new IllegalStateException("kernel part failed: " + t, t); // a checked exception thrown sneakily
        }
    }

    /** The calling thread was interrupted while it waited for a kernel's parts. */
    static final class KernelInterruptedException extends RuntimeException {
        KernelInterruptedException(int skippedParts) {
            super("interrupted while waiting for kernel threads: " + skippedParts + " part(s) skipped, the kernel's output is incomplete");
        }
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
        if (executor != null) executor.shutdown();
    }
}
