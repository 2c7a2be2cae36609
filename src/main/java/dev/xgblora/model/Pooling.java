package dev.xgblora.model;

import dev.xgblora.tensor.Tensor;

/**
 * Sentence pooling over a padded batch of hidden states [B*T, C], as sentence-transformers does it:
 * mean over the attention mask, the CLS (first) token, and L2 normalization. Each forward
 * overwrites its output; each backward accumulates into its gradient. Sums run in double.
 */
public final class Pooling {
    /** sentence-transformers' clamp of the token count in mean pooling. */
    static final double MIN_COUNT = 1e-9;
    /** torch.nn.functional.normalize's default eps. */
    public static final double NORM_EPS = 1e-12;

    private Pooling() {
    }

    /** out[b,:] = Σ_t mask[b][t]·hidden[b*T+t,:] / max(Σ_t mask[b][t], 1e-9). */
    public static void meanForward(Tensor hidden, int[][] mask, Tensor out) {
        int b = mask.length, t = mask[0].length, c = (int) hidden.cols();
        hidden.requireShape((long) b * t, c);
        out.requireShape(b, c);
        double[] acc = new double[c];
        for (int i = 0; i < b; i++) {
            java.util.Arrays.fill(acc, 0);
            for (int j = 0; j < t; j++) {
                if (mask[i][j] == 0) continue;
                long row = (long) i * t + j;
                for (int k = 0; k < c; k++) acc[k] += mask[i][j] * (double) hidden.get(row, k);
            }
            double inv = 1.0 / Math.max(count(mask[i]), MIN_COUNT);
            for (int k = 0; k < c; k++) out.set(i, k, (float) (acc[k] * inv));
        }
    }

    /** dHidden[b*T+t,:] += mask[b][t] · dOut[b,:] / count_b. */
    public static void meanBackward(Tensor dOut, int[][] mask, Tensor dHidden) {
        int b = mask.length, t = mask[0].length, c = (int) dOut.cols();
        dOut.requireShape(b, c);
        dHidden.requireShape((long) b * t, c);
        for (int i = 0; i < b; i++) {
            double inv = 1.0 / Math.max(count(mask[i]), MIN_COUNT);
            for (int j = 0; j < t; j++) {
                if (mask[i][j] == 0) continue;
                long row = (long) i * t + j;
                double w = mask[i][j] * inv;
                for (int k = 0; k < c; k++) dHidden.set(row, k, (float) (dHidden.get(row, k) + w * dOut.get(i, k)));
            }
        }
    }

    /** out[b,:] = hidden[b*T,:] (the first token, [CLS] in BERT). */
    public static void clsForward(Tensor hidden, int seqLen, Tensor out) {
        int b = (int) out.dim(0), c = (int) out.dim(1);
        hidden.requireShape((long) b * seqLen, c);
        for (int i = 0; i < b; i++) {
            for (int k = 0; k < c; k++) out.set(i, k, hidden.get((long) i * seqLen, k));
        }
    }

    /** dHidden[b*T,:] += dOut[b,:]. */
    public static void clsBackward(Tensor dOut, int seqLen, Tensor dHidden) {
        int b = (int) dOut.dim(0), c = (int) dOut.dim(1);
        dHidden.requireShape((long) b * seqLen, c);
        for (int i = 0; i < b; i++) {
            long row = (long) i * seqLen;
            for (int k = 0; k < c; k++) dHidden.set(row, k, dHidden.get(row, k) + dOut.get(i, k));
        }
    }

    /**
     * y[b,:] = x[b,:] / max(‖x[b,:]‖, 1e-12); norms[b] (may be null) receives max(‖x‖, eps) for
     * backward. y may be x.
     */
    public static void l2NormalizeForward(Tensor x, Tensor y, Tensor norms) {
        int b = (int) x.dim(0), c = (int) x.dim(1);
        y.requireShape(b, c);
        for (int i = 0; i < b; i++) {
            double ss = 0;
            for (int k = 0; k < c; k++) {
                double v = x.get(i, k);
                ss += v * v;
            }
            double norm = Math.max(Math.sqrt(ss), NORM_EPS);
            if (norms != null) norms.set(i, (float) norm);
            for (int k = 0; k < c; k++) y.set(i, k, (float) (x.get(i, k) / norm));
        }
    }

    /**
     * dx += (dy − y·(y·dy)) / norm per row, the Jacobian of x/‖x‖ (for rows with ‖x‖ above eps;
     * below it the map is x/eps and dx += dy/eps).
     */
    public static void l2NormalizeBackward(Tensor dy, Tensor y, Tensor norms, Tensor dx) {
        int b = (int) y.dim(0), c = (int) y.dim(1);
        dy.requireShape(b, c);
        dx.requireShape(b, c);
        for (int i = 0; i < b; i++) {
            double norm = norms.get(i);
            boolean clamped = norm <= (float) NORM_EPS;
            double dot = 0;
            if (!clamped) for (int k = 0; k < c; k++) dot += (double) y.get(i, k) * dy.get(i, k);
            for (int k = 0; k < c; k++) {
                double g = (dy.get(i, k) - y.get(i, k) * dot) / norm;
                dx.set(i, k, (float) (dx.get(i, k) + g));
            }
        }
    }

    private static double count(int[] maskRow) {
        double n = 0;
        for (int m : maskRow) n += m;
        return n;
    }
}
