package dev.xgblora.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks the next token from logits: greedy, or top-p (nucleus) sampling at a temperature. */
public final class TokenSampler {
    private TokenSampler() {
    }

    /** The index of the largest logit (the first one on ties). */
    public static int greedy(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /**
     * Greedy when temperature &lt;= 0 or topP &lt;= 0; otherwise samples from the smallest set of most
     * probable tokens whose probabilities (softmax of logits / temperature) sum to at least topP.
     */
    public static int sample(float[] logits, float topP, float temperature, SplittableRandom rng) {
        if (temperature <= 0f || topP <= 0f) return greedy(logits);
        int v = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[v];
        double sum = 0;
        for (int i = 0; i < v; i++) {
            p[i] = Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) {
            order[i] = i;
            p[i] /= sum;
        }
        Arrays.sort(order, (a, b) -> p[b] != p[a] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        double kept = 0;
        int n = 0;
        while (n < v && (n == 0 || kept < topP)) kept += p[order[n++]];
        double u = rng.nextDouble() * kept;
        for (int i = 0; i < n; i++) {
            u -= p[order[i]];
            if (u < 0) return order[i];
        }
        return order[n - 1];
    }
}
