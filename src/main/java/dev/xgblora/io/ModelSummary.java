package dev.xgblora.io;

import java.nio.file.Path;

/** A human-readable description of a model directory. */
public final class ModelSummary {
    private ModelSummary() {
    }

    /** Architecture, layers, hidden size, heads, KV heads, parameter count, dtypes, bytes mapped. */
    public static String describe(Path modelDir) {
        throw new UnsupportedOperationException("not yet implemented");
    }
}
