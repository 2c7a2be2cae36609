package dev.xgblora.device.cuda;

import dev.xgblora.device.ContentHash;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.HostAccess;
import dev.xgblora.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Device memory of {@link CudaKernels}, the pattern of the OpenCL path's OpBuffers: per-op buffers
 * pooled by size ({@link #in}, {@link #out}, {@link #inOut}, {@link #scratch}; all given back by
 * {@link #release()} when the op ends), and weights uploaded once in their own dtype (bf16 stays
 * bf16, widened by the GEMM) and kept across ops, keyed by where they live on the host and
 * re-uploaded when a content fingerprint says the host copy changed (a merge, an optimizer step).
 * Activations travel per op (no residency on this path yet).
 */
final class CudaBuffers implements AutoCloseable {
    /** A device copy of a tensor: its pointer and the dtype code the kernels widen by (0 f32, 1 bf16, 2 f16). */
    record Dev(long ptr, int dt) {
    }

    /** Where a weight lives on the host: heap arrays compare by identity, native memory by address. */
    private record WeightKey(Object heapBase, long address, long bytes, DType dtype) {
    }

    private record Resident(long ptr, long bytes, long fingerprint) {
    }

    private record Buffer(long ptr, long bytes) {
    }

    private final Cuda cuda;
    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    private final List<Buffer> inUse = new ArrayList<>();
    private final Map<WeightKey, Resident> resident = new HashMap<>();

    CudaBuffers(Cuda cuda) {
        this.cuda = cuda;
    }

    /** A pooled buffer of at least {@code bytes}, given back by {@link #release()} at the end of the op. */
    long scratch(long bytes) {
        long size = Math.max(4, bytes);
        ArrayDeque<Long> q = free.get(size);
        long d = q == null || q.isEmpty() ? allocate(size) : q.pop();
        inUse.add(new Buffer(d, size));
        return d;
    }

    private long allocate(long size) {
        try {
            return cuda.alloc(size);
        } catch (CudaException e) {
            if (e.code() != 2) throw e;
            // Pooled buffers of other sizes may be what fills the device: free them and try once more.
            freePool();
            return cuda.alloc(size);
        }
    }

    private void freePool() {
        for (ArrayDeque<Long> q : free.values()) q.forEach(cuda::free);
        free.clear();
    }

    void release() {
        for (Buffer b : inUse) free.computeIfAbsent(b.bytes, s -> new ArrayDeque<>()).push(b.ptr);
        inUse.clear();
    }

    @Override
    public void close() {
        release();
        freePool();
        resident.values().forEach(r -> cuda.free(r.ptr));
        resident.clear();
    }

    /** The tensor's bytes on the host, synced for a read (contiguous tensors only). */
    private static MemorySegment hostBytes(Tensor t) {
        HostAccess.beforeRead(t);
        return HostAccess.untracked(t).asSlice(t.byteOffset(), t.numel() * t.dtype().bytes());
    }

    static int dtypeCode(DType d) {
        return switch (d) {
            case F32 -> 0;
            case BF16 -> 1;
            case F16 -> 2;
        };
    }

    /** An input for this op, uploaded in its own dtype (strided views as a contiguous F32 copy). */
    Dev in(Tensor t) {
        Tensor c = t.isContiguous() ? t : t.copy();
        MemorySegment src = hostBytes(c);
        long d = scratch(src.byteSize());
        cuda.copyToDevice(d, src);
        return new Dev(d, dtypeCode(c.dtype()));
    }

    /** An F32 input (attention and adapter kernels read f32 only). */
    long f32In(Tensor t) {
        return in(t.dtype() == DType.F32 ? t : t.copy()).ptr();
    }

    /** An output the op overwrites (F32; nothing uploaded). */
    long out(Tensor t) {
        requireF32(t, "output");
        return scratch(t.numel() * 4);
    }

    /** An output the op accumulates into: F32, its current values uploaded. */
    long inOut(Tensor t, String what) {
        requireF32(t, what);
        return in(t).ptr();
    }

    private static void requireF32(Tensor t, String what) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(what + " must be F32, got " + t.describe());
    }

    /** Copies a device result into the tensor (through a temporary for strided views). */
    void readBack(long d, Tensor t) {
        HostAccess.beforeWrite(t);
        if (t.isContiguous()) {
            cuda.copyToHost(HostAccess.untracked(t).asSlice(t.byteOffset(), t.numel() * 4), d);
        } else {
            Tensor tmp = Tensor.zeros(t.shape());
            cuda.copyToHost(HostAccess.untracked(tmp).asSlice(0, tmp.numel() * 4), d);
            t.copyFrom(tmp);
        }
    }

    long ints(int[] values) {
        long d = scratch(4L * values.length);
        cuda.copyToDevice(d, MemorySegment.ofArray(values));
        return d;
    }

    /**
     * A weight kept on the device across ops and steps, in its own dtype. Its content fingerprint
     * is checked at each use so a host-side change (merge, optimizer step) re-uploads it.
     */
    Dev weight(Tensor w) {
        if (!w.isContiguous()) return in(w); // a strided view: nothing stable to keep
        MemorySegment src = hostBytes(w);
        WeightKey key = new WeightKey(src.heapBase().orElse(null), src.address(), src.byteSize(), w.dtype());
        long fp = ContentHash.of(src);
        Resident r = resident.get(key);
        if (r == null) {
            r = new Resident(allocate(src.byteSize()), src.byteSize(), fp);
            cuda.copyToDevice(r.ptr, src);
            resident.put(key, r);
        } else if (r.fingerprint != fp) {
            cuda.copyToDevice(r.ptr, src);
            resident.put(key, new Resident(r.ptr, r.bytes, fp));
        }
        return new Dev(r.ptr, dtypeCode(w.dtype()));
    }

    /** Bytes of weights held on the device. */
    long residentBytes() {
        long sum = 0;
        for (Resident r : resident.values()) sum += r.bytes;
        return sum;
    }
}
