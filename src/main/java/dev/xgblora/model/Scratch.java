package dev.xgblora.model;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * A grow-only F32 heap buffer that hands out a tensor view of the shape needed now. Batches with
 * dynamic padding change shape every step; the buffer grows to the largest shape seen and is then
 * reused, so the hot loop allocates no activation memory.
 */
final class Scratch {
    private float[] data = new float[0];
    private MemorySegment segment = MemorySegment.ofArray(data);

    /** A view of the first prod(shape) floats; contents are whatever was there (call zero() if needed). */
    Tensor view(long... shape) {
        long n = Tensor.count(shape);
        if (n > data.length) {
            data = new float[Math.toIntExact(n)];
            segment = MemorySegment.ofArray(data);
        }
        return Tensor.of(segment, DType.F32, shape);
    }

    /** Floats held, for memory accounting. */
    long capacity() {
        return data.length;
    }
}
