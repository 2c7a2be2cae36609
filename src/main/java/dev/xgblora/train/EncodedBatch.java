package dev.xgblora.train;

/** Token ids, attention mask (1 real, 0 padding) and token type ids, each [batch * seqLen] row-major. */
public record EncodedBatch(int[] ids, int[] mask, int[] typeIds, int batch, int seqLen) {
    public EncodedBatch {
        int n = batch * seqLen;
        if (ids.length != n || mask.length != n || (typeIds != null && typeIds.length != n)) {
            throw new IllegalArgumentException("encoded batch arrays do not match " + batch + "x" + seqLen);
        }
    }

    /** Number of real (non-padding) tokens. */
    public int realTokens() {
        int n = 0;
        for (int m : mask) n += m;
        return n;
    }
}
