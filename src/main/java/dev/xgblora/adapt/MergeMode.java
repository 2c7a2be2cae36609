package dev.xgblora.adapt;

import java.util.Locale;

/**
 * How a finished round's boosters join the frozen weight. FACTORED keeps each module's merged
 * boosters as stacked factors U [out, k] and V [k, in] applied next to the weight (two thin
 * GEMMs), so a memory-mapped BF16/F16 weight stays mapped; DENSE folds every booster into an F32
 * heap copy of the weight; AUTO (the default) keeps factors while they are cheaper than the
 * weight, k·(in + out) &lt; in·out / 2, folds them when they no longer are, and merges densely into
 * a weight that already is an F32 heap array (nothing to save there) or a small F32 one (see
 * {@link #foldsAtOnce}).
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

    /** F32 modules up to this many elements (16 MiB) fold at the first merge under AUTO. */
    public static final long SMALL_F32_MODULE = 1L << 22;

    /**
     * Whether AUTO merges densely from the first booster on: an F32 heap weight, or an F32 (mapped)
     * weight of at most {@link #SMALL_F32_MODULE} elements. There a heap copy keeps the weight's
     * precision and GEMM speed and costs at most 16 MiB per module, while the factors cost a pass over
     * the activations per merged booster in forward and backward (MiniLM, XGBLoRA on all layers, κ 20:
     * 747 tokens/s factored vs 854 dense after 120 steps). Large or BF16/F16 weights stay mapped.
     */
    public static boolean foldsAtOnce(boolean heapF32, boolean f32, long in, long out) {
        return heapF32 || (f32 && Math.multiplyExact(in, out) <= SMALL_F32_MODULE);
    }

    /** Whether k stacked rank-1 factors of an [out, in] module cost at least half of a dense copy. */
    public static boolean factorsTooLarge(long k, long in, long out) {
        return Math.multiplyExact(k, in + out) * 2 >= Math.multiplyExact(in, out);
    }
}
