package dev.xgblora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.train.DataOptions;
import dev.xgblora.train.DatasetReader;
import dev.xgblora.train.EncoderClassifier;
import dev.xgblora.train.Example;
import dev.xgblora.train.SavedClassifier;
import dev.xgblora.train.Task;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

/** Labels and class probabilities of a classification model for each input text, as JSONL. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Predict the label and class probabilities of every input text; one JSON object per line.",
        footer = {"", "Example (a run's merged model on the SST-2 dev sentences; labels in the file are ignored):",
                "  xgblora predict --model runs/sst2-xgb/merged --input ../shared/data/sst2/dev.tsv --output predictions.jsonl",
                "Input: .tsv/.csv (the 'sentence'/'text' column or --text-column), .jsonl (key 'text' or --text-column),",
                "sentence pairs with --pair-column (e.g. --text-column sentence1 --pair-column sentence2),",
                "anything else one text per line. Output line: {\"line\":2,\"text\":...,\"label\":\"1\",\"label_id\":1,\"probabilities\":{\"0\":0.1,\"1\":0.9}}"})
public final class PredictCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory with a classification head (a run's merged/).")
    Path model;
    @Option(names = "--input", required = true, paramLabel = "FILE", description = "Texts: .tsv, .csv, .jsonl, or plain lines.")
    Path input;
    @Option(names = "--output", paramLabel = "FILE", description = "JSONL output (default: standard output).")
    Path output;
    @Option(names = "--text-column", description = "Text column/key.") String textColumn;
    @Option(names = "--pair-column", description = "Second-sentence column/key of sentence-pair input (the model must have been trained on pairs).")
    String pairColumn;
    @Option(names = "--max-length", defaultValue = "64") int maxLength;
    @Option(names = "--batch-size", defaultValue = "64") int batchSize;
    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP)
    String device;
    @Option(names = "--pooling", paramLabel = "mean|cls", description = "Override the pooling the export records (only for exports that do not say: merged/ of earlier versions).")
    String pooling;

    @Override
    public Integer call() throws Exception {
        List<Example> ex = readTexts(input, textColumn, pairColumn);
        List<SavedClassifier.Scored> scored;
        List<String> names;
        try (Devices.Opened d = Devices.open(device); SavedClassifier c = SavedClassifier.load(model, d.kernels(), maxLength,
                EncoderClassifier.PoolingMode.parse(pooling))) {
            List<String> pairs = pairColumn == null ? null : ex.stream().map(Example::pair).toList();
            scored = c.predict(ex.stream().map(Example::text).toList(), pairs, batchSize);
            names = c.labels().names();
        }
        StringBuilder sb = new StringBuilder();
        ObjectMapper json = new ObjectMapper();
        for (int i = 0; i < ex.size(); i++) {
            SavedClassifier.Scored s = scored.get(i);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("line", ex.get(i).line());
            m.put("text", ex.get(i).text());
            if (ex.get(i).pair() != null) m.put("pair", ex.get(i).pair());
            m.put("label", s.name());
            m.put("label_id", s.label());
            Map<String, Double> p = new LinkedHashMap<>();
            for (int k = 0; k < s.probabilities().length; k++) p.put(k < names.size() ? names.get(k) : String.valueOf(k), s.probabilities()[k]);
            m.put("probabilities", p);
            sb.append(json.writeValueAsString(m)).append('\n');
        }
        if (output == null) {
            spec.commandLine().getOut().print(sb);
            spec.commandLine().getOut().flush();
        } else {
            AtomicFiles.writeString(output, sb.toString());
            spec.commandLine().getErr().println(ex.size() + " prediction(s) written to " + output);
        }
        return 0;
    }

    /** Texts of a table/JSONL file (its text column), or of a plain file (one per non-blank line). */
    static List<Example> readTexts(Path file, String textColumn, String pairColumn) throws Exception {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".tsv") || name.endsWith(".csv") || name.endsWith(".jsonl") || name.endsWith(".json")) {
            // the lm task reads a text (and pair) column: labels, if any, are ignored
            return DatasetReader.read(file, new DataOptions(Task.LM, textColumn, pairColumn, null, false, null)).examples();
        }
        if (pairColumn != null) throw new IllegalArgumentException(file + ": --pair-column needs a .tsv, .csv or .jsonl file");
        List<Example> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) if (!lines.get(i).isBlank()) out.add(Example.text(lines.get(i).strip(), i + 1));
        if (out.isEmpty()) throw new IllegalArgumentException(file + ": no texts");
        return out;
    }
}
