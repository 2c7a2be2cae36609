package dev.xgblora.model;

import dev.xgblora.tensor.Tensor;

/**
 * A right-padded batch of token ids: B rows of T tokens, mask 1 for real tokens then 0 for padding.
 * Positions run 0..T-1 in every row (padding gets positions too; it is masked as a key).
 */
record Batch(int b, int t, int[] flatIds, int[] positions, Tensor keyValid, int[][] mask) {

    static Batch of(int[][] ids, int[][] mask, int vocab) {
        if (ids.length == 0 || ids[0].length == 0) throw new IllegalArgumentException("empty batch: need at least one row of one token");
        int b = ids.length, t = ids[0].length;
        if (mask.length != b) throw new IllegalArgumentException("attention mask has " + mask.length + " rows, ids have " + b);
        int[] flat = new int[b * t];
        int[] pos = new int[b * t];
        float[] valid = new float[Math.multiplyExact(b, t)];
        for (int r = 0; r < b; r++) {
            if (ids[r].length != t || mask[r].length != t) {
                throw new IllegalArgumentException("row " + r + " has " + ids[r].length + " ids and " + mask[r].length
                        + " mask values, expected " + t + " (pad every row to the same length)");
            }
            boolean padding = false;
            for (int c = 0; c < t; c++) {
                int id = ids[r][c], m = mask[r][c];
                if (m != 0 && m != 1) throw new IllegalArgumentException("attention mask[" + r + "][" + c + "] = " + m + ", expected 0 or 1");
                if (m == 0) padding = true;
                else if (padding) throw new IllegalArgumentException("row " + r + " is not right-padded: mask 1 at position " + c + " after a 0");
                if (id < 0 || id >= vocab) throw new IllegalArgumentException("token id " + id + " at [" + r + "][" + c + "] is outside the vocabulary [0, " + vocab + ")");
                flat[r * t + c] = id;
                pos[r * t + c] = c;
                valid[r * t + c] = m;
            }
        }
        return new Batch(b, t, flat, pos, Tensor.fromArray(valid, b, t), mask);
    }

    /** targets[b·T + t] = labels[b][t+1] when position t+1 is a real token, else -100 (ignored). */
    int[] shiftedTargets(int[][] labels) {
        if (labels.length != b) throw new IllegalArgumentException("labels have " + labels.length + " rows, ids have " + b);
        int[] out = new int[b * t];
        for (int r = 0; r < b; r++) {
            if (labels[r].length != t) throw new IllegalArgumentException("labels row " + r + " has " + labels[r].length + " values, expected " + t);
            for (int c = 0; c < t; c++) {
                out[r * t + c] = c + 1 < t && mask[r][c + 1] == 1 ? labels[r][c + 1] : LlamaDecoder.IGNORE_INDEX;
            }
        }
        return out;
    }
}
