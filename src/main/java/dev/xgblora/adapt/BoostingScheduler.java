package dev.xgblora.adapt;

import dev.xgblora.model.Linear;
import dev.xgblora.model.LoraAdapter;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.DType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Runs the rounds of one {@link BoostPlan}: {@link #begin} attaches fresh adapters to the target
 * modules of the round's layers; {@link #end} merges W += η·s·B·A into each target (factored next
 * to the frozen weight, or dense in float32, see {@link MergeMode}), detaches, and records the
 * boosters. The caller (the trainer) gives the round's params a fresh
 * optimizer. Every random choice derives from (seed, round), so a resumed run repeats them.
 */
public final class BoostingScheduler {
    /** What one round did: layers chosen, ‖ΔW‖_F per module and over the round. */
    public record RoundSummary(int round, int[] layers, List<Booster> boosters, double deltaNorm, long trainableParams) {
    }

    private final BoostConfig cfg;
    private BoostPlan plan;
    private final List<Linear> linears;
    private final int numLayers;
    private final List<Booster> boosters = new ArrayList<>();
    private final Set<Param> touched = new LinkedHashSet<>();
    // per module: the boosters held as factors (not folded into the weight), in merge order
    private final java.util.Map<Linear, List<Booster>> factored = new java.util.LinkedHashMap<>();
    private final List<Linear> current = new ArrayList<>();
    private dev.xgblora.kernels.Kernels mergeKernels; // null: dense merges on the host
    private int round = -1;
    private int[] layers;
    private long cumulativeParams;

    public BoostingScheduler(BoostConfig cfg, List<Linear> linears, int numLayers, int totalSteps) {
        this.cfg = cfg;
        this.plan = cfg.plan(totalSteps, numLayers);
        this.linears = List.copyOf(linears);
        this.numLayers = numLayers;
        if (plan.usesAdapters() && targetsIn(0, numLayers).isEmpty()) {
            throw new IllegalArgumentException("no linear module matches targets " + cfg.targets + " (modules: "
                    + moduleNames() + ")");
        }
    }

    public BoostPlan plan() {
        return plan;
    }

    /**
     * Re-resolves the plan for a new horizon of {@code totalSteps} (a time budget's measured
     * horizon). Only while the rounds done so far keep their length: before the end of the first
     * round, or when the round length does not depend on the horizon (XGBLoRA's κ); returns
     * whether the plan changed.
     */
    public boolean replan(int totalSteps, int stepsDone) {
        BoostPlan p = cfg.plan(totalSteps, numLayers);
        boolean sameRounds = p.stepsPerRound() == plan.stepsPerRound();
        if (!sameRounds && stepsDone >= plan.headWarmup() + Math.min(p.stepsPerRound(), plan.stepsPerRound())) return false;
        plan = p;
        return true;
    }

    public BoostConfig config() {
        return cfg;
    }

    /** Whether a round is open (adapters attached). */
    public boolean inRound() {
        return round >= 0 && !current.isEmpty();
    }

    public int round() {
        return round;
    }

    public int[] currentLayers() {
        return layers == null ? new int[0] : layers.clone();
    }

    /** Attaches fresh adapters for {@code t}; returns the new trainable params (A and B of each). */
    public List<Param> begin(int t) {
        if (plan.selection() == LayerSelection.GRADIENT) {
            throw new IllegalStateException("gradient layer selection scores candidates first: use beginCandidates and keepLayers");
        }
        return begin(t, plan.selection().choose(t, plan.layersPerRound(), numLayers, cfg.seed));
    }

    /**
     * Attaches fresh adapters for {@code t} on the given (sorted) layers: a round whose layers were
     * chosen by gradient signal, or restored from a checkpoint. With gradient selection every
     * candidate's A is drawn as if all layers took part, so a kept booster starts the same way
     * whichever others were kept.
     */
    public List<Param> begin(int t, int[] chosen) {
        if (inRound()) throw new IllegalStateException("round " + round + " is still open");
        for (int l : chosen) if (l < 0 || l >= numLayers) throw new IllegalArgumentException("layer " + l + " outside [0, " + numLayers + ")");
        if (plan.selection() == LayerSelection.GRADIENT && chosen.length < numLayers) {
            beginCandidates(t);
            keepLayers(chosen);
            return roundParams();
        }
        round = t;
        layers = chosen.clone();
        Random rng = new Random(Seeds.derive(cfg.seed, t, 1));
        List<Param> params = new ArrayList<>();
        for (int l : layers) {
            for (Linear lin : targetsIn(l, l + 1)) {
                LoraAdapter a = LoraAdapter.create(lin, plan.rank(), plan.scale(), rng);
                if (cfg.dropout > 0) a.setDropout(cfg.dropout, 0);
                lin.attach(a);
                current.add(lin);
                params.add(a.a());
                params.add(a.b());
            }
        }
        cumulativeParams += adapterParams();
        return params;
    }

