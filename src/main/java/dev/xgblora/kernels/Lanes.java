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
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] FOLDS = new VectorShuffle[Integer.numberOfTrailingZeros(L)];

    static {
        for (int step = 0, half = L / 2; half >= 1; step++, half /= 2) {
            int h = half;
            FOLDS[step] = VectorShuffle.fromOp(S, i -> (i + h) % L);
        }
    }

    private Lanes() {
    }

    /** Σ lanes of v: fold the upper half onto the lower half until one lane is left. */
    static float sum(FloatVector v) {
        for (VectorShuffle<Float> fold : FOLDS) v = v.add(v.rearrange(fold));
        return v.lane(0);
    }

    /**
     * Max of the lanes, folded like {@link #sum}. Max does not depend on the order except for
     * which zero or NaN comes out; one fixed order settles even that.
     */
    static float max(FloatVector v) {
        for (VectorShuffle<Float> fold : FOLDS) v = v.max(v.rearrange(fold));
        return v.lane(0);
    }
}
