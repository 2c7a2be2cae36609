package dev.xgblora.model;

import dev.xgblora.tensor.Tensor;
import java.util.Random;

/**
 * A rank-r update s·B·A attached to a {@link Linear}: A [r, in] starts uniform in
 * ±1/sqrt(in) (PEFT's kaiming_uniform(a=√5)), B [out, r] starts at zero, so a fresh adapter
 * changes nothing. Scratch h = x·Aᵀ is kept from forward for backward.
 */
public final class LoraAdapter {
    private final Param a;
    private final Param b;
    private final float scale;
    private Tensor h;
    private Tensor dh;
    // optional dropout on the adapter's input (PEFT's lora_dropout), active only while training
    private float dropout;
    private long dropoutSeed;
    private boolean training = true;
    private Tensor mask, xDropped, dxDropped;

    public LoraAdapter(Param a, Param b, float scale) {
        if (a.value().dim(0) != b.value().dim(1)) {
            throw new IllegalArgumentException("adapter rank mismatch: " + a.value().describe() + " vs " + b.value().describe());
        }
        this.a = a;
        this.b = b;
        this.scale = scale;
    }

    /** A fresh trainable adapter for {@code target}, initialised as PEFT does. */
    public static LoraAdapter create(Linear target, int rank, float scale, Random rng) {
        int in = target.in(), out = target.out();
        float bound = (float) (1.0 / Math.sqrt(in));
        float[] av = new float[Math.multiplyExact(rank, in)];
        for (int i = 0; i < av.length; i++) av[i] = (rng.nextFloat() * 2f - 1f) * bound;
        Param pa = new Param(target.name() + ".lora_A.weight", Tensor.fromArray(av, rank, in), true);
        Param pb = new Param(target.name() + ".lora_B.weight", Tensor.zeros(out, rank), true);
        pa.setTrainable(true);
        pb.setTrainable(true);
        return new LoraAdapter(pa, pb, scale);
    }

    public Param a() {
        return a;
    }

    public Param b() {
        return b;
    }

    public float scale() {
        return scale;
    }

    public int rank() {
        return (int) a.value().dim(0);
    }

    /** Dropout probability on the adapter input; the seed fixes the mask of the next forward. */
    public void setDropout(float p, long seed) {
        if (p < 0 || p >= 1) throw new IllegalArgumentException("adapter dropout must be in [0, 1): " + p);
        dropout = p;
        dropoutSeed = seed;
    }

    public float dropout() {
        return dropout;
    }

    /** Training mode applies dropout; evaluation mode (false) does not. */
    public void setTraining(boolean t) {
        training = t;
    }

    boolean dropoutActive() {
        return training && dropout > 0;
    }

    /** The dropped-out input for the adapter path (mask kept for backward). */
    Tensor dropIn(dev.xgblora.kernels.Kernels k, Tensor x) {
        if (xDropped == null || !java.util.Arrays.equals(xDropped.shape(), x.shape())) {
            xDropped = Tensor.zeros(x.shape());
            mask = Tensor.zeros(x.shape());
            dxDropped = Tensor.zeros(x.shape());
        }
        k.dropoutForward(x, dropout, dropoutSeed, mask, xDropped);
        return xDropped;
    }

    Tensor droppedInput() {
        return xDropped;
    }

    Tensor dropMask() {
        return mask;
    }

    Tensor dxDroppedZeroed() {
        dxDropped.zero();
        return dxDropped;
    }

    /** Scratch [rows, r] for h, reused while the row count stays the same. */
    Tensor hFor(long rows) {
        if (h == null || h.dim(0) != rows) h = Tensor.zeros(rows, rank());
        return h;
    }

    Tensor dhFor(long rows) {
        if (dh == null || dh.dim(0) != rows) dh = Tensor.zeros(rows, rank());
        dh.zero();
        return dh;
    }
}
