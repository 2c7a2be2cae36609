package dev.xgblora.train;

import java.nio.file.Path;

/**
 * Training stopped because the device ran out of memory; {@code checkpoint} holds the last good state
 * (the start of the failed step) when checkpointing is on and the step's update had not begun.
 */
public final class DeviceMemoryExhaustedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Path checkpoint;

    DeviceMemoryExhaustedException(String message, Path checkpoint, Throwable cause) {
        super(message, cause);
        this.checkpoint = checkpoint;
    }

    /** The checkpoint written for the failed step's start, or null. */
    public Path checkpoint() {
        return checkpoint;
    }
}
