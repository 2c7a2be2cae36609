package dev.xgblora.adapt;

import java.util.Locale;

/** How a new booster's A starts (B always starts at 0, so a new booster leaves the model unchanged). */
public enum BoosterInit {
    /** PEFT's Kaiming-uniform draw from a seed derived from (seed, round). */
    RANDOM,
    /**
     * A's rows span the top right singular directions of each module's weight gradient on the round's
     * probe batch (one subspace iteration from the random draw, each row kept at its drawn norm):
     * the booster starts on the rank-r direction that lowers the loss fastest, as a boosting step
     * fits its weak learner to the current gradient.
     */
    GRADIENT;

    public static BoosterInit parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown booster init '" + s + "' (expected random or gradient)");
        }
    }
}
