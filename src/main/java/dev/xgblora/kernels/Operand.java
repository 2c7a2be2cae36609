package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A read view of a matrix for the vector kernels: element (r, c) lives at element index
 * {@code offset + r*rs + c*cs} of {@code seg}, stored as {@code dtype}. Transposes are just
 * swapped strides, so no kernel ever copies a weight to transpose it.
 */
record Operand(MemorySegment seg, DType dtype, long offset, long rs, long cs, int rows, int cols) {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The tensor seen as a row-major [rows, cols] matrix (leading dimensions folded into rows). */
    static Operand of(Tensor t, String what) {
        long rowStride = rowStride(t, what);
        return new Operand(t.data(), t.dtype(), t.offset(), rowStride, 1,
                Math.toIntExact(t.rows()), Math.toIntExact(t.cols()));
    }

    /** Same storage, rows and columns swapped. */
    Operand transposed() {
        return new Operand(seg, dtype, offset, cs, rs, cols, rows);
    }

    float get(long r, long c) {
        long i = offset + r * rs + c * cs;
        return switch (dtype) {
            case F32 -> seg.getAtIndex(F32, i);
            case BF16 -> DType.bf16ToFloat(seg.getAtIndex(I16, i));
            case F16 -> Float.float16ToFloat(seg.getAtIndex(I16, i));
        };
    }

    /**
     * Element stride between consecutive rows when the tensor's last dimension is contiguous and
     * its leading dimensions fold into one row index; otherwise a clear error naming the tensor.
     */
    static long rowStride(Tensor t, String what) {
        int r = t.rank();
        if (r == 0) return 1;
        if (t.stride(r - 1) != 1 && t.dim(r - 1) > 1) {
            throw new IllegalArgumentException(what + " " + t.describe() + ": last dimension must be contiguous");
        }
        if (r == 1) return t.cols();
        long rs = t.stride(r - 2);
        for (int d = r - 3; d >= 0; d--) {
            if (t.dim(d) > 1 && t.stride(d) != t.stride(d + 1) * t.dim(d + 1)) {
                throw new IllegalArgumentException(what + " " + t.describe()
                        + ": leading dimensions must fold into rows (got a strided view)");
            }
        }
        return rs;
    }
}
