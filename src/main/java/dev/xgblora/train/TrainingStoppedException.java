package dev.xgblora.train;

import java.nio.file.Path;

/** A {@link StopRequest} stopped the run at a step boundary; {@code checkpoint} holds the state (null without a checkpoint directory). */
public final class TrainingStoppedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int step;
    private final transient Path checkpoint;

    public TrainingStoppedException(int step, int totalSteps, Path checkpoint) {
        super("stopped at step " + step + " of " + totalSteps + (checkpoint != null ? "; checkpoint written to " + checkpoint
                + " (continue with --resume)" : "; no checkpoint directory, nothing saved"));
        this.step = step;
        this.checkpoint = checkpoint;
    }

    public int step() {
        return step;
    }

    public Path checkpoint() {
        return checkpoint;
    }
}
