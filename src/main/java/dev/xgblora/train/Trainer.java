package dev.xgblora.train;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoostPlan;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.adapt.Booster;
import dev.xgblora.adapt.LayerSelection;
import dev.xgblora.adapt.Seeds;
import dev.xgblora.kernels.DeviceOutOfMemory;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.Param;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop: per step, start a round when the plan says so (fresh adapters, fresh
 * optimizer state for them), accumulate gradients over micro-batches, add the adapter L2 penalty,
 * skip non-finite steps, clip, step both optimizers (boosters; head and other trainables, whose
 * state persists across rounds), end the round (merge) when due, then log, evaluate and checkpoint.
 */
public final class Trainer {
    final TaskModel model;
    final TaskData train;
    final TaskData valid;
    final TrainConfig cfg;
    final Kernels k;
    final BoostingScheduler scheduler;
    BoostPlan plan;
    final DataOrder order;
    final AdamW boosterOpt;
    final AdamW otherOpt;
    LrSchedule schedule;
    /** Planned steps: from steps/epochs, then from the measured step time under a time budget. */
    int totalSteps;
    /** The steps/epochs bound: a time budget plans at most this many. */
    final int upperSteps;
    final Map<String, dev.xgblora.tensor.DType> sourceDtypes;
    private ProgressListener listener = ProgressListener.NONE;
    private GradientSync sync; // null: one process

    final Budget budget;

    // state that checkpoints carry
    int step;
    int badSteps;
    private boolean updating;
    long maxRoundParams;
    double roundLossSum;
    int roundLossCount;
    final List<Double> losses = new ArrayList<>();
    final List<EvalResult> evals = new ArrayList<>();

    public Trainer(TaskModel model, TaskData train, TaskData valid, BoostConfig boost, TrainConfig cfg, Kernels k) {
        this.model = model;
        this.train = train;
        this.valid = valid;
        this.cfg = cfg;
        this.k = k;
        this.sourceDtypes = ModelExport.sourceDtypes(model);
        if (cfg.gradAccum < 1) throw new IllegalArgumentException("gradient accumulation must be at least 1: " + cfg.gradAccum);
        this.order = new DataOrder(train.units(), cfg.batchSize, cfg.seed, cfg.bucketByLength ? train.lengths() : null);
        this.totalSteps = cfg.totalSteps(order.batchesPerEpoch());
        this.upperSteps = totalSteps;
        boost.seedIfUnset(cfg.seed);
        this.scheduler = new BoostingScheduler(boost, model.linears(), model.numLayers(), totalSteps);
        scheduler.mergeOn(k);
        this.plan = scheduler.plan();
        this.schedule = schedule(plan, totalSteps);
        if (cfg.timeBudgetSeconds < 0 || !Double.isFinite(cfg.timeBudgetSeconds)) {
            throw new IllegalArgumentException("the time budget must be a positive number of seconds, got " + cfg.timeBudgetSeconds);
        }
        if (cfg.memoryBudgetBytes < 0) throw new IllegalArgumentException("the memory budget must be positive, got " + cfg.memoryBudgetBytes);
        this.budget = new Budget(cfg);
        this.boosterOpt = AdamW.standard(k, cfg.weightDecay);
        this.otherOpt = AdamW.standard(k, cfg.weightDecay);
        if (plan.trainsBackbone()) {
            for (Param p : model.backboneParams()) {
                p.setTrainable(true);
                otherOpt.add(p, (float) cfg.lr);
            }
        }
        for (Param p : model.headParams()) {
            p.setTrainable(true);
            otherOpt.add(p, (float) cfg.effectiveHeadLr());
        }
    }

    private LrSchedule schedule(BoostPlan p, int total) {
        int warmup = cfg.warmupSteps >= 0 ? cfg.warmupSteps : LrSchedule.warmupSteps(cfg.warmupRatio, total);
        int rewarm = p.rewarmSteps() > 0 ? p.rewarmSteps() : cfg.rewarmSteps;
        return new LrSchedule(1.0, warmup, total, cfg.decay, rewarm > 0 ? p.stepsPerRound() : 0, rewarm);
    }

