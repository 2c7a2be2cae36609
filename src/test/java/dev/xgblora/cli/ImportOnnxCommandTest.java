package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.ModelIdentity;
import dev.xgblora.io.OnnxModels;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** import-onnx: the list of known models, and any ONNX file + tokenizer given by path. */
class ImportOnnxCommandTest {
    @TempDir
    Path dir;

    private static int run(StringWriter out, StringWriter err, String... args) {
        return new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
    }

    @Test
    void listsTheKnownModelsWithTheirMavenCoordinates() {
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertEquals(0, run(out, err, "import-onnx", "--list"), err.toString());
        for (OnnxModels.Known k : OnnxModels.ALL) {
            assertTrue(out.toString().contains(k.name()) && out.toString().contains(k.coordinates()) && out.toString().contains(k.hubId()),
                    out.toString());
        }
    }

    @Test
    void importsAnyOnnxFileWithItsTokenizer() throws Exception {
        Path onnx = dir.resolve("model.onnx"), tok = dir.resolve("tokenizer.json");
        try (InputStream g = OnnxModels.MINILM.open(OnnxModels.MINILM.onnxEntry()); InputStream t = OnnxModels.MINILM.open(OnnxModels.MINILM.tokenizerEntry())) {
            Files.copy(g, onnx);
            Files.copy(t, tok);
        }
        StringWriter out = new StringWriter(), err = new StringWriter();
        Path model = dir.resolve("imported");
        assertEquals(0, run(out, err, "import-onnx", "--onnx", onnx.toString(), "--tokenizer", tok.toString(), "--out", model.toString(),
                "--hub-id", "someone/my-minilm"), err.toString());
        assertEquals(6, ModelConfig.load(model).numLayers());
        assertEquals("someone/my-minilm", ModelIdentity.hubId(model));

        StringWriter e2 = new StringWriter();
        assertNotEquals(0, run(new StringWriter(), e2, "import-onnx", "--onnx", onnx.toString(), "--out", model.toString()));
        assertTrue(e2.toString().contains("--onnx and --tokenizer go together"), e2.toString());
    }
}
