package dev.xgblora.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads the JSON files of a model directory with one kind of error: the file and what is wrong. */
public final class JsonFiles {
    private JsonFiles() {
    }

    /** The parsed file (duplicate keys rejected); a parse error names the file. */
    public static JsonNode read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        try {
            return SafeTensorsHeader.JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            // parsing bytes in memory: a bad encoding, not an I/O failure
            throw new IllegalArgumentException(file + ": not valid JSON text: " + e.getMessage());
        }
    }
}
