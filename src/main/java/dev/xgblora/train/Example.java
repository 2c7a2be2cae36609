package dev.xgblora.train;

/**
 * One training example. classify: text (+ pair) and label; sft: text = prompt, target =
 * completion; lm: text (+ an optional pair, read only when asked for: unlabelled classifier input). {@code line} is the 1-based source line, for error messages.
 */
public record Example(String text, String pair, String target, int label, int line) {
    public static Example classify(String text, String pair, int label, int line) {
        return new Example(text, pair, null, label, line);
    }

    public static Example sft(String prompt, String completion, int line) {
        return new Example(prompt, null, completion, -1, line);
    }

    public static Example text(String text, int line) {
        return new Example(text, null, null, -1, line);
    }

    /** Unlabelled input of a classifier: a text and its pair (null for single sentences). */
    public static Example input(String text, String pair, int line) {
        return new Example(text, pair, null, -1, line);
    }
}
