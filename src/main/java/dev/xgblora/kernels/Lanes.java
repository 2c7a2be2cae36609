package dev.xgblora.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Horizontal sums and maxima in a fixed order. {@code reduceLanes(ADD)} leaves the order open: compiled code
 * adds as a tree, the interpreter left to right, so one call could round differently before and
 * after the JIT. Folding halves with explicit shuffles gives the same bits everywhere.
 */
final class Lanes {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    // One constant shuffle per fold (upper half onto lower), unrolled below: C2 intrinsifies a
    // rearrange by a constant shuffle, while a loop over a shuffle array kept boxed vectors alive.
    private static final VectorShuffle<Float> F8 = fold(8), F4 = fold(4), F2 = fold(2), F1 = fold(1);

    private static VectorShuffle<Float> fold(int half) {
        return half < L ? VectorShuffle.fromOp(S, i -> (i + half) % L) : null;
    }

    private Lanes() {
    }

    /** Σ lanes of v: fold the upper half onto the lower half until one lane is left. */
    static float sum(FloatVector v) {
        if (L > 8) v = v.add(v.rearrange(F8));
        if (L > 4) v = v.add(v.rearrange(F4));
        v = v.add(v.rearrange(F2));
        return v.add(v.rearrange(F1)).lane(0);
    }

    /**
     * Σ of the L floats at a[off..off+L), in {@link #sum}'s fold order (the same bits), folded in
     * place: for vectors staged to an array where a call taking the vector would box it.
     */
    static float sum(float[] a, int off) {
        for (int half = L / 2; half >= 1; half /= 2) {
            for (int i = 0; i < half; i++) a[off + i] += a[off + i + half];
        }
        return a[off];
    }

    /**
     * Max of the lanes, folded like {@link #sum}. Max does not depend on the order except for
     * which zero or NaN comes out; one fixed order settles even that.
     */
    static float max(FloatVector v) {
        if (L > 8) v = v.max(v.rearrange(F8));
        if (L > 4) v = v.max(v.rearrange(F4));
        v = v.max(v.rearrange(F2));
        return v.max(v.rearrange(F1)).lane(0);
    }
}
