package dev.xgblora.train;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * AdamW over a list of {@link Param}s on top of {@link Kernels#adamwStep}: decoupled weight
 * decay (none where {@link Param#decay()} is false), first and second moments allocated per
 * param, one step counter for the whole optimizer (bias correction). {@link #reset()} drops all
 * state, as a fresh booster needs.
 */
public final class AdamW {
    /** One optimized param with its moments and a learning-rate multiplier (LoRA+ for B). */
    public static final class Slot {
        final Param param;
        final float lrScale;
        final Tensor m;
        final Tensor v;

        Slot(Param param, float lrScale) {
            if (!param.trainable()) throw new IllegalArgumentException("param '" + param.name() + "' is not trainable");
            this.param = param;
            this.lrScale = lrScale;
            this.m = Tensor.zeros(param.value().shape());
            this.v = Tensor.zeros(param.value().shape());
        }

        public Param param() {
            return param;
        }

        public Tensor m() {
            return m;
        }

        public Tensor v() {
            return v;
        }
    }

    private final Kernels k;
    private final float beta1, beta2, eps, weightDecay;
    private final List<Slot> slots = new ArrayList<>();
    private long step;

    public AdamW(Kernels k, float beta1, float beta2, float eps, float weightDecay) {
        this.k = k;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** PyTorch defaults: betas (0.9, 0.999), eps 1e-8. */
    public static AdamW standard(Kernels k, float weightDecay) {
        return new AdamW(k, 0.9f, 0.999f, 1e-8f, weightDecay);
    }

    public AdamW add(Param p, float lrScale) {
        slots.add(new Slot(p, lrScale));
        return this;
    }

    public AdamW addAll(List<Param> ps) {
        for (Param p : ps) add(p, 1f);
        return this;
    }

    public List<Slot> slots() {
        return Collections.unmodifiableList(slots);
    }

    public List<Param> params() {
        List<Param> out = new ArrayList<>();
        for (Slot s : slots) out.add(s.param);
        return out;
    }

    /** Steps taken since the last reset. */
    public long stepCount() {
        return step;
    }

    /** Restores the step counter (checkpoint resume); moments are restored through {@link #slots()}. */
    public void setStepCount(long s) {
        step = s;
    }

    /** One update of every param with learning rate {@code lr} (times each slot's multiplier). */
    public void step(float lr) {
        step++;
        for (Slot s : slots) {
            k.adamwStep(s.param.value(), s.param.grad(), s.m, s.v, lr * s.lrScale, beta1, beta2, eps,
                    s.param.decay() ? weightDecay : 0f, step);
        }
    }

    /** Zeroes every gradient (after a step, or after a skipped one). */
    public void zeroGrad() {
        for (Slot s : slots) s.param.grad().zero();
    }

    /** Forgets every param and all state. */
    public void reset() {
        slots.clear();
        step = 0;
    }
}
