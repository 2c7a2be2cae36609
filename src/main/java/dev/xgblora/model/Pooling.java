package dev.xgblora.model;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;

/**
 * Sentence pooling over a padded batch of hidden states [B*T, C], as sentence-transformers does it:
 * mean over the attention mask, the CLS (first) token, and L2 normalization. Each forward
 * overwrites its output; each backward accumulates into its gradient. Sums run in double.
 */
public final class Pooling {
    /** Host code (inference, tests) pools with the reference kernels; training uses its backend's ops. */
    private static final Kernels HOST = new ReferenceKernels();
    /** torch.nn.functional.normalize's default eps. */
    public static final double NORM_EPS = 1e-12;

    private Pooling() {
    }

    /** out[b,:] = Σ_t mask[b][t]·hidden[b*T+t,:] / max(Σ_t mask[b][t], 1e-9) (the reference kernel's mean pooling). */
    public static void meanForward(Tensor hidden, int[][] mask, Tensor out) {
        HOST.meanPoolForward(hidden, flat(mask), out);
    }

    /** dHidden[b*T+t,:] += mask[b][t] · dOut[b,:] / count_b. */
    public static void meanBackward(Tensor dOut, int[][] mask, Tensor dHidden) {
        HOST.meanPoolBackward(dOut, flat(mask), dHidden);
    }

    /** out[b,:] = hidden[b*T,:] (the first token, [CLS] in BERT). */
    public static void clsForward(Tensor hidden, int seqLen, Tensor out) {
        HOST.clsPoolForward(hidden, seqLen, out);
    }

    /** dHidden[b*T,:] += dOut[b,:]. */
    public static void clsBackward(Tensor dOut, int seqLen, Tensor dHidden) {
        HOST.clsPoolBackward(dOut, seqLen, dHidden);
    }

    private static int[] flat(int[][] mask) {
        int t = mask.length == 0 ? 0 : mask[0].length;
        int[] out = new int[mask.length * t];
        for (int i = 0; i < mask.length; i++) {
            if (mask[i].length != t) throw new IllegalArgumentException("mask row " + i + " has " + mask[i].length + " entries, row 0 has " + t);
            System.arraycopy(mask[i], 0, out, i * t, t);
        }
        return out;
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

}
