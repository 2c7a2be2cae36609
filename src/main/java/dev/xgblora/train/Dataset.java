package dev.xgblora.train;

import java.nio.file.Path;
import java.util.List;

/** Examples read from one file, the label mapping used, and how many malformed rows were skipped. */
public record Dataset(Path source, Task task, List<Example> examples, LabelMap labels, int skipped) {
    public int size() {
        return examples.size();
    }
}
