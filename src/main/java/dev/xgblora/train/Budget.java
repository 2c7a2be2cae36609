package dev.xgblora.train;

import java.util.Locale;

/**
 * The stopping rules of a run besides its step count: a wall-clock budget for the training loop
 * and a resident-memory cap. Under a time budget the horizon (the steps that fit) is planned once,
 * from the step time measured after the first steps, so that the LR schedule and the rounds fit
 * the budget; the run then stops at whichever comes first, the horizon or the budget.
 */
final class Budget {
    /** Steps left out of the step-time measurement (JIT warm-up, first touches of memory). */
    static final int SETTLE_STEPS = 2;
    /** Steps measured before the horizon is planned, at the least. */
    static final int MEASURED_STEPS = 4;
    /** Part of the budget spent before the horizon is planned, at the least. */
    static final double MEASURE_FRACTION = 0.05;

    private final TrainConfig cfg;
    private long startNanos;
    /** Seconds of budget spent by earlier processes (a resumed run). */
    double usedBefore;
    /** Whether the horizon is fixed (planned, or restored from a checkpoint). */
    boolean planned;
    private double settledAt = -1;
    private int settledStep;
    private double secondsPerStep = Double.NaN;
    String stoppedBy;

    Budget(TrainConfig cfg) {
        this.cfg = cfg;
    }

    boolean active() {
        return cfg.timeBudgetSeconds > 0 || cfg.memoryBudgetBytes > 0;
    }

    void start() {
        startNanos = cfg.clock.getAsLong();
    }

    /** Budget seconds used so far, this process and the ones before it. */
    double used() {
        return usedBefore + (cfg.clock.getAsLong() - startNanos) / 1e9;
    }

    double secondsPerStep() {
        return secondsPerStep;
    }

    /**
     * After {@code stepsDone} steps: the horizon to plan now (at most {@code upper}), or 0 when it
     * is not time to plan (no time budget, already planned, too few steps measured).
     */
    int plannedSteps(int stepsDone, int upper) {
        if (cfg.timeBudgetSeconds <= 0 || planned) return 0;
        double t = used();
        if (settledAt < 0) {
            if (stepsDone >= SETTLE_STEPS) {
                settledAt = t;
                settledStep = stepsDone;
            }
            return 0;
        }
        int measured = stepsDone - settledStep;
        if (measured < MEASURED_STEPS || t < MEASURE_FRACTION * cfg.timeBudgetSeconds) return 0;
        planned = true;
        secondsPerStep = (t - settledAt) / measured;
        double left = Math.max(0, cfg.timeBudgetSeconds - t);
        long fit = stepsDone + (long) Math.floor(left / Math.max(secondsPerStep, 1e-9));
        return (int) Math.max(stepsDone, Math.min(upper, fit));
    }

    /** Why training must end now (a budget is spent), or null. */
    String spent() {
        if (cfg.timeBudgetSeconds > 0) {
            double t = used();
            if (t >= cfg.timeBudgetSeconds) {
                return stoppedBy = String.format(Locale.ROOT, "time budget spent (%.1f s of %.1f s)", t, cfg.timeBudgetSeconds);
            }
        }
        if (cfg.memoryBudgetBytes > 0) {
            long rss = cfg.residentBytes.getAsLong();
            if (rss > cfg.memoryBudgetBytes) {
                return stoppedBy = String.format(Locale.ROOT, "memory budget exceeded (resident %,d MiB > %,d MiB)", rss >> 20,
                        cfg.memoryBudgetBytes >> 20);
            }
        }
        return null;
    }
}
