package dev.xgblora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.ModelCache;
import dev.xgblora.model.SentenceEmbedder;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Sentence embeddings (the model's pooling, mean by default, + L2 normalization) with a BERT-family model, one JSON line per input line. */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = {"Embed sentences with a BERT-family encoder as sentence-transformers does "
                + "(mean pooling over the attention mask, or the CLS token where the model's modules.json says so, e.g. an "
                + "imported bge-small-en-v1.5; then L2 normalization).",
                "Each input line is either a JSON object {\"text\": \"...\"} or plain text; every line, "
                + "blank ones included, gives one output line {\"embedding\": [...]} in input order."},
        footer = {"", "Examples:",
                "  xgblora embed --input sentences.txt --output embeddings.jsonl",
                "  xgblora embed --model ~/.cache/xgblora/models/all-minilm-l6-v2 --input texts.jsonl --batch 64",
                "  echo 'a gorgeous, witty film' | xgblora embed --input -"})
public final class EmbedCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR",
            description = "Model directory (config.json, model.safetensors, tokenizer.json). "
                    + "Default: all-MiniLM-L6-v2 from the model cache, imported on first use.")
    Path model;

    @Option(names = "--input", required = true, paramLabel = "FILE", description = "Input lines (JSON {\"text\": ...} or plain text); '-' reads standard input.")
    String input;

    @Option(names = "--output", paramLabel = "FILE", description = "Output JSONL, written atomically (default: standard output).")
    Path output;

    @Option(names = "--batch", defaultValue = "32", description = "Sentences per forward pass (default: ${DEFAULT-VALUE}); "
            + "up to 16 batches are read at a time and sorted by length to limit padding.")
    int batch;

    @Option(names = "--max-length", defaultValue = "128", description = "Truncate to this many tokens, special tokens included (default: ${DEFAULT-VALUE}).")
    int maxLength;

    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP)
    String device;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() throws Exception {
        if (batch < 1) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        Path dir = model != null ? model : ModelCache.miniLm();
        long t0 = System.nanoTime();
        try (Devices.Opened d = Devices.open(device);
             SentenceEmbedder embedder = SentenceEmbedder.open(dir, d.kernels(), maxLength);
             BufferedReader in = input.equals("-")
                     ? new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
                     : Files.newBufferedReader(requireFile(Path.of(input)), StandardCharsets.UTF_8)) {
            long loaded = System.nanoTime();
            int[] lines = {0};
            if (output == null) {
                Writer out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
                run(embedder, in, out, lines);
                out.flush();
            } else {
                AtomicFiles.write(output, tmp -> {
                    try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                        run(embedder, in, out, lines);
                    }
                });
            }
            double secs = (System.nanoTime() - loaded) / 1e9;
            System.err.printf("embedded %d lines (%d tokens) in %.2f s, %.0f tokens/s; model load %.2f s; kernels %s x%d%n",
                    lines[0], embedder.tokensSeen(), secs, embedder.tokensSeen() / Math.max(secs, 1e-9),
                    (loaded - t0) / 1e9, d.kernels().name(), d.kernels().threads());
        }
        return 0;
    }

    /** Reads up to 16 batches at a time so the embedder can sort them by length; writes in input order. */
    private void run(SentenceEmbedder embedder, BufferedReader in, Writer out, int[] lineCount) throws IOException {
        int chunk = batch * 16;
        List<String> texts = new ArrayList<>(chunk);
        String line;
        while ((line = in.readLine()) != null) {
            lineCount[0]++;
            texts.add(textOf(line, lineCount[0]));
            if (texts.size() == chunk) {
                write(embedder.embed(texts, batch), out);
                texts.clear();
            }
        }
        if (!texts.isEmpty()) write(embedder.embed(texts, batch), out);
    }

    private String textOf(String line, int lineNo) {
        String trimmed = line.strip();
        if (!trimmed.startsWith("{")) return line;
        JsonNode node;
        try {
            node = JSON.readTree(trimmed);
        } catch (IOException e) {
            throw new IllegalArgumentException(input + " line " + lineNo + ": starts with '{' but is not valid JSON");
        }
        JsonNode text = node.get("text");
        if (text == null || !text.isTextual()) {
            throw new IllegalArgumentException(input + " line " + lineNo + ": JSON object without a string field \"text\"");
        }
        return text.asText();
    }

    private static void write(float[][] embeddings, Writer out) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (float[] e : embeddings) {
            sb.setLength(0);
            sb.append("{\"embedding\": [");
            for (int k = 0; k < e.length; k++) {
                if (k > 0) sb.append(", ");
                sb.append(e[k]);
            }
            sb.append("]}\n");
            out.write(sb.toString());
        }
    }

    private static Path requireFile(Path p) {
        if (!Files.isRegularFile(p)) throw new IllegalArgumentException("input file not found: " + p);
        return p;
    }
}