    /**
     * Sets the run's horizon to {@code total} steps (a time budget's plan, or a resumed budget run's
     * saved plan): the LR schedule and, where the rounds done so far allow, the round plan.
     */
    void setHorizon(int total) {
        if (total == totalSteps) return;
        if (scheduler.replan(total, step)) {
            plan = scheduler.plan();
        } else if (plan.usesAdapters()) {
            // the rounds keep their length (relora/cola after the first round): no steps past the last round
            total = Math.min(total, plan.headWarmup() + plan.rounds() * plan.stepsPerRound());
        }
        totalSteps = Math.max(total, step + 1);
        schedule = schedule(plan, totalSteps);
    }

    /** Why training ended before its planned steps ("time budget", "memory budget"), or null. */
    public String stoppedBy() {
        return budget.stoppedBy;
    }

    public Trainer listener(ProgressListener l) {
        this.listener = l == null ? ProgressListener.NONE : l;
        return this;
    }

    /** Makes this trainer one replica of a data-parallel run (null: a single process). */
    public Trainer replicas(GradientSync s) {
        this.sync = s;
        return this;
    }

    /** Whether this trainer writes checkpoints and evaluates: a single process, or replica 0. */
    boolean writes() {
        return sync == null || sync.rank() == 0;
    }

    /** Dtypes of the backbone weights as loaded (exports write them back in these). */
    public Map<String, dev.xgblora.tensor.DType> sourceDtypes() {
        return sourceDtypes;
    }

    public TaskModel model() {
        return model;
    }

    public int totalSteps() {
        return totalSteps;
    }

    public BoostingScheduler scheduler() {
        return scheduler;
    }

    public int step() {
        return step;
    }

    /**
     * Parameters trained in one step: the largest round's adapters (or every backbone weight in
     * full fine-tuning) plus the head and other continuous trainables.
     */
    public long trainableParamsPerStep() {
        return Math.max(maxRoundParams, scheduler.adapterParams()) + count(otherOpt.params());
    }

    /** Parameters trained over the whole run: every round's adapters plus the continuous trainables. */
    public long cumulativeTrainableParams() {
        return scheduler.cumulativeParams() + count(otherOpt.params());
    }

    /** Mean training loss of every step so far (NaN for skipped steps). */
    public List<Double> losses() {
        return List.copyOf(losses);
    }

    public List<EvalResult> evals() {
        return List.copyOf(evals);
    }

    /** Runs until {@code totalSteps}, or until {@code stopAt} (exclusive) when it is smaller. */
    public void run(int stopAt) {
        if (cfg.stop != null) cfg.stop.trainingStarted();
        try (RunLog log = cfg.logFile == null ? null : new RunLog(cfg.logFile, step > 0)) {
            if (step == 0 && log != null) log.write(RunLog.record("type", "start", "plan", plan.describe(), "total_steps", totalSteps,
                    "trainable_head", count(model.headParams())));
            if (step == 0 && log != null && sync != null) log.write(Map.of("type", "replicas", "replicas", sync.replicas(),
                    "global_batch", cfg.batchSize));
            long t0 = System.nanoTime();
            long tokens = 0;
            budget.start();
            while (step < Math.min(stopAt, totalSteps)) {
                if (cfg.stop != null && cfg.stop.requested()) stopHere();
                // A round already open here was restored from a checkpoint taken inside its first step
                // (device out of memory): it is this round, begun as the checkpoint recorded it.
                if (plan.startsRound(step) && !scheduler.inRound()) beginRound(plan.roundOf(step));
                DataOrder.Position stepStart = order.position();
                try {
                    tokens += oneStep(log, t0, tokens);
                } catch (RuntimeException e) {
                    if (e instanceof DeviceOutOfMemory oom) throw outOfDeviceMemory(oom, e, stepStart);
                    throw e;
                }
                afterStep(log);
                if (plan.endsRound(step, totalSteps) && scheduler.inRound()) endRound(log);
                step++;
                if (cfg.evalEvery > 0 && step % cfg.evalEvery == 0 && step < totalSteps && writes()) evaluateAndLog(log);
                if (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery == 0 && step < totalSteps && badSteps == 0 && writes()) {
                    Checkpoint.save(this, cfg.checkpointDir);
                }
            }
            if (step == totalSteps && valid != null && writes()) evaluateAndLog(log);
        } finally {
            if (cfg.stop != null) cfg.stop.trainingEnded();
        }
    }

