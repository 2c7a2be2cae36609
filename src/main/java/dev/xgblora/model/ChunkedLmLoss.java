package dev.xgblora.model;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;

/**
 * Cross-entropy of an LM head without the [M, V] logits: hidden states [M, C] against the head
 * weight [V, C] (mapped, any dtype; the tied embedding table as it is) in tiles of
 * {@code rowChunk} tokens × {@code vocabChunk} vocabulary entries. Forward keeps a running
 * max and sum per token (online logsumexp) and the target's logit; backward recomputes each tile's
 * logits, turns them into scale·(softmax − onehot) in place and sends them into dX (and dW when
 * the head trains). Memory: one [rowChunk, vocabChunk] tile and two floats per token.
 */
public final class ChunkedLmLoss {
    public static final int DEFAULT_ROWS = 256;
    public static final int DEFAULT_VOCAB = 8192;

    private final int rowChunk;
    private final int vocabChunk;
    private final float[] tile;
    private double[] lse = new double[0];

    public ChunkedLmLoss(int rowChunk, int vocabChunk) {
        if (rowChunk < 1 || vocabChunk < 1) throw new IllegalArgumentException("LM loss chunks must be positive: " + rowChunk + " x " + vocabChunk);
        this.rowChunk = rowChunk;
        this.vocabChunk = vocabChunk;
        this.tile = new float[Math.multiplyExact(rowChunk, vocabChunk)];
    }

    /** The tile's first rows·cols floats as a contiguous [rows, cols] tensor. */
    /**
     * The tile array for host code that reads and writes it directly: a device backend that wrote
     * the tile (OpenCL residency) copies it back first and forgets its copy.
     */
    private float[] hostTile(Tensor view) {
        dev.xgblora.tensor.HostAccess.beforeWrite(view);
        return tile;
    }

    private Tensor tile(long rows, long cols) {
        return Tensor.of(java.lang.foreign.MemorySegment.ofArray(tile), dev.xgblora.tensor.DType.F32, rows, cols);
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
        if (lse.length < m) lse = new double[m];
        double total = 0;
        int counted = 0;
        double[] max = new double[rowChunk], sum = new double[rowChunk], target = new double[rowChunk];
        for (int r0 = 0; r0 < m; r0 += rowChunk) {
            int rn = Math.min(rowChunk, m - r0);
            java.util.Arrays.fill(max, Double.NEGATIVE_INFINITY);
            java.util.Arrays.fill(sum, 0);
            Tensor h = hidden.slice(r0, rn);
            for (long v0 = 0; v0 < v; v0 += vocabChunk) {
                int vn = (int) Math.min(vocabChunk, v - v0);
                Tensor logits = tile(rn, vn);
                k.linearForward(h, weight.slice(v0, vn), null, logits);
                float[] a = hostTile(logits);
                for (int i = 0; i < rn; i++) {
                    int base = i * vn;
                    double mx = max[i];
                    for (int j = 0; j < vn; j++) mx = Math.max(mx, a[base + j]);
                    double s = sum[i] * Math.exp(max[i] - mx);
                    for (int j = 0; j < vn; j++) s += Math.exp(a[base + j] - mx);
                    max[i] = mx;
                    sum[i] = s;
                    int tg = targets[r0 + i];
                    if (tg >= v0 && tg < v0 + vn) target[i] = a[base + (int) (tg - v0)];
                }
            }
            for (int i = 0; i < rn; i++) {
                double l = max[i] + Math.log(sum[i]);
                lse[r0 + i] = l;
                if (targets[r0 + i] != ignore) {
                    total += l - target[i];
                    counted++;
                }
            }
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
        for (int r0 = 0; r0 < m; r0 += rowChunk) {
            int rn = Math.min(rowChunk, m - r0);
            boolean any = false;
            for (int i = 0; i < rn && !any; i++) any = targets[r0 + i] != ignore;
            if (!any) continue;
            Tensor h = hidden.slice(r0, rn);
            for (long v0 = 0; v0 < v; v0 += vocabChunk) {
                int vn = (int) Math.min(vocabChunk, v - v0);
                Tensor w = weight.slice(v0, vn);
                Tensor d = tile(rn, vn);
                k.linearForward(h, w, null, d);
                float[] a = hostTile(d);
                for (int i = 0; i < rn; i++) {
                    int tg = targets[r0 + i], base = i * vn;
                    if (tg == ignore) {
                        java.util.Arrays.fill(a, base, base + vn, 0f);
                        continue;
                    }
                    double l = lse[r0 + i];
                    for (int j = 0; j < vn; j++) a[base + j] = (float) (scale * Math.exp(a[base + j] - l));
                    if (tg >= v0 && tg < v0 + vn) a[base + (int) (tg - v0)] -= scale;
                }
                if (dHidden != null) k.linearBackwardInput(d, w, dHidden.slice(r0, rn));
                if (dWeight != null) k.linearBackwardWeight(d, h, dWeight.slice(v0, vn));
            }
        }
    }
}
