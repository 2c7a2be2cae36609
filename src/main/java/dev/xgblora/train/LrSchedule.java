package dev.xgblora.train;

/**
 * Learning rate as a function of the global optimizer step (counted from 0, as Hugging Face's
 * LambdaLR schedules see it, so the very first step of a warmup runs at 0): linear warmup over
 * {@code warmup} steps, then linear or cosine decay to 0 at {@code total}, or constant.
 * Optional jagged restarts (ReLoRA): every {@code restartEvery} steps the rate re-warms from 0
 * over {@code rewarm} steps, multiplying the global schedule.
 */
public record LrSchedule(double peak, int warmup, int total, Decay decay, int restartEvery, int rewarm) {
    public enum Decay { LINEAR, COSINE, CONSTANT }

    public LrSchedule {
        if (total <= 0) throw new IllegalArgumentException("total steps must be positive: " + total);
        if (warmup < 0 || restartEvery < 0 || rewarm < 0) throw new IllegalArgumentException("negative schedule setting");
    }

    public static LrSchedule linear(double peak, int warmup, int total) {
        return new LrSchedule(peak, warmup, total, Decay.LINEAR, 0, 0);
    }

    /** Warmup as a fraction of total steps (e.g. 0.06). */
    public static int warmupSteps(double ratio, int total) {
        return (int) Math.ceil(ratio * total);
    }

    public LrSchedule withRestarts(int every, int rewarmSteps) {
        return new LrSchedule(peak, warmup, total, decay, every, rewarmSteps);
    }

    public double at(int step) {
        double f;
        if (step < warmup) {
            f = (double) step / Math.max(1, warmup);
        } else {
            double p = (double) (step - warmup) / Math.max(1, total - warmup);
            f = switch (decay) {
                case LINEAR -> Math.max(0, 1 - p);
                case COSINE -> 0.5 * (1 + Math.cos(Math.PI * Math.min(1, p)));
                case CONSTANT -> 1;
            };
        }
        if (restartEvery > 0 && rewarm > 0 && step >= restartEvery) {
            int into = step % restartEvery;
            if (into < rewarm) f *= (double) into / rewarm;
        }
        return peak * f;
    }
}