    /**
     * The budgets after a step: plans the horizon once the step time is known, and makes this step
     * the last when a budget is spent (the open round then ends and merges, the run evaluates).
     */
    private void afterStep(RunLog log) {
        if (!budget.active()) return;
        int planned = budget.plannedSteps(step + 1, upperSteps);
        if (planned > 0 && planned != totalSteps) {
            int before = totalSteps;
            setHorizon(planned);
            String msg = String.format(java.util.Locale.ROOT, "time budget %.0f s: %.3f s per step measured, horizon %d steps (was %d); %s",
                    cfg.timeBudgetSeconds, budget.secondsPerStep(), totalSteps, before, plan.describe());
            listener.onMessage(msg);
            if (log != null) log.write(RunLog.record("type", "budget", "step", step + 1, "seconds_per_step", budget.secondsPerStep(),
                    "total_steps", totalSteps, "plan", plan.describe()));
        }
        String spent = step + 1 < totalSteps ? budget.spent() : null;
        if (spent != null) {
            listener.onMessage(spent + "; training ends after step " + (step + 1) + " of " + totalSteps + " planned");
            if (log != null) log.write(RunLog.record("type", "budget_stop", "step", step + 1, "reason", spent));
            totalSteps = step + 1;
        }
    }

    /**
     * The device ran out of memory during step {@code step}: when the step's optimizer update had
     * not begun, the parameters and optimizer state are those of the step's start, so with a
     * checkpoint directory that state is saved (data order rewound to the step's batch) for --resume.
     */
    private DeviceMemoryExhaustedException outOfDeviceMemory(DeviceOutOfMemory oom, RuntimeException e, DataOrder.Position stepStart) {
        java.nio.file.Path cp = null;
        String saved;
        if (updating) {
            java.nio.file.Path latest = cfg.checkpointDir == null ? null : Checkpoint.latest(cfg.checkpointDir);
            saved = "it struck during the step's update, so no new checkpoint was written"
                    + (latest != null ? "; the latest one is " + latest : "");
        } else if (cfg.checkpointDir != null && writes()) {
            order.seek(stepStart);
            cp = Checkpoint.save(this, cfg.checkpointDir);
            saved = "the state before this step was saved to " + cp + " (continue with --resume)";
        } else {
            saved = "no checkpoint directory, nothing saved";
        }
        String first = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
        String msg = "out of memory on " + oom.deviceName() + " at step " + (step + 1) + " of " + totalSteps + ": " + saved
                + ". Use a smaller --batch-size (or --max-length), or --device cpu. (" + first + ")";
        listener.onMessage(msg);
        return new DeviceMemoryExhaustedException(msg, cp, e);
    }

    /** Writes a checkpoint of the state at this step boundary (unless the loop just wrote it) and stops. */
    private void stopHere() {
        java.nio.file.Path cp = null;
        if (cfg.checkpointDir != null) {
            java.nio.file.Path latest = Checkpoint.latest(cfg.checkpointDir);
            boolean fresh = latest != null && latest.getFileName().toString().equals(Checkpoint.dirName(step));
            cp = fresh ? latest : Checkpoint.save(this, cfg.checkpointDir);
        }
        TrainingStoppedException e = new TrainingStoppedException(step, totalSteps, cp);
        listener.onMessage(e.getMessage());
        throw e;
    }

    public void run() {
        run(Integer.MAX_VALUE);
    }

    void beginRound(int round) {
        beginRound(round, null);
    }

    /** Opens round {@code round} on {@code layers} (a restored round), or on the layers its selection picks (null). */
    void beginRound(int round, int[] layers) {
        List<Param> ps = layers != null ? scheduler.begin(round, layers)
                : plan.selection() == LayerSelection.GRADIENT ? probeLayers(round) : scheduler.begin(round);
        boosterOpt.reset();
        for (Param p : ps) boosterOpt.add(p, (float) cfg.lr * scheduler.lrScale(p));
        roundLossSum = 0;
        roundLossCount = 0;
    }

