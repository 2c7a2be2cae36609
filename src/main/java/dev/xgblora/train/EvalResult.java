package dev.xgblora.train;

/**
 * Metrics on a validation set: mean loss always; accuracy, F1 and MCC for classification
 * (NaN otherwise); perplexity = exp(loss) for sft/lm (NaN for classification).
 */
public record EvalResult(double loss, double accuracy, double f1, double mcc, double perplexity, int count) {
    public String describe() {
        return Double.isNaN(accuracy)
                ? String.format("loss %.4f, perplexity %.3f (%d tokens)", loss, perplexity, count)
                : String.format("loss %.4f, accuracy %.4f, F1 %.4f, MCC %.4f (%d examples)", loss, accuracy, f1, mcc, count);
    }
}
