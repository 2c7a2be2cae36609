package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.SyntheticModel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `xgblora train --pack`: lm documents from a JSONL file packed into rows; classify and encoders refuse it. */
class PackCommandTest {
    @TempDir
    Path tmp;

    private Path documents() throws Exception {
        StringBuilder s = new StringBuilder();
        String[] words = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog"};
        for (int i = 0; i < 30; i++) {
            s.append("{\"text\": \"");
            for (int w = 0; w <= i % 5; w++) s.append(w == 0 ? "" : " ").append(words[(i + w) % words.length]);
            s.append("\"}\n");
        }
        return Files.writeString(tmp.resolve("docs.jsonl"), s.toString());
    }

    @Test
    void lmDocumentsArePackedAndTheSettingIsKeptForResume() throws Exception {
        Path model = tmp.resolve("m");
        SyntheticModel.write(SyntheticModel.shape("tiny"), model, 1, 1L << 30);
        Path out = tmp.resolve("run");
        CliRun r = CliRun.of("train", "--model", model.toString(), "--task", "lm", "--train", documents().toString(), "--pack",
                "--steps", "2", "--kappa", "1", "--batch-size", "2", "--max-length", "64", "--no-baseline", "--json", "--output", out.toString());
        assertEquals(0, r.code(), r.err() + r.out());
        // 30 documents of 3..26 bytes + EOS: 451 tokens, at least 8 rows of 64 (best fit reaches it); unpacked: 30 rows
        assertTrue(r.out().contains("30 examples packed into 8 rows of up to 64 tokens"), r.out());
        var settings = new ObjectMapper().readTree(out.resolve(TrainCommand.SETTINGS_FILE).toFile());
        assertEquals("true", settings.get("pack").asText(), "--resume rebuilds the run from these settings: " + settings);
    }

    @Test
    void packIsRefusedForClassifyAndByEncoders() throws Exception {
        Path data = TinyModelDir.sentiment(tmp.resolve("toy.tsv"), 8, 1);
        CliRun classify = CliRun.of("train", "--model", tmp.resolve("any").toString(), "--train", data.toString(), "--pack",
                "--output", tmp.resolve("c").toString());
        assertEquals(1, classify.code());
        assertTrue(classify.err().contains("--pack packs the documents of task lm or sft") && classify.err().contains("task classify"),
                classify.err());
        Path encoder = TinyModelDir.create(tmp.resolve("bert"));
        CliRun lm = CliRun.of("train", "--model", encoder.toString(), "--task", "lm", "--train", documents().toString(), "--pack",
                "--no-baseline", "--output", tmp.resolve("e").toString());
        assertEquals(1, lm.code());
        assertTrue(lm.err().contains("task lm needs a decoder model"), lm.err());
    }
}
