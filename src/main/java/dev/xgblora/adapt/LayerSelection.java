package dev.xgblora.adapt;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/** How each round picks the layers that get boosters. */
public enum LayerSelection {
    /** L_s layers uniformly without replacement, from a seed derived from (seed, round). */
    RANDOM,
    /** Round-robin: round t takes layers t·L_s .. t·L_s + L_s − 1 (mod L). */
    CYCLIC,
    /** Every layer. */
    ALL,
    /**
     * L_s layers with the largest gradient signal: each round scores a candidate booster on every
     * layer with one probe batch and keeps the layers whose boosters' gradients are largest.
     */
    GRADIENT;

    public static LayerSelection parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown layer selection '" + s + "' (expected random, cyclic, gradient or all)");
        }
    }

    /** Sorted layer indices for {@code round}. */
    public int[] choose(int round, int perRound, int numLayers, long seed) {
        int k = Math.min(perRound, numLayers);
        int[] out = new int[this == ALL ? numLayers : k];
        switch (this) {
            case GRADIENT -> throw new IllegalStateException("gradient selection needs the gradients: BoostingScheduler.beginCandidates");
            case ALL -> {
                for (int i = 0; i < numLayers; i++) out[i] = i;
            }
            case CYCLIC -> {
                for (int i = 0; i < k; i++) out[i] = (int) (((long) round * k + i) % numLayers);
            }
            case RANDOM -> {
                Random rng = new Random(Seeds.derive(seed, round, 2));
                int[] all = new int[numLayers];
                for (int i = 0; i < numLayers; i++) all[i] = i;
                for (int i = 0; i < k; i++) { // partial Fisher-Yates
                    int j = i + rng.nextInt(numLayers - i);
                    int t = all[i];
                    all[i] = all[j];
                    all[j] = t;
                    out[i] = all[i];
                }
            }
        }
        Arrays.sort(out);
        return out;
    }
}
