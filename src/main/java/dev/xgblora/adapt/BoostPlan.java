package dev.xgblora.adapt;

/**
 * The resolved schedule of a run: {@code rounds} rounds of {@code stepsPerRound} steps (the last
 * may be shorter), each attaching rank-{@code rank} adapters with scale s to the targets of
 * {@code layersPerRound} layers chosen by {@code selection}. rounds = 0 means no adapters: full
 * fine-tuning, or the head alone.
 * {@code rewarmSteps} &gt; 0 asks for a jagged LR re-warmup after each restart. The rounds start
 * after {@code headWarmup} steps that train the head alone (a warm start; 0 = from the first step).
 */
public record BoostPlan(Preset preset, int rounds, int stepsPerRound, int layersPerRound, int rank, float scale,
                        LayerSelection selection, int rewarmSteps, int headWarmup) {
    public boolean usesAdapters() {
        return rounds > 0;
    }

    /** Whether every backbone weight trains (full fine-tuning); the head trains in every method. */
    public boolean trainsBackbone() {
        return preset == Preset.FULL;
    }

    /** Round that owns global step {@code step} (counted from 0). */
    public int roundOf(int step) {
        return (step - headWarmup) / stepsPerRound;
    }

    /** Whether a new round starts at {@code step}. */
    public boolean startsRound(int step) {
        return usesAdapters() && step >= headWarmup && (step - headWarmup) % stepsPerRound == 0 && roundOf(step) < rounds;
    }

    /** Whether the round running at {@code step} ends after it (or the run ends after it). */
    public boolean endsRound(int step, int totalSteps) {
        return usesAdapters() && step >= headWarmup && ((step + 1 - headWarmup) % stepsPerRound == 0 || step + 1 == totalSteps);
    }

    public String describe() {
        if (preset == Preset.HEAD) return "head: backbone frozen, only the task head trains";
        if (!usesAdapters()) return preset.id() + ": all weights trainable";
        return preset.id() + ": " + rounds + " round(s) x " + stepsPerRound + " steps, rank " + rank + ", scale "
                + scale + ", " + layersPerRound + " layer(s)/round (" + selection.name().toLowerCase(java.util.Locale.ROOT) + ")"
                + (rewarmSteps > 0 ? ", re-warmup " + rewarmSteps + " steps" : "")
                + (headWarmup > 0 ? ", after " + headWarmup + " head-only steps" : "");
    }
}
