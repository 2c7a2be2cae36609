package dev.xgblora.adapt;

import java.util.List;

/**
 * Settings of the boosting scheduler. Zero / null means "the preset's default", resolved against
 * the run's total steps and layer count by {@link #plan}. Fluent setters return this.
 */
public final class BoostConfig {
    /** Settings with defaults (XGBLoRA preset with default settings); adjust with the fluent setters. */
    public BoostConfig() {
    }

    public Preset preset = Preset.XGBLORA;
    /** κ: steps per booster (xgblora) or per restart (relora, default K/4); 0 = preset default. */
    public int stepsPerRound;
    /** M: number of rounds (cola, default 3; xgblora: κ = steps / M); 0 = preset default. Ignored when stepsPerRound is set. */
    public int rounds;
    /** L_s: layers per booster; 0 = round(L/3), at least 1 (xgblora) or all layers (others). */
    public int layersPerRound;
    /** r: 0 = 1 for xgblora, 8 for lora, relora, cola. */
    public int rank;
    public float alpha = 16f;
    /** rsLoRA scaling alpha/sqrt(r) instead of alpha/r. */
    public boolean rsLora;
    /** η: merge shrinkage. */
    public float eta = 1f;
    /** λ: L2 penalty on adapter factors, added to the loss as λ·Σ(‖A‖² + ‖B‖²). */
    public float l2;
    /** Module names or globs over full linear names; "all" = every linear in the layer stack. */
    public List<String> targets = List.of("all");
    /** null = random for xgblora, all for the others. */
    public LayerSelection selection;
    /** LoRA+: learning-rate multiplier of B relative to A. */
    public float loraPlusRatio = 1f;
    /** Dropout on the adapter input (PEFT's lora_dropout), training only. */
    public float dropout;
    public long seed;
    /** Jagged re-warmup steps after each restart; -1 = preset default (relora: a tenth of a round). */
    public int rewarmSteps = -1;
    /** Steps that train the head alone before the first round (a warm start; adapter methods only). */
    public int headWarmupSteps;
    /** How finished boosters join the frozen weights (factored next to a mapped weight, or dense). */
    public MergeMode merge = MergeMode.AUTO;

    public static BoostConfig of(Preset p) {
        BoostConfig c = new BoostConfig();
        c.preset = p;
        return c;
    }

    public BoostConfig stepsPerRound(int v) { stepsPerRound = v; return this; }
    public BoostConfig rounds(int v) { rounds = v; return this; }
    public BoostConfig layersPerRound(int v) { layersPerRound = v; return this; }
    public BoostConfig rank(int v) { rank = v; return this; }
    public BoostConfig alpha(float v) { alpha = v; return this; }
    public BoostConfig rsLora(boolean v) { rsLora = v; return this; }
    public BoostConfig eta(float v) { eta = v; return this; }
    public BoostConfig l2(float v) { l2 = v; return this; }
    public BoostConfig targets(List<String> v) { targets = List.copyOf(v); return this; }
    public BoostConfig selection(LayerSelection v) { selection = v; return this; }
    public BoostConfig loraPlusRatio(float v) { loraPlusRatio = v; return this; }
    public BoostConfig dropout(float v) { dropout = v; return this; }
    public BoostConfig seed(long v) { seed = v; return this; }
    public BoostConfig rewarmSteps(int v) { rewarmSteps = v; return this; }
    public BoostConfig merge(MergeMode v) { merge = v; return this; }
    public BoostConfig headWarmupSteps(int v) { headWarmupSteps = v; return this; }

    /** Takes the run's seed when none of its own was set (every random choice derives from it). */
    public BoostConfig seedIfUnset(long runSeed) {
        if (seed == 0) seed = runSeed;
        return this;
    }

    /** Concrete values for a run of {@code totalSteps} optimizer steps on {@code numLayers} layers. */
    public BoostPlan plan(int totalSteps, int numLayers) {
        if (totalSteps <= 0) throw new IllegalArgumentException("total steps must be positive: " + totalSteps);
        if (dropout < 0 || dropout >= 1) throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
        if (headWarmupSteps < 0) throw new IllegalArgumentException("head warm-up steps must not be negative: " + headWarmupSteps);
        if (preset == Preset.FULL || preset == Preset.HEAD) {
            if (headWarmupSteps > 0) throw new IllegalArgumentException("a head-only warm start needs an adapter method (xgblora, lora, relora, cola), not "
                    + preset.id());
            return new BoostPlan(preset, 0, totalSteps, 0, 0, 0f, LayerSelection.ALL, 0, 0);
        }
        int warm = Math.min(headWarmupSteps, totalSteps - 1);
        totalSteps -= warm; // the rounds share what the warm start leaves
        int r = rank > 0 ? rank : (preset == Preset.XGBLORA ? 1 : 8);
        int steps = switch (preset) {
            case LORA -> totalSteps;
            // --rounds: κ from the planned steps (under a time budget, the steps that fit)
            case XGBLORA -> stepsPerRound > 0 ? stepsPerRound : rounds > 0 ? (int) Math.ceil(totalSteps / (double) rounds) : 50;
            case RELORA -> stepsPerRound > 0 ? stepsPerRound : Math.max(1, (int) Math.ceil(totalSteps / 4.0));
            case COLA -> stepsPerRound > 0 ? stepsPerRound : (int) Math.ceil(totalSteps / (double) (rounds > 0 ? rounds : 3));
            case FULL, HEAD -> throw new AssertionError();
        };
        steps = Math.min(steps, totalSteps);
        LayerSelection sel = selection != null ? selection : (preset == Preset.XGBLORA ? LayerSelection.RANDOM : LayerSelection.ALL);
        int ls = sel == LayerSelection.ALL ? numLayers
                : layersPerRound > 0 ? Math.min(layersPerRound, numLayers)
                : (preset == Preset.XGBLORA ? Math.max(1, (int) Math.round(numLayers / 3.0)) : numLayers);
        float scale = (float) (rsLora ? alpha / Math.sqrt(r) : alpha / r);
        int rounds = (int) Math.ceil(totalSteps / (double) steps);
        int rewarm = rewarmSteps >= 0 ? rewarmSteps : (preset == Preset.RELORA ? Math.max(1, steps / 10) : 0);
        return new BoostPlan(preset, rounds, steps, ls, r, scale, sel, rewarm, warm);
    }
}