    /**
     * Gradient layer selection, step 1: attaches candidate boosters for round {@code t} to every
     * layer; the caller computes their gradients on a probe batch, scores each layer with
     * {@link #layerScores} and keeps the best with {@link #keepLayers}.
     */
    public List<Param> beginCandidates(int t) {
        List<Param> ps = begin(t, LayerSelection.ALL.choose(t, numLayers, numLayers, cfg.seed));
        cumulativeParams -= adapterParams(); // counted once the round's layers are kept
        return ps;
    }

    /**
     * Per layer, the squared norm of the candidate boosters' gradients (Σ over the layer's modules
     * of ‖∂L/∂A‖² + ‖∂L/∂B‖²): with B = 0 at the start, how fast each layer's booster would move
     * the loss.
     */
    public double[] layerScores() {
        double[] score = new double[numLayers];
        for (Linear lin : current) {
            LoraAdapter a = lin.adapter();
            score[lin.layer()] += sumOfSquares(a.a().grad()) + sumOfSquares(a.b().grad());
        }
        return score;
    }

    private static double sumOfSquares(dev.xgblora.tensor.Tensor g) {
        float[] v = g.toFloatArray();
        double s = 0;
        for (float x : v) s += (double) x * x;
        return s;
    }

    /** The {@code k} layers with the largest scores, sorted (ties: the lower layer). */
    public static int[] topLayers(double[] score, int k) {
        Integer[] idx = new Integer[score.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (x, y) -> score[x] != score[y] ? Double.compare(score[y], score[x]) : Integer.compare(x, y));
        int[] out = new int[Math.min(k, score.length)];
        for (int i = 0; i < out.length; i++) out[i] = idx[i];
        java.util.Arrays.sort(out);
        return out;
    }

    /** Gradient layer selection, step 2: detaches the candidates outside {@code keep}; the round continues on those. */
    public void keepLayers(int[] keep) {
        if (!inRound()) throw new IllegalStateException("no round is open");
        java.util.Set<Integer> kept = new java.util.HashSet<>();
        for (int l : keep) kept.add(l);
        java.util.Iterator<Linear> it = current.iterator();
        while (it.hasNext()) {
            Linear lin = it.next();
            if (!kept.contains(lin.layer())) {
                lin.detach();
                it.remove();
            }
        }
        layers = keep.clone();
        java.util.Arrays.sort(layers);
        cumulativeParams += adapterParams();
    }

    /**
     * New dropout masks for the next forward: seeds derive from (seed, tick, module), so a resumed
     * run draws the same masks. tick counts micro-batches.
     */
    public void reseedDropout(long tick) {
        if (cfg.dropout <= 0) return;
        for (int i = 0; i < current.size(); i++) current.get(i).adapter().setDropout(cfg.dropout, Seeds.derive(cfg.seed, tick, 1000L + i));
    }

    /** Training (dropout on) or evaluation (off) mode for the open round's adapters. */
    public void setTraining(boolean training) {
        for (Linear lin : current) lin.adapter().setTraining(training);
    }

    /** The adapter params of the open round, in attach order. */
    public List<Param> roundParams() {
        List<Param> out = new ArrayList<>();
        for (Linear lin : current) {
            out.add(lin.adapter().a());
            out.add(lin.adapter().b());
        }
        return out;
    }

    /** LoRA+ learning-rate multiplier: {@link BoostConfig#loraPlusRatio} for B, 1 for A. */
    public float lrScale(Param p) {
        return p.name().endsWith(".lora_B.weight") ? cfg.loraPlusRatio : 1f;
    }

    /** Trainable adapter parameters of the open round: Σ r·(in + out). */
    public long adapterParams() {
        long n = 0;
        for (Linear lin : current) n += (long) lin.adapter().rank() * (lin.in() + lin.out());
        return n;
    }

    /** Adapter parameters trained over all rounds so far (the honest cumulative count). */
    public long cumulativeParams() {
        return cumulativeParams;
    }

    /**
     * The backend dense merges run on when it merges where the weights live (an OpenCL device:
     * {@link dev.xgblora.kernels.LowRankMerge}); CPU backends and null merge on the host.
     */
    public void mergeOn(dev.xgblora.kernels.Kernels k) {
        this.mergeKernels = k;
    }

