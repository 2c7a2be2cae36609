package dev.xgblora.train;

/**
 * A model-ready batch: the encoded tokens plus targets. classify: {@code labels[batch]};
 * sft/lm: {@code labels[batch * seqLen]}, the next-token target of each position, or
 * {@link #IGNORE} where no loss counts.
 *
 * @param segments packed sft/lm rows ({@code --pack}): the document of each position,
 *                 [batch * seqLen], non-decreasing in a row; null when each row is one document
 */
public record Batch(EncodedBatch tokens, int[] labels, int[] segments) {
    public static final int IGNORE = -100;

    public Batch {
        if (segments != null && segments.length != tokens.ids().length) {
            throw new IllegalArgumentException("segment ids: " + segments.length + " values for " + tokens.batch() + "x" + tokens.seqLen() + " tokens");
        }
    }

    /** One document per row. */
    public Batch(EncodedBatch tokens, int[] labels) {
        this(tokens, labels, null);
    }

    public int size() {
        return tokens.batch();
    }
}
