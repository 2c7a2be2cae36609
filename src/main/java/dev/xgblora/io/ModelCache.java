package dev.xgblora.io;

import java.nio.file.Path;

/** Models imported once under ${XGBLORA_HOME:-~/.cache/xgblora}/models. */
public final class ModelCache {
    private ModelCache() {
    }

    /** The imported all-MiniLM-L6-v2 directory, importing it on first use. */
    public static Path miniLm() {
        throw new UnsupportedOperationException("not yet implemented");
    }
}
