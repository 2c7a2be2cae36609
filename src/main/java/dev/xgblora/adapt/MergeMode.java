package dev.xgblora.adapt;

import java.util.Locale;

/**
 * How a finished round's boosters join the frozen weight. FACTORED keeps each module's merged
 * boosters as stacked factors U [out, k] and V [k, in] applied next to the weight (two thin
 * GEMMs), so a memory-mapped BF16/F16 weight stays mapped; DENSE folds every booster into an F32
 * heap copy of the weight; AUTO (the default) keeps factors while they are cheaper than the
 * weight, k·(in + out) &lt; in·out / 2, folds them when they no longer are, and merges densely into
 * a weight that already is an F32 heap array (nothing to save there).
 */
public enum MergeMode {
    DENSE, FACTORED, AUTO;

    public static MergeMode parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown merge mode '" + s + "' (expected dense, factored or auto)");
        }
    }

    /** Whether k stacked rank-1 factors of an [out, in] module cost at least half of a dense copy. */
    public static boolean factorsTooLarge(long k, long in, long out) {
        return Math.multiplyExact(k, in + out) * 2 >= Math.multiplyExact(in, out);
    }
}
