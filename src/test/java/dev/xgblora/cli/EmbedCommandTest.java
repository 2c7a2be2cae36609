package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.ModelCache;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code xgblora embed} over MiniLM: one unit-norm 384-d embedding per input line, JSON or plain. */
class EmbedCommandTest {

    private static Path miniLm() {
        assumeTrue(EmbedCommandTest.class.getResource("/all-minilm-l6-v2.onnx") != null,
                "all-minilm-l6-v2 jar not on the class path: embed test skipped");
        return ModelCache.miniLm();
    }

    @Test
    void embedsJsonAndPlainLinesInOrder(@TempDir Path tmp) throws Exception {
        Path model = miniLm();
        Path in = tmp.resolve("in.txt");
        Files.writeString(in, "{\"text\": \"a gorgeous, witty film\"}\na gorgeous, witty film\nan utterly dull movie\n");
        Path out = tmp.resolve("out.jsonl");
        StringWriter err = new StringWriter();
        int code = new CommandLine(new Main()).setErr(new PrintWriter(err))
                .execute("embed", "--model", model.toString(), "--input", in.toString(), "--output", out.toString(), "--batch", "2");
        assertEquals(0, code, err.toString());
        List<String> lines = Files.readAllLines(out);
        assertEquals(3, lines.size());
        float[][] e = new float[3][];
        ObjectMapper json = new ObjectMapper();
        for (int i = 0; i < 3; i++) {
            JsonNode arr = json.readTree(lines.get(i)).get("embedding");
            assertEquals(384, arr.size());
            e[i] = new float[384];
            double ss = 0;
            for (int k = 0; k < 384; k++) {
                e[i][k] = arr.get(k).floatValue();
                ss += (double) e[i][k] * e[i][k];
            }
            assertEquals(1.0, Math.sqrt(ss), 1e-5, "line " + i + " is not unit length");
        }
        assertArrayEquals(e[0], e[1], 1e-6f); // JSON and plain text of the same sentence
        assertNotEquals(e[1][0], e[2][0]);
        try (var files = Files.list(tmp)) {
            assertEquals(2, files.count(), "temporary output left behind");
        }
    }

    @Test
    void badJsonLineIsReportedWithItsLineNumber(@TempDir Path tmp) throws Exception {
        Path model = miniLm();
        Path in = tmp.resolve("in.jsonl");
        Files.writeString(in, "fine\n{\"txt\": \"wrong field\"}\n");
        Path out = tmp.resolve("out.jsonl");
        StringWriter err = new StringWriter();
        CommandLine cmd = new CommandLine(new Main()).setErr(new PrintWriter(err));
        cmd.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println("error: " + e.getMessage());
            return 1;
        });
        int code = cmd.execute("embed", "--model", model.toString(), "--input", in.toString(), "--output", out.toString());
        assertEquals(1, code);
        assertEquals(true, err.toString().contains("line 2"), err.toString());
        assertEquals(false, Files.exists(out), "no partial output on error");
    }
}
