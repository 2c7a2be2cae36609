package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;

/**
 * Which keys each query of an attention call may see. Queries and keys share one position axis:
 * with T queries and S keys (S &gt;= T, the extra keys being a KV cache of earlier positions),
 * query t sits at position p = t + (S − T). Key s is visible to that query when all hold:
 * <ul>
 *   <li>{@code keyValid} is null or keyValid[b, s] != 0 (padding is hidden);</li>
 *   <li>not {@code causal}, or s &lt;= p;</li>
 *   <li>{@code window} is 0, or p − window &lt; s (Mistral's sliding window; needs causal);</li>
 *   <li>{@code segments} is null, or segments[b·S + s] == segments[b·S + p] (packed documents do
 *       not see each other).</li>
 * </ul>
 * A query with no visible key gets an all-zero output.
 *
 * @param keyValid [B, S] F32, 1 for a real key, 0 for padding; null = all real
 * @param causal   hide later positions
 * @param window   sliding window in positions (0 = unlimited)
 * @param segments [B·S] document id per position; null = one document per row
 */
public record AttentionMask(Tensor keyValid, boolean causal, int window, int[] segments) {

    /** Every query sees every key. */
    public static final AttentionMask NONE = new AttentionMask(null, false, 0, null);

    public AttentionMask {
        if (window < 0) throw new IllegalArgumentException("attention window must be >= 0, got " + window);
        if (window > 0 && !causal) {
            throw new IllegalArgumentException("a sliding attention window (" + window + ") needs causal attention");
        }
    }

    /** Bidirectional attention over the real keys (an encoder). */
    public static AttentionMask padding(Tensor keyValid) {
        return new AttentionMask(keyValid, false, 0, null);
    }

    /** Causal attention over the real keys (a decoder). */
    public static AttentionMask causal(Tensor keyValid) {
        return new AttentionMask(keyValid, true, 0, null);
    }

    /** The same mask with a sliding window of {@code w} positions (0 = unlimited). */
    public AttentionMask withWindow(int w) {
        return new AttentionMask(keyValid, causal, w, segments);
    }

    /** The same mask restricted to keys of the query's own segment ([B·S] ids). */
    public AttentionMask withSegments(int[] ids) {
        return new AttentionMask(keyValid, causal, window, ids);
    }

    /**
     * Checks the mask fits B sequences of T queries against S keys; {@code op} names the call.
     * Public so that device backends outside this package check it the same way.
     */
    public void check(String op, int b, int t, int s) {
        if (t > s) throw new IllegalArgumentException(op + ": " + t + " queries but only " + s + " keys (need S >= T)");
        if (keyValid != null && (keyValid.rank() != 2 || keyValid.dim(0) != b || keyValid.dim(1) != s)) {
            throw new IllegalArgumentException(op + ": keyValid " + keyValid.describe() + " must be [" + b + ", " + s + "]");
        }
        if (segments != null && segments.length != (long) b * s) {
            throw new IllegalArgumentException(op + ": segments has " + segments.length + " ids, expected B·S = "
                    + (long) b * s);
        }
    }

    /** First key (inclusive) the query at position p may see, from causality and the window alone. */
    int firstKey(int p) {
        return window > 0 ? Math.max(0, p - window + 1) : 0;
    }

    /** End (exclusive) of the keys the query at position p may see, from causality alone. */
    int endKey(int p, int s) {
        return causal ? Math.min(s, p + 1) : s;
    }

    /** The whole rule, key by key (the reference kernels use only this). */
    boolean visible(int b, int p, int key, int s) {
        if (keyValid != null && keyValid.get(b, key) == 0f) return false;
        if (causal && key > p) return false;
        if (window > 0 && key <= p - window) return false;
        return segments == null || segments[b * s + key] == segments[b * s + p];
    }
}
