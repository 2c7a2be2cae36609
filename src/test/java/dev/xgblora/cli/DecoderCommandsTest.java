package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.LlamaDecoder;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `xgblora score` and `xgblora generate` on a tiny fixture model (no tokenizer: token ids). */
class DecoderCommandsTest {
    @TempDir
    Path tmp;

    static Path modelDir() throws URISyntaxException {
        return Path.of(DecoderCommandsTest.class.getResource("/fixtures/llama/llama3-gqa/config.json").toURI()).getParent();
    }

    /** Runs the CLI, returning exit code, standard output and the error stream. */
    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void scoreWritesLogProbTokensAndPerplexityPerRow() throws Exception {
        Path in = tmp.resolve("in.jsonl");
        Files.writeString(in, "{\"ids\": [1, 17, 42, 5, 63]}\n\n{\"ids\": [1, 9, 9, 30]}\n");
        Path out = tmp.resolve("scores.jsonl");
        CliRun r = run("score", "--model", modelDir().toString(), "--input", in.toString(), "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out);
        assertEquals(2, lines.size());
        try (LlamaDecoder m = LlamaDecoder.open(modelDir(), new ReferenceKernels())) {
            int[][] rows = {{1, 17, 42, 5, 63}, {1, 9, 9, 30}};
            for (int i = 0; i < 2; i++) {
                JsonNode row = new ObjectMapper().readTree(lines.get(i));
                double lp = m.logLikelihood(rows[i]);
                assertEquals(lp, row.get("logprob").asDouble(), 1e-5 * Math.abs(lp), "CLI runs Backends.defaults() (vector)");
                assertEquals(rows[i].length, row.get("tokens").asInt());
                assertEquals(Math.exp(-lp / (rows[i].length - 1)), row.get("ppl").asDouble(), 1e-5 * Math.exp(-lp / (rows[i].length - 1)));
            }
        }
    }

    @Test
    void scoreNamesTheLineOfABadRowAndNeedsATokenizerForText() throws Exception {
        Path in = tmp.resolve("bad.jsonl");
        Files.writeString(in, "{\"ids\": [1, 2]}\n{\"ids\": [1, 999]}\n");
        CliRun r = run("score", "--model", modelDir().toString(), "--input", in.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("line 2") && r.err().contains("ids[1] = 999"), r.err());
        Files.writeString(in, "{\"text\": \"hello\"}\n");
        r = run("score", "--model", modelDir().toString(), "--input", in.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("tokenizer.json"), r.err());
    }

    /** A copy of the fixture model with a word-level tokenizer.json (w3..w63, BOS added). */
    Path modelWithTokenizer() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        for (String f : List.of("config.json", "model.safetensors")) Files.copy(modelDir().resolve(f), dir.resolve(f));
        StringBuilder vocab = new StringBuilder("\"<pad>\": 0, \"<s>\": 1, \"</s>\": 2");
        for (int i = 3; i < 64; i++) vocab.append(", \"w").append(i).append("\": ").append(i);
        Files.writeString(dir.resolve("tokenizer.json"), """
                {"version": "1.0", "truncation": null, "padding": null,
                 "added_tokens": [
                   {"id": 0, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                   {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                   {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
                 "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
                 "post_processor": {"type": "TemplateProcessing",
                   "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                   "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                   "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
                 "decoder": null,
                 "model": {"type": "WordLevel", "vocab": {%s}, "unk_token": "<pad>"}}
                """.formatted(vocab));
        return dir;
    }

    @Test
    void textRowsAndTextPromptsGoThroughTheTokenizer() throws Exception {
        Path dir = modelWithTokenizer();
        Path in = tmp.resolve("text.jsonl");
        Files.writeString(in, "{\"text\": \"w17 w42 w5 w63\"}\n");
        CliRun r = run("score", "--model", dir.toString(), "--input", in.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode row = new ObjectMapper().readTree(r.out().strip());
        assertEquals(5, row.get("tokens").asInt(), "BOS + 4 words");
        try (LlamaDecoder m = LlamaDecoder.open(dir, new ReferenceKernels())) {
            double lp = m.logLikelihood(new int[]{1, 17, 42, 5, 63});
            assertEquals(lp, row.get("logprob").asDouble(), 1e-5 * Math.abs(lp));
            int[] next = m.generate(new int[]{1, 7, 23}, 4, 1f, 0f, 0L);
            CliRun g = run("generate", "--model", dir.toString(), "--prompt", "w7 w23", "--max-new", "4");
            assertEquals(0, g.code(), g.err());
            StringBuilder expected = new StringBuilder("w7 w23");
            for (int id : next) if (id > 2) expected.append(" w").append(id);
            assertEquals(expected.toString(), g.out().strip());
        }
    }

    @Test
    void generateWithPromptIdsPrintsTheModelsTokens() throws Exception {
        CliRun r = run("generate", "--model", modelDir().toString(), "--prompt-ids", "1,7,23", "--max-new", "5");
        assertEquals(0, r.code(), r.err());
        int[] printed = Arrays.stream(r.out().strip().split(",")).mapToInt(Integer::parseInt).toArray();
        try (LlamaDecoder m = LlamaDecoder.open(modelDir(), new ReferenceKernels())) {
            assertArrayEquals(m.generate(new int[]{1, 7, 23}, 5, 1f, 0f, 0L), printed);
        }
        CliRun s1 = run("generate", "--model", modelDir().toString(), "--prompt-ids", "1,7,23", "--max-new", "8",
                "--temperature", "1.5", "--top-p", "0.9", "--seed", "11");
        CliRun s2 = run("generate", "--model", modelDir().toString(), "--prompt-ids", "1,7,23", "--max-new", "8",
                "--temperature", "1.5", "--top-p", "0.9", "--seed", "11");
        assertEquals(s1.out(), s2.out(), "same seed, same tokens");
        CliRun bad = run("generate", "--model", modelDir().toString(), "--prompt", "hello");
        assertNotEquals(0, bad.code());
        assertTrue(bad.err().contains("--prompt-ids"), bad.err());
    }
}
