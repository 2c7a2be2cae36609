package dev.xgblora.train;

/** What the model learns: a label per text, a completion per prompt, or the next token. */
public enum Task {
    /** Sequence classification (single sentences or pairs). */
    CLASSIFY,
    /** Supervised fine-tuning: loss on completion tokens only. */
    SFT,
    /** Causal language modelling on packed blocks of plain text. */
    LM;

    public static Task parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown task '" + s + "' (expected classify, sft or lm)");
        }
    }
}
