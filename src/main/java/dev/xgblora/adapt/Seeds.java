package dev.xgblora.adapt;

/**
 * Independent seeds derived from (seed, round, purpose) with SplitMix64, so that every random
 * choice of a round can be recomputed on resume instead of saving generator state.
 */
public final class Seeds {
    private Seeds() {
    }

    public static long derive(long seed, long round, long purpose) {
        return mix(mix(mix(seed) ^ round) ^ purpose * 0x632BE59BD9B4E019L);
    }

    static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
