package dev.xgblora.train;

import java.nio.file.Path;

/** A data row that cannot be used; the message names the file, the line and what was wrong. */
public final class MalformedDataException extends RuntimeException {
    public MalformedDataException(Path file, int line, String what) {
        super(file + ":" + line + ": " + what);
    }
}
