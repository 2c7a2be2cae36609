package dev.xgblora.model;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;

/**
 * y = x·Wᵀ + b with an optional adapter slot. Knows its layer index and module name
 * (e.g. "query", "q_proj") so that adapters can be targeted by layer and by name pattern.
 * Boosters merged in factored form sit in a second, frozen slot: y += x·Vᵀ·Uᵀ next to the
 * (still mapped) weight, and backward sends dx through them too.
 */
public final class Linear {
    private final String name;
    private final int layer;
    private final String module;
    private final Param weight;
    private final Param bias;
    private LoraAdapter adapter;
    private LoraAdapter merged;

    /**
     * @param name   the weight's name without ".weight", e.g. "encoder.layer.0.attention.self.query"
     * @param layer  transformer layer index, or -1 outside the layer stack (heads)
     * @param module short module name used for targeting, e.g. "query" or "q_proj"
     */
    public Linear(String name, int layer, String module, Param weight, Param bias) {
        this.name = name;
        this.layer = layer;
        this.module = module;
        this.weight = weight;
        this.bias = bias;
        if (weight.value().rank() != 2) throw new IllegalArgumentException("linear weight must be 2-D: " + weight);
        if (bias != null) bias.value().requireShape(weight.value().dim(0));
    }

    public String name() {
        return name;
    }

    public int layer() {
        return layer;
    }

    public String module() {
        return module;
    }

    public Param weight() {
        return weight;
    }

    public Param bias() {
        return bias;
    }

    public int in() {
        return (int) weight.value().dim(1);
    }

    public int out() {
        return (int) weight.value().dim(0);
    }

    public LoraAdapter adapter() {
        return adapter;
    }

    public void attach(LoraAdapter a) {
        if (a != null) {
            a.a().value().requireShape(a.rank(), in());
            a.b().value().requireShape(out(), a.rank());
        }
        this.adapter = a;
    }

    public LoraAdapter detach() {
        LoraAdapter a = adapter;
        adapter = null;
        return a;
    }

    /** Merged boosters kept factored (A = V [k, in], B = U [out, k], scale 1, frozen), or null. */
    public LoraAdapter mergedFactors() {
        return merged;
    }

    /** Replaces the factored merged boosters (null: none, e.g. after folding them into the weight). */
    public void setMergedFactors(LoraAdapter factors) {
        if (factors != null) {
            if (factors.a().trainable() || factors.b().trainable()) throw new IllegalArgumentException("merged factors are frozen: " + name);
            factors.a().value().requireShape(factors.rank(), in());
            factors.b().value().requireShape(out(), factors.rank());
        }
        merged = factors;
    }

    /** Whether backward has anything to compute for this layer's own parameters. */
    public boolean hasTrainables() {
        return weight.trainable() || (bias != null && bias.trainable()) || adapter != null;
    }

    /** y[M,out] = x[M,in]·Wᵀ + b, plus the adapter path. */
    public void forward(Kernels k, Tensor x, Tensor y) {
        Tensor w = weight.value(), b = bias == null ? null : bias.value();
        if (adapter != null && merged == null) {
            // one op, so that the backend can fold the adapter term into the write of y
            Tensor xa = adapter.dropoutActive() ? adapter.dropIn(k, x) : x;
            k.linearLoraForward(x, w, b, xa, adapter.a().value(), adapter.b().value(), adapter.scale(),
                    adapter.hFor(x.rows()), y);
            return;
        }
        k.linearForward(x, w, b, y);
        if (merged != null) k.loraForward(x, merged.a().value(), merged.b().value(), merged.scale(), merged.hFor(x.rows()), y);
        if (adapter != null) {
            Tensor xa = adapter.dropoutActive() ? adapter.dropIn(k, x) : x;
            k.loraForward(xa, adapter.a().value(), adapter.b().value(), adapter.scale(), adapter.hFor(x.rows()), y);
        }
    }

    /**
     * What {@link #backward} needs from a forward whose output nobody reads (activation recompute:
     * the next layer's input is kept): the adapter's h and dropout mask, drawn as forward draws
     * them, and nothing at all without an adapter, so the frozen product is skipped.
     * {@code scratch} [M,out] takes the adapter's term, which is discarded.
     */
    public void forwardForBackward(Kernels k, Tensor x, Tensor scratch) {
        if (adapter == null) return;
        Tensor xa = adapter.dropoutActive() ? adapter.dropIn(k, x) : x;
        k.loraForward(xa, adapter.a().value(), adapter.b().value(), adapter.scale(), adapter.hFor(x.rows()), scratch);
    }

    /**
     * Backward from dy: dx += dy·W (+ adapter path) when dx is not null; dW, db and adapter
     * gradients accumulate only for trainable params. x must be the input of the last forward.
     */
    public void backward(Kernels k, Tensor dy, Tensor x, Tensor dx) {
        if (dx != null) k.linearBackwardInput(dy, weight.value(), dx);
        if (dx != null && merged != null) {
            k.loraBackward(dy, x, merged.a().value(), merged.b().value(), merged.scale(), merged.hFor(x.rows()),
                    merged.dhFor(x.rows()), null, null, dx);
        }
        if (weight.trainable()) k.linearBackwardWeight(dy, x, weight.grad());
        if (bias != null && bias.trainable()) k.linearBackwardBias(dy, bias.grad());
        if (adapter != null) {
            LoraAdapter a = adapter;
            if (a.dropoutActive()) {
                // the adapter saw dropout(x): its input gradient goes back through the same mask
                Tensor dxa = dx == null ? null : a.dxDroppedZeroed();
                k.loraBackward(dy, a.droppedInput(), a.a().value(), a.b().value(), a.scale(), a.hFor(x.rows()), a.dhFor(x.rows()),
                        a.a().grad(), a.b().grad(), dxa);
                if (dx != null) k.dropoutBackward(dxa, a.dropMask(), dx);
            } else {
                k.loraBackward(dy, x, a.a().value(), a.b().value(), a.scale(), a.hFor(x.rows()), a.dhFor(x.rows()),
                        a.a().grad(), a.b().grad(), dx);
            }
        }
    }

    @Override
    public String toString() {
        return "Linear(" + name + ", " + out() + "x" + in() + (merged == null ? "" : ", merged k=" + merged.rank())
                + (adapter == null ? "" : ", adapter r=" + adapter.rank()) + ")";
    }
}
