package dev.xgblora.train;

import dev.xgblora.adapt.BoostingScheduler;

/** What a CLI or API shows while training runs. Every method has a do-nothing default. */
public interface ProgressListener {
    /** One optimizer step finished (every logged step). */
    record StepInfo(int step, int totalSteps, int epoch, double loss, double lr, double tokensPerSecond, int round,
                    double gradNorm, boolean skipped) {
    }

    default void onStep(StepInfo info) {
    }

    default void onRound(BoostingScheduler.RoundSummary summary, double meanLoss) {
    }

    default void onEval(int step, EvalResult result) {
    }

    default void onMessage(String message) {
    }

    ProgressListener NONE = new ProgressListener() {
    };
}
