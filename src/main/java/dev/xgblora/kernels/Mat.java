package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;

/**
 * A tensor of any rank seen as the matrix [rows, cols] (cols = last dimension), with element
 * access that is correct for strided views too. Used by the reference kernels, which favour
 * obviousness over speed.
 */
final class Mat {
    final Tensor t;
    final long rows;
    final long cols;
    private final boolean contiguous;
    private final boolean rank2;
    private final long base;

    private Mat(Tensor t) {
        this.t = t;
        this.rows = t.rows();
        this.cols = t.cols();
        this.contiguous = t.isContiguous();
        this.rank2 = t.rank() == 2;
        this.base = t.offset();
    }

    /** Views {@code t} as a matrix; {@code what} names it in errors (the op and argument). */
    static Mat of(Tensor t, String what) {
        if (t == null) throw new IllegalArgumentException(what + " must not be null");
        if (t.rank() == 0) throw new IllegalArgumentException(what + " must have rank >= 1, got " + t.describe());
        return new Mat(t);
    }

    /** Views {@code t} as a matrix and checks it is [rows, cols]. */
    static Mat of(Tensor t, String what, long rows, long cols) {
        Mat m = of(t, what);
        if (m.rows != rows || m.cols != cols) {
            throw new IllegalArgumentException(what + " " + t.describe() + " is seen as [" + m.rows + ", " + m.cols
                    + "], expected [" + rows + ", " + cols + "]");
        }
        return m;
    }

    /** Checks the tensor is F32 (gradients, activations and optimizer state must be). */
    Mat requireF32(String what) {
        if (t.dtype() != dev.xgblora.tensor.DType.F32) {
            throw new IllegalArgumentException(what + " must be F32, got " + t.describe());
        }
        return this;
    }

    float get(long r, long c) {
        if (contiguous) return t.getAt(base + r * cols + c);
        if (rank2) return t.get(r, c);
        return t.get(r * cols + c);
    }

    void set(long r, long c, float v) {
        if (contiguous) t.setAt(base + r * cols + c, v);
        else if (rank2) t.set(r, c, v);
        else t.set(r * cols + c, v);
    }

    /** Adds {@code v} (computed in double) to the element, rounding once to the storage type. */
    void add(long r, long c, double v) {
        set(r, c, (float) (get(r, c) + v));
    }

    long numel() {
        return rows * cols;
    }

    /** Element at a flat row-major index. */
    float get(long flat) {
        return get(flat / cols, flat % cols);
    }

    void set(long flat, float v) {
        set(flat / cols, flat % cols, v);
    }
}
