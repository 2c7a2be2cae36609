package dev.xgblora.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A view of memory as an n-dimensional array: a {@link MemorySegment}, a dtype, a shape and
 * row-major strides (in elements) from an element offset. Views, slices and reshapes never copy.
 *
 * <p>Ownership: a tensor never frees memory. Whoever allocates the segment owns it: model weights
 * live in the {@link Arena} of the loaded file (model lifetime), activations and gradients are
 * heap-backed ({@link #zeros}) or allocated from an arena the caller closes (step scratch).
 */
public final class Tensor {
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final DType dtype;
    private final long[] shape;
    private final long[] strides;
    private final long offset;
    private final String name;

    private Tensor(MemorySegment data, DType dtype, long[] shape, long[] strides, long offset, String name) {
        this.data = data;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        this.name = name;
    }

    /** Wraps a segment holding a contiguous row-major array. */
    public static Tensor of(MemorySegment data, DType dtype, long... shape) {
        long bytes = Math.multiplyExact(count(shape), (long) dtype.bytes());
        if (data.byteSize() < bytes) {
            throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes is too small for "
                    + dtype + Arrays.toString(shape) + " (" + bytes + " bytes)");
        }
        return new Tensor(data, dtype, shape.clone(), contiguousStrides(shape), 0, null);
    }

    /** The most elements a heap tensor (one Java float array) holds. */
    public static final long MAX_HEAP_ELEMENTS = Integer.MAX_VALUE - 8;

    /**
     * A zeroed F32 tensor backed by a Java float array (activations, gradients, optimizer state);
     * at most {@link #MAX_HEAP_ELEMENTS} elements (a clear error beyond, never a wrapped size).
     */
    public static Tensor zeros(long... shape) {
        long n = count(shape);
        if (n > MAX_HEAP_ELEMENTS) {
            throw new IllegalArgumentException("F32" + Arrays.toString(shape) + " has " + n + " elements, more than a heap tensor holds ("
                    + MAX_HEAP_ELEMENTS + "); use a smaller batch, sequence length or cache");
        }
        return of(MemorySegment.ofArray(new float[(int) n]), DType.F32, shape);
    }

    /** A zeroed tensor allocated in {@code arena} (no element cap); freed when the arena closes. */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        MemorySegment seg = arena.allocate(Math.multiplyExact(count(shape), (long) dtype.bytes()), 64);
        return of(seg, dtype, shape);
    }

    /** An F32 tensor over a copy of {@code values}. */
    public static Tensor fromArray(float[] values, long... shape) {
        if (count(shape) != values.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + values.length + " values");
        }
        return of(MemorySegment.ofArray(values.clone()), DType.F32, shape);
    }

    /** A copy of this tensor converted to {@code target} dtype (heap or arena-free, F32 on the heap). */
    public Tensor toDType(DType target, Arena arena) {
        Tensor out = target == DType.F32 && arena == null ? zeros(shape) : allocate(arena, target, shape);
        long n = numel();
        for (long i = 0; i < n; i++) out.set(i, get(i));
        return out.named(name);
    }

    public Tensor named(String newName) {
        return new Tensor(data, dtype, shape, strides, offset, newName);
    }

    public String name() {
        return name;
    }

    /** The memory behind this view; the caller may read or write it (a device copy is synced first). */
    public MemorySegment data() {
        HostAccess.write(data);
        return data;
    }

    /** Whether both views are over the same memory segment (no device sync: only identity is looked at). */
    public boolean sameMemory(Tensor other) {
        return data == other.data;
    }

    MemorySegment rawData() {
        return data;
    }

    public DType dtype() {
        return dtype;
    }

    /** Offset of element 0 of this view, in elements from the start of {@link #data()}. */
    public long offset() {
        return offset;
    }

    public long byteOffset() {
        return offset * dtype.bytes();
    }

    public int rank() {
        return shape.length;
    }

    public long[] shape() {
        return shape.clone();
    }

    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long stride(int i) {
        return strides[i < 0 ? strides.length + i : i];
    }

    public long numel() {
        return count(shape);
    }

    public boolean isContiguous() {
        return Arrays.equals(strides, contiguousStrides(shape));
    }

    /** Rows of the tensor seen as a matrix [prod(shape[0..n-2]), shape[n-1]]. */
    public long rows() {
        return shape.length == 0 ? 1 : numel() / shape[shape.length - 1];
    }

    public long cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Whether {@link #heapArray()} would return an array (asked without syncing a device copy). */
    public boolean isHeapF32() {
        if (dtype != DType.F32 || offset != 0 || !isContiguous()) return false;
        Object base = data.heapBase().orElse(null);
        return base instanceof float[] a && a.length == numel();
    }

    /** The heap array behind this tensor if it is a contiguous F32 heap tensor starting at 0, else null. */
    public float[] heapArray() {
        if (dtype != DType.F32 || offset != 0 || !isContiguous()) return null;
        HostAccess.write(data);
        Object base = data.heapBase().orElse(null);
        return base instanceof float[] a && a.length == numel() ? a : null;
    }

    /** Same memory seen with another shape; the tensor must be contiguous. */
    public Tensor reshape(long... newShape) {
        requireContiguous("reshape");
        if (count(newShape) != numel()) {
            throw new IllegalArgumentException(describe() + " cannot be reshaped to " + Arrays.toString(newShape));
        }
        return new Tensor(data, dtype, newShape.clone(), contiguousStrides(newShape), offset, name);
    }

    /** Rows [start, start+len) along dimension 0, without copying. */
    public Tensor slice(long start, long len) {
        if (start < 0 || len < 0 || start > shape[0] - len) {
            throw new IndexOutOfBoundsException(describe() + ": slice [" + start + ", " + (start + len) + ") out of range");
        }
        long[] s = shape.clone();
        s[0] = len;
        return new Tensor(data, dtype, s, strides, offset + start * strides[0], name);
    }

    /** Swaps the last two dimensions (a strided view). */
    public Tensor transposeLast2() {
        if (shape.length < 2) throw new IllegalArgumentException("transpose needs rank >= 2: " + describe());
        long[] s = shape.clone();
        long[] st = strides.clone();
        int a = s.length - 2, b = s.length - 1;
        long t = s[a]; s[a] = s[b]; s[b] = t;
        t = st[a]; st[a] = st[b]; st[b] = t;
        return new Tensor(data, dtype, s, st, offset, name);
    }

    /** Element at a flat row-major index of this view, widened to float. */
    public float get(long flat) {
        return getAt(elementOffset(flat));
    }

    public void set(long flat, float v) {
        setAt(elementOffset(flat), v);
    }

    public float get(long row, long col) {
        return getAt(offset + row * strides[strides.length - 2] + col * strides[strides.length - 1]);
    }

    public void set(long row, long col, float v) {
        setAt(offset + row * strides[strides.length - 2] + col * strides[strides.length - 1], v);
    }

    /** Element at an absolute element position in {@link #data()}, widened to float. */
    public float getAt(long element) {
        HostAccess.read(data);
        return rawGetAt(element);
    }

    public void setAt(long element, float v) {
        HostAccess.write(data);
        rawSetAt(element, v);
    }

    private float rawGetAt(long element) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32_LE, element);
            case BF16 -> DType.bf16ToFloat(data.getAtIndex(I16_LE, element));
            case F16 -> DType.f16ToFloat(data.getAtIndex(I16_LE, element));
        };
    }

    private void rawSetAt(long element, float v) {
        switch (dtype) {
            case F32 -> data.setAtIndex(F32_LE, element, v);
            case BF16 -> data.setAtIndex(I16_LE, element, DType.floatToBf16(v));
            case F16 -> data.setAtIndex(I16_LE, element, DType.floatToF16(v));
        }
    }

    private long elementOffset(long flat) {
        if (shape.length == 0) return offset;
        long off = offset;
        for (int d = shape.length - 1; d >= 0; d--) {
            long i = flat % shape[d];
            flat /= shape[d];
            off += i * strides[d];
        }
        return off;
    }

    /** All elements widened to a new float array, in row-major order. */
    public float[] toFloatArray() {
        long n = numel();
        if (n > MAX_HEAP_ELEMENTS) throw new IllegalArgumentException(describe() + " has " + n + " elements, too many for one float array");
        float[] out = new float[(int) n];
        HostAccess.read(data);
        for (int i = 0; i < n; i++) out[i] = rawGetAt(elementOffset(i));
        return out;
    }

    /** A contiguous F32 heap copy of this view. */
    public Tensor copy() {
        return of(MemorySegment.ofArray(toFloatArray()), DType.F32, shape).named(name);
    }

    /** Copies {@code src} into this tensor, converting dtype; shapes must hold the same count. */
    public void copyFrom(Tensor src) {
        if (src.numel() != numel()) throw new IllegalArgumentException("copy " + src.describe() + " into " + describe());
        long n = numel();
        HostAccess.read(src.data);
        HostAccess.write(data);
        for (long i = 0; i < n; i++) rawSetAt(elementOffset(i), src.rawGetAt(src.elementOffset(i)));
    }

    public void fill(float v) {
        if (isContiguous() && dtype == DType.F32 && HostAccess.fill(data, offset, numel(), v)) return;
        HostAccess.write(data);
        if (isContiguous() && dtype == DType.F32) {
            data.asSlice(byteOffset(), numel() * 4L).fill((byte) 0);
            if (v == 0f) return;
        }
        long n = numel();
        for (long i = 0; i < n; i++) rawSetAt(elementOffset(i), v);
    }

    public void zero() {
        fill(0f);
    }

    public void requireContiguous(String op) {
        if (!isContiguous()) throw new IllegalArgumentException(op + " needs a contiguous tensor: " + describe());
    }

    /** Checks the shape, naming the tensor and both shapes in the error. */
    public Tensor requireShape(long... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new IllegalArgumentException("tensor " + (name == null ? "" : "'" + name + "' ")
                    + "has shape " + Arrays.toString(shape) + ", expected " + Arrays.toString(expected));
        }
        return this;
    }

    public String describe() {
        return (name == null ? "" : name + " ") + dtype + Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return "Tensor(" + describe() + ")";
    }

    public static long count(long[] shape) {
        long n = 1;
        for (long s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    static long[] contiguousStrides(long[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s = Math.multiplyExact(s, shape[i]);
        }
        return st;
    }
}
