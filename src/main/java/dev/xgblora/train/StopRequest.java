package dev.xgblora.train;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Asks a running {@link Trainer} to stop cleanly: it finishes the step under way, writes a
 * checkpoint and throws {@link TrainingStoppedException}. {@link #onShutdown()} connects it to
 * SIGTERM / Ctrl-C: the JVM's shutdown hook requests the stop and waits for that checkpoint.
 */
public final class StopRequest implements AutoCloseable {
    /** How long the shutdown hook waits for the step under way and the checkpoint. */
    static final long SHUTDOWN_WAIT_S = 600;

    private volatile boolean requested;
    private volatile boolean training;
    private final CountDownLatch settled = new CountDownLatch(1);
    private Thread hook;

    public void request() {
        requested = true;
    }

    public boolean requested() {
        return requested;
    }

    /** A request that a shutdown of the JVM (SIGTERM, SIGINT) triggers; {@link #close()} removes the hook. */
    public static StopRequest onShutdown() {
        StopRequest s = new StopRequest();
        s.hook = new Thread(() -> {
            s.request();
            // only a training loop has state worth a checkpoint; elsewhere the process just ends
            if (s.training) s.awaitSettled(SHUTDOWN_WAIT_S);
        }, "xgblora-stop");
        Runtime.getRuntime().addShutdownHook(s.hook);
        return s;
    }

    /** Removes the shutdown hook (the job ended); harmless during shutdown. */
    @Override
    public void close() {
        if (hook == null) return;
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run
        }
        hook = null;
    }

    void trainingStarted() {
        training = true;
    }

    /** The training loop ended (finished, stopped with its checkpoint written, or failed). */
    void trainingEnded() {
        training = false;
        settled.countDown();
    }

    boolean awaitSettled(long seconds) {
        try {
            return settled.await(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
