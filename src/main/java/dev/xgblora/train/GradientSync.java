package dev.xgblora.train;

import dev.xgblora.model.Param;
import java.util.List;

/**
 * The replicas of a data-parallel run as the training loop sees them. Replica {@link #rank()} of
 * {@link #replicas()} takes its {@link #share} of every global batch (the same global order as
 * one process), and {@link #sum} adds up the replicas' gradient contributions, so every replica
 * applies the same AdamW update and round boundaries, layer choices and merges (all derived from
 * the seed) stay identical. Replica 0 writes the log, checkpoints and exports; the others write
 * nothing. Implementations live outside the core (the xgblora-spark module).
 */
public interface GradientSync {
    int replicas();

    int rank();

    /**
     * Replaces {@code values} and {@code scalars} by their element-wise sums over all replicas,
     * added in replica order 0..N-1 so that every replica gets the same bits whichever answers
     * first; blocks until all replicas have contributed. {@code step} is the optimizer step.
     */
    void sum(int step, float[] values, double[] scalars);

    /** Bytes this replica sent and received in the last {@link #sum} (run.jsonl's sync_bytes). */
    long lastBytes();

    /** Wall seconds the last {@link #sum} took, waiting for the slowest replica included (run.jsonl's sync_seconds). */
    double lastSeconds();

    /** This replica's contiguous share of a global batch: units [rank·n/N, (rank+1)·n/N). */
    default int[] share(int[] global) {
        int n = global.length, from = (int) ((long) rank() * n / replicas()), to = (int) ((long) (rank() + 1) * n / replicas());
        return java.util.Arrays.copyOfRange(global, from, to);
    }

    /** Sums the gradients of {@code params} (flattened in list order) and the scalars over all replicas, in place. */
    static void sumGradients(GradientSync sync, int step, List<Param> params, double[] scalars) {
        long n = Trainer.count(params);
        if (n > Integer.MAX_VALUE) throw new IllegalStateException(n + " trainable values exceed one exchange buffer (2^31 floats)");
        float[] buf = new float[(int) n];
        int at = 0;
        for (Param p : params) {
            float[] g = gradient(p);
            System.arraycopy(g, 0, buf, at, g.length);
            at += g.length;
        }
        sync.sum(step, buf, scalars);
        at = 0;
        for (Param p : params) {
            System.arraycopy(buf, at, gradient(p), 0, (int) p.numel());
            at += (int) p.numel();
        }
    }

    private static float[] gradient(Param p) {
        float[] g = p.grad().heapArray();
        if (g == null) throw new IllegalStateException("gradient of " + p.name() + " is not a contiguous F32 heap tensor");
        return g;
    }
}
