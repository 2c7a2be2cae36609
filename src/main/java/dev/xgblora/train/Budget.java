package dev.xgblora.train;

import java.util.Locale;

/**
 * The stopping rules of a run besides its step count: a wall-clock budget for the training loop
 * and a resident-memory cap. Under a time budget the horizon (the steps that fit) is planned from
 * the step time measured after the first steps, so that the LR schedule and the rounds fit the
 * budget, and re-planned at a few later points from the steps since the previous plan (the first
 * steps run slower while the JIT compiles, which would leave budget unused); the run stops at
 * whichever comes first, the horizon or the budget.
 */
final class Budget {
    /** Steps left out of the step-time measurement (JIT warm-up, first touches of memory). */
    static final int SETTLE_STEPS = 2;
    /** Steps measured before the horizon is planned, at the least. */
    static final int MEASURED_STEPS = 4;
    /** Parts of the budget spent at which the horizon is planned (the first) and re-planned. */
    static final double[] PLAN_AT = {0.05, 0.15, 0.3, 0.5};

    private final TrainConfig cfg;
    private long startNanos;
    /** Seconds of budget spent by earlier processes (a resumed run). */
    double usedBefore;
    /** Plans made so far (index into PLAN_AT); all made = the horizon is fixed. */
    int plans;
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
     * is not time to plan (no time budget, every plan made, too few steps measured).
     */
    int plannedSteps(int stepsDone, int upper) {
        if (cfg.timeBudgetSeconds <= 0 || plans >= PLAN_AT.length) return 0;
        double t = used();
        if (settledAt < 0) {
            if (stepsDone >= SETTLE_STEPS) {
                settledAt = t;
                settledStep = stepsDone;
            }
            return 0;
        }
        int measured = stepsDone - settledStep;
        if (measured < MEASURED_STEPS || t < PLAN_AT[plans] * cfg.timeBudgetSeconds) return 0;
        plans++;
        secondsPerStep = (t - settledAt) / measured;
        settledAt = t; // the next plan measures the steps from here
        settledStep = stepsDone;
        double left = Math.max(0, cfg.timeBudgetSeconds - t);
        long fit = stepsDone + (long) Math.floor(left / Math.max(secondsPerStep, 1e-9));
        return (int) Math.max(stepsDone + 1L, Math.min(upper, fit));
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
