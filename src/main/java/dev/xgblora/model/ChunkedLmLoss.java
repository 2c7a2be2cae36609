package dev.xgblora.model;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;

/**
 * Cross-entropy of an LM head without the [M, V] logits: hidden states [M, C] against the head
 * weight [V, C] (mapped, any dtype; the tied embedding table as it is) in tiles of
 * {@code rowChunk} tokens × {@code vocabChunk} vocabulary entries. Forward keeps a running
 * max and sum per token (online logsumexp) and the target's logit; backward recomputes each tile's
 * logits, turns them into scale·(softmax − onehot) in place and sends them into dX (and dW when
 * the head trains). Memory: one [rowChunk, vocabChunk] tile and four floats per token. The tile
 * steps are Kernels ops (chunkedCrossEntropy*), so on a device backend the tile, the running state
 * and the logsumexps stay on the device: one loss scalar per row chunk comes back.
 */
public final class ChunkedLmLoss {
    public static final int DEFAULT_ROWS = 256;
    public static final int DEFAULT_VOCAB = 8192;

    private final int rowChunk;
    private final int vocabChunk;
    private final float[] tile;
    /** Per row chunk: the online-logsumexp state [rows, 3] and the rows' logsumexp [rows] (backward). */
    private final java.util.List<Tensor> states = new java.util.ArrayList<>(), lses = new java.util.ArrayList<>();

    public ChunkedLmLoss(int rowChunk, int vocabChunk) {
        if (rowChunk < 1 || vocabChunk < 1) throw new IllegalArgumentException("LM loss chunks must be positive: " + rowChunk + " x " + vocabChunk);
        this.rowChunk = rowChunk;
        this.vocabChunk = vocabChunk;
        this.tile = new float[Math.multiplyExact(rowChunk, vocabChunk)];
    }

    /** The tile's first rows·cols floats as a contiguous [rows, cols] tensor (a device backend keeps it resident). */
    private Tensor tile(long rows, long cols) {
        return Tensor.of(java.lang.foreign.MemorySegment.ofArray(tile), dev.xgblora.tensor.DType.F32, rows, cols);
    }

    /** Row chunk {@code c}'s tensor of {@code shape} in {@code list}, kept across steps while its shape holds. */
    private static Tensor chunkTensor(java.util.List<Tensor> list, int c, long... shape) {
        while (list.size() <= c) list.add(null);
        Tensor t = list.get(c);
        if (t == null || !java.util.Arrays.equals(t.shape(), shape)) list.set(c, t = Tensor.zeros(shape));
        return t;
    }

    private static int[] rowTargets(int[] targets, int r0, int rn) {
        return r0 == 0 && rn == targets.length ? targets : java.util.Arrays.copyOfRange(targets, r0, r0 + rn);
    }

    /**
     * Mean loss over rows whose target is not {@code ignore}, with hidden [M, C] and weight [V, C];
     * keeps each row's logsumexp for {@link #backward}. Returns 0 when no row counts.
     */
    public double forward(Kernels k, Tensor hidden, Tensor weight, int[] targets, int ignore) {
        int m = Math.toIntExact(hidden.rows());
        long v = weight.dim(0);
        if (targets.length != m) throw new IllegalArgumentException("LM loss: " + targets.length + " targets for " + m + " rows");
        for (int i = 0; i < m; i++) {
            if (targets[i] != ignore && (targets[i] < 0 || targets[i] >= v)) {
                throw new IllegalArgumentException("LM loss: target " + targets[i] + " of row " + i + " is outside the vocabulary [0, " + v + ")");
            }
        }
        double total = 0;
        int counted = 0;
        for (int t : targets) if (t != ignore) counted++;
        for (int r0 = 0, c = 0; r0 < m; r0 += rowChunk, c++) {
            int rn = Math.min(rowChunk, m - r0);
            int[] tg = rowTargets(targets, r0, rn);
            Tensor h = hidden.slice(r0, rn), state = chunkTensor(states, c, rn, 3);
            for (long v0 = 0; v0 < v; v0 += vocabChunk) {
                int vn = (int) Math.min(vocabChunk, v - v0);
                Tensor logits = tile(rn, vn);
                k.linearForward(h, weight.slice(v0, vn), null, logits);
                k.chunkedCrossEntropyForward(logits, tg, v0, v0 == 0, state);
            }
            total += k.chunkedCrossEntropyLoss(state, tg, ignore, chunkTensor(lses, c, rn));
        }
        return counted == 0 ? 0.0 : total / counted;
    }

    /**
     * Backward of the last {@link #forward} for {@code scale} · (sum of the counted rows' losses):
     * dHidden[M, C] += dlogits·W and dWeight[V, C] += dlogitsᵀ·hidden (either may be null).
     */
    public void backward(Kernels k, Tensor hidden, Tensor weight, int[] targets, int ignore, float scale,
                         Tensor dHidden, Tensor dWeight) {
        int m = Math.toIntExact(hidden.rows());
        long v = weight.dim(0);
        if (dHidden == null && dWeight == null) return;
        for (int r0 = 0, c = 0; r0 < m; r0 += rowChunk, c++) {
            int rn = Math.min(rowChunk, m - r0);
            boolean any = false;
            for (int i = 0; i < rn && !any; i++) any = targets[r0 + i] != ignore;
            if (!any) continue;
            int[] tg = rowTargets(targets, r0, rn);
            Tensor h = hidden.slice(r0, rn), lse = lses.get(c);
            for (long v0 = 0; v0 < v; v0 += vocabChunk) {
                int vn = (int) Math.min(vocabChunk, v - v0);
                Tensor w = weight.slice(v0, vn);
                Tensor d = tile(rn, vn);
                k.linearForward(h, w, null, d);
                k.chunkedCrossEntropyBackward(d, tg, v0, ignore, lse, scale);
                if (dHidden != null) k.linearBackwardInput(d, w, dHidden.slice(r0, rn));
                if (dWeight != null) k.linearBackwardWeight(d, h, dWeight.slice(v0, vn));
            }
        }
    }
}
