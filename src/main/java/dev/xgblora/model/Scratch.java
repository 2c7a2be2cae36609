package dev.xgblora.model;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A grow-only F32 heap buffer that hands out a tensor view of the shape needed now. Batches with
 * dynamic padding change shape every step; the buffer grows to the largest shape seen and is then
 * reused, so the hot loop allocates no activation memory. The views are keyed by shape: the last
 * {@value #SHAPES} shapes asked for are handed out again as the same Tensor object, so a step of
 * fixed shape (or cycling through a few bucket shapes) allocates nothing here either.
 */
final class Scratch {
    /** Views remembered per buffer: a few bucket lengths of a ragged run. */
    static final int SHAPES = 4;

    private float[] data = new float[0];
    private MemorySegment segment = MemorySegment.ofArray(data);
    private final long[][] shapes = new long[SHAPES][];
    private final Tensor[] views = new Tensor[SHAPES];
    private int next;

    /** A view of the first prod(shape) floats; contents are whatever was there (call zero() if needed). */
    Tensor view(long... shape) {
        for (int i = 0; i < SHAPES; i++) {
            if (views[i] != null && Arrays.equals(shapes[i], shape)) return views[i];
        }
        long n = Tensor.count(shape);
        if (n > data.length) {
            data = new float[Math.toIntExact(n)];
            segment = MemorySegment.ofArray(data);
            Arrays.fill(views, null); // views of the old array
            Arrays.fill(shapes, null);
        }
        Tensor t = Tensor.of(segment, DType.F32, shape);
        shapes[next] = shape.clone();
        views[next] = t;
        next = (next + 1) % SHAPES;
        return t;
    }

    /** Floats held, for memory accounting. */
    long capacity() {
        return data.length;
    }
}
