package dev.xgblora.train;

/** Too many consecutive steps had a non-finite loss or gradient; the run stopped. */
public final class TrainingDivergedException extends RuntimeException {
    public TrainingDivergedException(String message) {
        super(message);
    }
}
