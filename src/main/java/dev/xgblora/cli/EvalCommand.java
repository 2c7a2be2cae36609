package dev.xgblora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.train.DataOptions;
import dev.xgblora.train.EncoderClassifier;
import dev.xgblora.train.EvalResult;
import dev.xgblora.train.SavedClassifier;
import dev.xgblora.train.Task;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

/** Metrics of a sequence-classification model (e.g. a run's merged/ export) on a labelled file. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Accuracy, F1, MCC and loss of a classification model (with its head) on a labelled file.",
        footer = {"", "Example (the merged model of a run on the SST-2 dev set):",
                "  xgblora eval --model runs/sst2-xgb/merged --data ../shared/data/sst2/dev.tsv"})
public final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory with a classification head (a run's merged/).")
    Path model;
    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Labelled data: .tsv, .csv or .jsonl (as for train).")
    Path data;
    @Option(names = "--text-column", description = "Text column/key (default: the column that is not 'label').") String textColumn;
    @Option(names = "--pair-column", description = "Second-text column/key for sentence pairs.") String pairColumn;
    @Option(names = "--label-column", description = "Label column/key (default: label).") String labelColumn;
    @Option(names = "--max-length", defaultValue = "64", description = "Tokens per example (default 64).") int maxLength;
    @Option(names = "--batch-size", defaultValue = "64") int batchSize;
    @Option(names = "--pooling", paramLabel = "mean|cls", description = "Override the pooling the export records (only for exports that do not say: merged/ of earlier versions).")
    String pooling;
    @Option(names = "--json", description = "Print the metrics as one JSON object.") boolean json;
    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP)
    String device;

    @Override
    public Integer call() throws Exception {
        DataOptions opts = new DataOptions(Task.CLASSIFY, textColumn, pairColumn, labelColumn, false, null);
        long t0 = System.nanoTime();
        EvalResult r;
        try (Devices.Opened d = Devices.open(device); SavedClassifier c = SavedClassifier.load(model, d.kernels(), maxLength,
                EncoderClassifier.PoolingMode.parse(pooling))) {
            r = c.evaluate(data, opts, batchSize);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", model.toString());
            m.put("data", data.toString());
            ProgressRenderer.putEval(m, r);
            m.put("seconds", secs);
            spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(m));
        } else {
            spec.commandLine().getOut().printf(Locale.ROOT, "%s on %s: %s in %.1f s%n", model, data, r.describe(), secs);
        }
        return 0;
    }
}
