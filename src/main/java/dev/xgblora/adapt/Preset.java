package dev.xgblora.adapt;

import java.util.Locale;

/** The methods the one boosting scheduler runs (see the spec's table). */
public enum Preset {
    /** Backbone frozen, only the task head trains: the baseline every other method has to beat. */
    HEAD,
    /** All weights trainable, no adapters. */
    FULL,
    /** One rank-r adapter on every layer for the whole run, merged only at the end. */
    LORA,
    /** Rank-1 boosters on L_s random layers, κ steps each, merged and replaced every round. */
    XGBLORA,
    /** Rank-r adapters on all layers, merged and restarted every N ≈ K/4 steps, jagged LR re-warmup. */
    RELORA,
    /** Chain of LoRA: M [3] rank-r rounds on all layers, fresh state each round. */
    COLA;

    public static Preset parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown method '" + s + "' (expected head, full, lora, xgblora, relora or cola)");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
