package dev.xgblora.train;

/**
 * How to read a data file. Column names are header names (TSV/CSV) or keys (JSONL); null means
 * the default: label column "label", text = the other column (or the first non-label one), no pair.
 *
 * @param labels       label mapping to extend (training file) or a frozen one (validation files)
 * @param skipMalformed skip and count malformed rows instead of failing on the first
 */
public record DataOptions(Task task, String textColumn, String pairColumn, String labelColumn,
                          boolean skipMalformed, LabelMap labels) {
    public static DataOptions classify() {
        return new DataOptions(Task.CLASSIFY, null, null, null, false, new LabelMap());
    }

    public static DataOptions of(Task task) {
        return new DataOptions(task, null, null, null, false, new LabelMap());
    }

    public DataOptions withLabels(LabelMap m) {
        return new DataOptions(task, textColumn, pairColumn, labelColumn, skipMalformed, m);
    }

    public DataOptions withSkipMalformed(boolean skip) {
        return new DataOptions(task, textColumn, pairColumn, labelColumn, skip, labels);
    }

    public DataOptions withColumns(String text, String pair, String label) {
        return new DataOptions(task, text, pair, label, skipMalformed, labels);
    }
}
