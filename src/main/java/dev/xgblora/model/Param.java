package dev.xgblora.model;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;

/**
 * A named model weight and, when trainable, its F32 gradient. Frozen params keep whatever the file
 * holds (possibly a memory-mapped BF16 slice); a param made trainable, or touched by a merge, gets
 * an F32 heap working copy (copy-on-write), so the mapped file is never written.
 */
public final class Param {
    private final String name;
    private final boolean decay;
    private Tensor value;
    private Tensor grad;

    /** @param decay whether AdamW weight decay applies (matrices yes; biases and norms no). */
    public Param(String name, Tensor value, boolean decay) {
        this.name = name;
        this.value = value.named(name);
        this.decay = decay;
    }

    public String name() {
        return name;
    }

    public Tensor value() {
        return value;
    }

    public Tensor grad() {
        return grad;
    }

    public boolean decay() {
        return decay;
    }

    public boolean trainable() {
        return grad != null;
    }

    public long numel() {
        return value.numel();
    }

    /** Makes the param trainable (F32 working copy + zeroed gradient) or frozen (gradient dropped). */
    public void setTrainable(boolean trainable) {
        if (trainable && grad == null) {
            ensureWritableF32();
            grad = Tensor.zeros(value.shape()).named(name + ".grad");
        } else if (!trainable) {
            grad = null;
        }
    }

    /** Replaces a mapped or low-precision value by an F32 heap copy, once; returns the writable value. */
    public Tensor ensureWritableF32() {
        if (!value.isHeapF32()) value = value.copy().named(name);
        return value;
    }

    /** Swaps in a new value of the same shape (loading a checkpoint, for example). */
    public void setValue(Tensor newValue) {
        if (!java.util.Arrays.equals(newValue.shape(), value.shape())) {
            throw new IllegalArgumentException("param '" + name + "': new value " + newValue.describe()
                    + " does not match " + value.describe());
        }
        value = newValue.named(name);
    }

    public boolean isF32() {
        return value.dtype() == DType.F32;
    }

    @Override
    public String toString() {
        return "Param(" + value.describe() + (trainable() ? ", trainable" : "") + ")";
    }
}
