package dev.xgblora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.model.LlamaDecoder;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Log-likelihood of each text (or token sequence) of a JSONL file under a causal LM. */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"Scores each row of a JSONL file under a Llama-family model: the total natural-log "
                + "probability of tokens 2..n given their prefixes, the token count and the perplexity.",
                "Each row is {\"text\": \"...\"} (needs tokenizer.json in the model directory; special tokens "
                        + "such as BOS are added) or pre-tokenized {\"ids\": [1, 2, 3]}.",
                "Writes one JSON object per row: {\"logprob\": -12.3, \"tokens\": 8, \"ppl\": 5.8}; "
                        + "ppl = exp(-logprob / (tokens - 1))."},
        footer = {"", "Example:", "  xgblora score --model models/tinyllama --input texts.jsonl --output scores.jsonl"})
public final class ScoreCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", required = true, description = "Model directory (config.json, *.safetensors, tokenizer.json for text).")
    Path model;

    @Option(names = "--input", required = true, description = "JSONL file, one {\"text\"} or {\"ids\"} object per line.")
    Path input;

    @Option(names = "--output", description = "Write the scores here (atomically) instead of standard output.")
    Path output;

    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP)
    String device;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(input)) throw new IllegalArgumentException("no input file " + input);
        List<String> lines = Files.readAllLines(input, StandardCharsets.UTF_8);
        Path tokenizerFile = model.resolve(Tokenizer.FILE);
        try (Devices.Opened d = Devices.open(device); LlamaDecoder m = LlamaDecoder.open(model, d.kernels());
             Tokenizer tokenizer = Files.isRegularFile(tokenizerFile) ? Tokenizer.load(tokenizerFile) : null) {
            if (output == null) {
                PrintWriter out = new PrintWriter(System.out, false, StandardCharsets.UTF_8);
                score(m, tokenizer, lines, out);
                out.flush();
            } else {
                AtomicFiles.write(output, tmp -> {
                    try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                        score(m, tokenizer, lines, w);
                    }
                });
            }
        }
        return 0;
    }

    private void score(LlamaDecoder m, Tokenizer tokenizer, List<String> lines, Writer out) throws IOException {
        double totalLogProb = 0;
        long scored = 0;
        int rows = 0;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) continue;
            int[] ids = idsOf(line, i + 1, tokenizer, m.dims().vocab());
            double logProb = m.logLikelihood(ids);
            ObjectNode row = JSON.createObjectNode();
            row.put("logprob", logProb);
            row.put("tokens", ids.length);
            row.put("ppl", ids.length < 2 ? Double.NaN : Math.exp(-logProb / (ids.length - 1)));
            out.write(JSON.writeValueAsString(row));
            out.write('\n');
            totalLogProb += logProb;
            scored += Math.max(0, ids.length - 1);
            rows++;
        }
        System.err.printf("scored %d rows, %d predicted tokens, perplexity %.4f%n", rows, scored,
                scored == 0 ? Double.NaN : Math.exp(-totalLogProb / scored));
    }

    private int[] idsOf(String line, int lineNo, Tokenizer tokenizer, int vocab) {
        String where = input + " line " + lineNo;
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (IOException e) {
            throw new IllegalArgumentException(where + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (node.has("ids")) {
            JsonNode arr = node.get("ids");
            if (!arr.isArray() || arr.isEmpty()) throw new IllegalArgumentException(where + ": \"ids\" must be a non-empty array of token ids");
            int[] ids = new int[arr.size()];
            for (int j = 0; j < ids.length; j++) {
                JsonNode v = arr.get(j);
                if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 0 || v.asInt() >= vocab) {
                    throw new IllegalArgumentException(where + ": ids[" + j + "] = " + v + " is not a token id in [0, " + vocab + ")");
                }
                ids[j] = v.asInt();
            }
            return ids;
        }
        if (node.has("text")) {
            if (tokenizer == null) {
                throw new IllegalArgumentException(where + ": \"text\" needs " + model.resolve(Tokenizer.FILE)
                        + " (absent); give pre-tokenized \"ids\" instead");
            }
            int[] ids = tokenizer.encode(node.get("text").asText(), true);
            if (ids.length == 0) throw new IllegalArgumentException(where + ": text has no tokens");
            return ids;
        }
        throw new IllegalArgumentException(where + ": expected an object with \"text\" or \"ids\"");
    }
}