    /** Merges and detaches the open round's adapters; returns what the round contributed. */
    public RoundSummary end() {
        if (!inRound()) throw new IllegalStateException("no round is open");
        long params = adapterParams();
        List<Booster> made = new ArrayList<>();
        double total2 = 0;
        float factor = cfg.eta * plan.scale();
        for (Linear lin : current) {
            LoraAdapter a = lin.detach();
            float[] av = a.a().value().toFloatArray(), bv = a.b().value().toFloatArray();
            double norm = Merge.frobenius(av, bv, a.rank(), lin.in(), lin.out(), factor);
            total2 += norm * norm;
            Booster b = new Booster(round, lin.name(), lin.layer(), a.rank(), lin.in(), lin.out(), factor, av, bv, norm);
            merge(lin, b);
            made.add(b);
        }
        current.clear();
        boosters.addAll(made);
        return new RoundSummary(round, layers.clone(), made, Math.sqrt(total2), params);
    }

    /**
     * Joins one booster to its module per {@link BoostConfig#merge}: appended to the module's
     * factors, or added into the F32 weight; AUTO folds the factors once they cost at least half
     * of a dense copy (folding adds each booster in merge order, exactly as DENSE would have).
     */
    private void merge(Linear lin, Booster b) {
        touched.add(lin.weight());
        List<Booster> mine = factored.get(lin);
        boolean dense = cfg.merge == MergeMode.DENSE
                || (cfg.merge == MergeMode.AUTO && mine == null && MergeMode.foldsAtOnce(lin.weight().value().isHeapF32(),
                        lin.weight().value().dtype() == DType.F32, lin.in(), lin.out()));
        if (dense) {
            Merge.into(lin.weight(), b.a(), b.b(), b.rank(), b.factor(), mergeKernels);
            return;
        }
        if (mine == null) factored.put(lin, mine = new ArrayList<>());
        mine.add(b);
        int k = 0;
        for (Booster x : mine) k += x.rank();
        if (cfg.merge == MergeMode.AUTO && MergeMode.factorsTooLarge(k, lin.in(), lin.out())) {
            for (Booster x : mine) Merge.into(lin.weight(), x.a(), x.b(), x.rank(), x.factor(), mergeKernels);
            factored.remove(lin);
            lin.setMergedFactors(null);
        } else {
            Merge.setFactors(lin, mine);
        }
    }

    /** Every merged booster so far, in merge order. */
    public List<Booster> boosters() {
        return Collections.unmodifiableList(boosters);
    }

    /** Weights changed by merges (factored or dense), in first-merge order. */
    public Set<Param> touchedWeights() {
        return Collections.unmodifiableSet(touched);
    }

    /**
     * Restores state after a resume onto the untouched base model: the boosters merged before the
     * checkpoint are merged again in their order (the same operations as the uninterrupted run, so
     * the same weights and factors), and the cumulative count is set. With {@code replay} false the
     * caller has restored the merged weights itself (checkpoints that stored them).
     */
    public void restore(List<Booster> merged, long cumulative, boolean replay) {
        if (!boosters.isEmpty() || !factored.isEmpty()) throw new IllegalStateException("restore needs a scheduler that merged nothing yet");
        java.util.Map<String, Linear> byName = new java.util.HashMap<>();
        for (Linear lin : linears) byName.put(lin.name(), lin);
        for (Booster b : merged) {
            Linear lin = byName.get(b.module());
            if (lin == null) throw new IllegalArgumentException("checkpoint booster of round " + b.round() + " targets '" + b.module()
                    + "', which the model lacks");
            if (replay) merge(lin, b);
            else touched.add(lin.weight());
        }
        boosters.addAll(merged);
        cumulativeParams = cumulative;
    }

    /** Sets the cumulative count (resume into an open round, after {@link #begin} counted it again). */
    public void setCumulativeParams(long n) {
        cumulativeParams = n;
    }

    /** Target linears in layers [from, to), in model order. */
    List<Linear> targetsIn(int from, int to) {
        List<Pattern> globs = new ArrayList<>();
        boolean all = false;
        for (String t : cfg.targets) {
            if (t.equalsIgnoreCase("all") || t.equals("*")) all = true;
            else globs.add(Pattern.compile(t.replace(".", "\\.").replace("*", ".*")));
        }
        List<Linear> out = new ArrayList<>();
        for (Linear lin : linears) {
            if (lin.layer() < from || lin.layer() >= to) continue;
            boolean hit = all;
            for (Pattern p : globs) {
                hit |= p.matcher(lin.module()).matches() || p.matcher(lin.name()).matches();
            }
            if (hit) out.add(lin);
        }
        return out;
    }

    private List<String> moduleNames() {
        Set<String> s = new LinkedHashSet<>();
        for (Linear l : linears) s.add(l.module());
        return new ArrayList<>(s);
    }
}
