package dev.xgblora.model;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.tensor.Tensor;

/**
 * A right-padded batch of token ids: B rows of T tokens, mask 1 for real tokens then 0 for padding.
 * Without segments, positions run 0..T-1 in every row (padding gets positions too; it is masked as
 * a key). With segments (packed documents, one id per position, contiguous and non-decreasing in a
 * row), positions restart at 0 where a segment starts, attention stays inside a segment, and no
 * position predicts the first token of the next segment.
 *
 * @param segments [B·T] document id per position, or null (one document per row)
 */
record Batch(int b, int t, int[] flatIds, int[] positions, Tensor keyValid, int[][] mask, int[] segments) {

    static Batch of(int[][] ids, int[][] mask, int vocab) {
        return of(ids, mask, null, vocab);
    }

    /** @param segments [B][T] document ids (non-decreasing in each row), or null */
    static Batch of(int[][] ids, int[][] mask, int[][] segments, int vocab) {
        if (ids.length == 0 || ids[0].length == 0) throw new IllegalArgumentException("empty batch: need at least one row of one token");
        int b = ids.length, t = ids[0].length;
        if (mask.length != b) throw new IllegalArgumentException("attention mask has " + mask.length + " rows, ids have " + b);
        if (segments != null && segments.length != b) throw new IllegalArgumentException("segment ids have " + segments.length + " rows, ids have " + b);
        int[] flat = new int[Math.multiplyExact(b, t)];
        int[] pos = new int[b * t];
        int[] seg = segments == null ? null : new int[b * t];
        float[] valid = new float[b * t];
        for (int r = 0; r < b; r++) {
            if (ids[r].length != t || mask[r].length != t) {
                throw new IllegalArgumentException("row " + r + " has " + ids[r].length + " ids and " + mask[r].length
                        + " mask values, expected " + t + " (pad every row to the same length)");
            }
            if (segments != null && segments[r].length != t) {
                throw new IllegalArgumentException("segment ids row " + r + " has " + segments[r].length + " values, expected " + t);
            }
            boolean padding = false;
            int start = 0; // where the current segment began
            for (int c = 0; c < t; c++) {
                int id = ids[r][c], m = mask[r][c];
                if (m != 0 && m != 1) throw new IllegalArgumentException("attention mask[" + r + "][" + c + "] = " + m + ", expected 0 or 1");
                if (m == 0) padding = true;
                else if (padding) throw new IllegalArgumentException("row " + r + " is not right-padded: mask 1 at position " + c + " after a 0");
                if (id < 0 || id >= vocab) throw new IllegalArgumentException("token id " + id + " at [" + r + "][" + c + "] is outside the vocabulary [0, " + vocab + ")");
                if (segments != null && c > 0 && segments[r][c] != segments[r][c - 1]) {
                    if (segments[r][c] < segments[r][c - 1]) {
                        throw new IllegalArgumentException("segment ids row " + r + " go down at position " + c + " (" + segments[r][c - 1]
                                + " then " + segments[r][c] + "): each document must be one contiguous run");
                    }
                    start = c;
                }
                flat[r * t + c] = id;
                pos[r * t + c] = c - start;
                if (seg != null) seg[r * t + c] = segments[r][c];
                valid[r * t + c] = m;
            }
        }
        return new Batch(b, t, flat, pos, Tensor.fromArray(valid, b, t), mask, seg);
    }

    /** Causal over the real keys, inside each position's own segment when the batch is packed. */
    AttentionMask attentionMask() {
        return AttentionMask.causal(keyValid).withSegments(segments);
    }

    /**
     * targets[b·T + t] = labels[b][t+1] when position t+1 is a real token of the same segment,
     * else -100 (ignored).
     */
    int[] shiftedTargets(int[][] labels) {
        if (labels.length != b) throw new IllegalArgumentException("labels have " + labels.length + " rows, ids have " + b);
        int[] out = new int[b * t];
        for (int r = 0; r < b; r++) {
            if (labels[r].length != t) throw new IllegalArgumentException("labels row " + r + " has " + labels[r].length + " values, expected " + t);
            for (int c = 0; c < t; c++) {
                int i = r * t + c;
                boolean next = c + 1 < t && mask[r][c + 1] == 1 && (segments == null || segments[i + 1] == segments[i]);
                out[i] = next ? labels[r][c + 1] : LlamaDecoder.IGNORE_INDEX;
            }
        }
        return out;
    }
}
