package dev.xgblora.train;

/**
 * A model-ready batch: the encoded tokens plus targets. classify: {@code labels[batch]};
 * sft/lm: {@code labels[batch * seqLen]}, the next-token target of each position, or
 * {@link #IGNORE} where no loss counts.
 */
public record Batch(EncodedBatch tokens, int[] labels) {
    public static final int IGNORE = -100;

    public int size() {
        return tokens.batch();
    }
}
