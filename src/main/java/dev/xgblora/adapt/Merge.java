package dev.xgblora.adapt;

import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;

/** Folding low-rank factors into a weight matrix, in float32 with double inner sums. */
public final class Merge {
    private Merge() {
    }

    /**
     * W += factor · B·A. A BF16/F16 or mapped weight first becomes an F32 working copy (once);
     * later merges add into that copy, so nothing is rounded to low precision again.
     */
    public static void into(Param weight, float[] a, float[] b, int rank, float factor) {
        Tensor w = weight.ensureWritableF32();
        float[] wv = w.heapArray();
        int out = (int) w.dim(0), in = (int) w.dim(1);
        if (a.length != rank * in || b.length != out * rank) {
            throw new IllegalArgumentException("merge into '" + weight.name() + "' [" + out + ", " + in + "]: factors of rank "
                    + rank + " have " + a.length + " and " + b.length + " values");
        }
        for (int i = 0; i < out; i++) {
            int row = i * in;
            for (int j = 0; j < in; j++) {
                double s = 0;
                for (int r = 0; r < rank; r++) s += (double) b[i * rank + r] * a[r * in + j];
                wv[row + j] += (float) (factor * s);
            }
        }
    }

    /** ‖factor · B·A‖_F from the small Gram matrices: ‖BA‖² = Σ (BᵀB)∘(AAᵀ). */
    public static double frobenius(float[] a, float[] b, int rank, int in, int out, float factor) {
        double sum = 0;
        for (int p = 0; p < rank; p++) {
            for (int q = 0; q < rank; q++) {
                double bb = 0, aa = 0;
                for (int i = 0; i < out; i++) bb += (double) b[i * rank + p] * b[i * rank + q];
                for (int j = 0; j < in; j++) aa += (double) a[p * in + j] * a[q * in + j];
                sum += bb * aa;
            }
        }
        return Math.abs(factor) * Math.sqrt(Math.max(0, sum));
    }
}