    /**
     * Gradient layer selection: candidate boosters on every layer, one forward and backward on a
     * probe batch drawn from (seed, round), and the L_s layers whose boosters' gradients are largest
     * keep theirs. Deterministic, so a resumed run (which restores the chosen layers) agrees.
     */
    private List<Param> probeLayers(int round) {
        scheduler.beginCandidates(round);
        scheduler.setTraining(false); // no adapter dropout in the probe
        try {
            model.trainStep(train.batch(probeUnits(round)), 1f);
        } finally {
            scheduler.setTraining(true);
        }
        scheduler.keepLayers(BoostingScheduler.topLayers(scheduler.layerScores(), plan.layersPerRound()));
        for (Param p : scheduler.roundParams()) p.grad().zero();
        otherOpt.zeroGrad(); // the probe's head gradients
        return scheduler.roundParams();
    }

    /** The probe batch of round {@code round}: batch-size training units drawn without replacement from (seed, round). */
    int[] probeUnits(int round) {
        int n = train.units();
        int[] all = new int[n];
        for (int i = 0; i < n; i++) all[i] = i;
        java.util.Random rng = new java.util.Random(Seeds.derive(cfg.seed, round, 4));
        int m = Math.min(cfg.batchSize, n);
        for (int i = 0; i < m; i++) {
            int j = i + rng.nextInt(n - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        return java.util.Arrays.copyOf(all, m);
    }

    private void endRound(RunLog log) {
        BoostingScheduler.RoundSummary s = scheduler.end();
        boosterOpt.reset();
        double mean = roundLossCount == 0 ? Double.NaN : roundLossSum / roundLossCount;
        maxRoundParams = Math.max(maxRoundParams, s.trainableParams());
        listener.onRound(s, mean);
        EvalResult eval = null;
        if (cfg.evalEachRound && valid != null && step + 1 < totalSteps && writes()) {
            eval = evaluate();
            evals.add(eval);
            listener.onEval(step + 1, eval);
        }
        if (log != null) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("type", "round");
            r.put("round", s.round());
            r.put("step", step + 1);
            r.put("layers", s.layers());
            r.put("loss", mean);
            r.put("delta_norm", s.deltaNorm());
            Map<String, Double> per = new LinkedHashMap<>();
            for (Booster b : s.boosters()) per.put(b.module(), b.deltaNorm());
            r.put("module_delta_norms", per);
            r.put("trainable_params", s.trainableParams() + count(otherOpt.params()));
            r.put("cumulative_params", scheduler.cumulativeParams() + count(otherOpt.params()));
            if (eval != null) {
                r.put("eval_loss", eval.loss());
                if (!Double.isNaN(eval.accuracy())) r.put("eval_accuracy", eval.accuracy());
            }
            log.write(r);
        }
    }

    /** One optimizer step over gradAccum micro-batches; returns the real tokens consumed. */
    private long oneStep(RunLog log, long t0, long tokensBefore) {
        k.stepStarts();
        List<Param> all = new ArrayList<>(boosterOpt.params());
        all.addAll(otherOpt.params());
        boosterOpt.zeroGrad();
        otherOpt.zeroGrad();
        double loss = 0;
        long tokens = 0;
        int epoch = order.position().epoch();
        for (int m = 0; m < cfg.gradAccum; m++) {
            scheduler.reseedDropout((long) step * cfg.gradAccum + m);
            int[] units = order.next();
            int[] mine = sync == null ? units : sync.share(units);
            if (mine.length == 0) continue; // a short last batch: this replica contributes nothing
            // a replica's share of the mean loss is its part of the batch's loss weight
            double part = sync == null ? 1 : (double) train.lossWeight(mine) / train.lossWeight(units);
            Batch b = train.batch(mine);
            tokens += b.tokens().realTokens();
            loss += model.trainStep(b, (float) (part / cfg.gradAccum)) * part / cfg.gradAccum;
        }
        if (sync != null) {
            double[] scalars = {loss, tokens};
            GradientSync.sumGradients(sync, step, all, scalars);
            loss = scalars[0];
            tokens = (long) scalars[1];
        }
        float l2 = scheduler.config().l2;
        if (l2 > 0) {
            for (Param p : boosterOpt.params()) {
                loss += l2 * k.sumOfSquares(p.value());
                k.accumulate(p.value(), 2 * l2, p.grad());
            }
        }
        double norm = GradientClipper.globalNorm(k, all);
        double factor = schedule.at(step);
        boolean skipped = !Double.isFinite(loss) || !Double.isFinite(norm);
        if (skipped) {
            badSteps++;
            boosterOpt.zeroGrad();
            otherOpt.zeroGrad();
            String msg = "step " + step + ": non-finite " + (Double.isFinite(loss) ? "gradient norm" : "loss") + ", step skipped ("
                    + badSteps + " in a row)";
            listener.onMessage(msg);
            if (log != null) log.write(RunLog.record("type", "skip", "step", step, "reason", msg));
            if (badSteps >= cfg.maxBadSteps) {
                throw new TrainingDivergedException(badSteps + " consecutive steps had a non-finite loss or gradient (last at step "
                        + step + "); training stopped" + (cfg.checkpointDir != null ? ", the last good checkpoint in "
                        + cfg.checkpointDir + " is intact" : "") + ". Lower the learning rate or enable clipping (--max-grad-norm).");
            }
            losses.add(Double.NaN);
        } else {
            badSteps = 0;
            GradientClipper.clip(k, all, norm, cfg.maxGradNorm);
            // slots carry their base learning rate; the schedule gives the factor
            updating = true; // from here a device failure leaves a half-updated state: no checkpoint of it
            boosterOpt.step((float) factor);
            otherOpt.step((float) factor);
            updating = false;
            losses.add(loss);
            roundLossSum += loss;
            roundLossCount++;
        }
        if (cfg.logEvery > 0 && (step % cfg.logEvery == 0 || step + 1 == totalSteps)) {
            double secs = (System.nanoTime() - t0) / 1e9;
            double tps = secs > 0 ? (tokensBefore + tokens) / secs : 0;
            ProgressListener.StepInfo info = new ProgressListener.StepInfo(step + 1, totalSteps, epoch, loss, cfg.lr * factor, tps,
                    scheduler.inRound() ? scheduler.round() : -1, norm, skipped);
            listener.onStep(info);
            if (log != null) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("type", "step");
                r.put("step", step + 1);
                r.put("epoch", epoch);
                r.put("loss", loss);
                r.put("lr", cfg.lr * factor);
                r.put("grad_norm", norm);
                r.put("tokens_per_s", tps);
                // the whole process's CPU seconds so far (JIT and GC included): CPU per token on a shared machine
                ProcessHandle.current().info().totalCpuDuration().ifPresent(d -> r.put("cpu_s", d.toNanos() / 1e9));
                r.put("round", info.round());
                r.put("trainable_params", scheduler.adapterParams() + count(otherOpt.params()));
                if (sync != null) {
                    r.put("sync_bytes", sync.lastBytes());
                    r.put("sync_seconds", sync.lastSeconds());
                }
                log.write(r);
            }
        }
        return tokens;
    }

    private void evaluateAndLog(RunLog log) {
        EvalResult r = evaluate();
        evals.add(r);
        listener.onEval(step, r);
        if (log != null) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", "eval");
            m.put("step", step);
            m.put("loss", r.loss());
            if (!Double.isNaN(r.accuracy())) {
                m.put("accuracy", r.accuracy());
                m.put("f1", r.f1());
                m.put("mcc", r.mcc());
            } else {
                m.put("perplexity", r.perplexity());
            }
            m.put("count", r.count());
            log.write(m);
        }
    }

    /** Metrics on the validation data with the model as it is now (adapters of an open round included). */
    public EvalResult evaluate() {
        if (valid == null) throw new IllegalStateException("no validation data");
        scheduler.setTraining(false);
        try {
            return evaluateNow();
        } finally {
            scheduler.setTraining(true);
        }
    }

    private EvalResult evaluateNow() {
        return Evaluation.evaluate(model, valid, cfg.evalBatchSize);
    }

    static long count(List<Param> ps) {
        long n = 0;
        for (Param p : ps) n += p.numel();
        return n;
    }

    /** Seed for the task head's initialisation, derived from the run seed. */
    public static long headSeed(long seed) {
        return Seeds.derive(seed, -1, 3);
    }
}
