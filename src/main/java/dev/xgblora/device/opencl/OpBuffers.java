package dev.xgblora.device.opencl;

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
 * Device memory of {@link OpenClKernels}: per-op buffers pooled by size (taken with {@link #in},
 * {@link #out}, {@link #inOut}, {@link #scratch}; all given back by {@link #release()} when the op
 * ends), and resident weights kept across ops in their own dtype, keyed by where they live on the
 * host and re-uploaded when a content fingerprint says the host copy changed. With residency on,
 * heap F32 tensors are not copied per op at all: {@link DeviceTensors} keeps them on the device and
 * syncs with the host only when the host reads or writes them.
 */
final class OpBuffers implements AutoCloseable {
    /** A device copy of a tensor for one op: its buffer and the dtype code the kernels widen by. */
    record Dev(ClBuffer buf, int dt) {
    }

    /** Where a weight lives on the host: heap arrays compare by identity, native memory by address. */
    private record WeightKey(Object heapBase, long address, long bytes, DType dtype) {
    }

    private record Resident(ClBuffer buffer, long fingerprint) {
    }

    private final ClContext ctx;
    private final Map<Long, ArrayDeque<ClBuffer>> free = new HashMap<>();
    private final List<ClBuffer> inUse = new ArrayList<>();
    private final Map<WeightKey, Resident> resident = new HashMap<>();
    private final ClBuffer dummy;
    private final DeviceTensors tensors; // null: the per-op upload/readback design (residency off)

    OpBuffers(ClContext ctx, boolean resident) {
        this.ctx = ctx;
        this.dummy = ctx.allocate(4);
        this.tensors = resident ? new DeviceTensors(ctx) : null;
    }

    /** t's heap array when residency is on and the kernels can address t in place, else null. */
    private float[] resident(Tensor t) {
        return tensors == null ? null : DeviceTensors.addressable(t);
    }

    /** Bytes of device buffers mirroring host tensors (0 with residency off). */
    long mirroredBytes() {
        return tensors == null ? 0 : tensors.bytes();
    }

    /** A 4-byte buffer for kernel arguments that a flag marks unused (OpenCL 1.2 wants a valid cl_mem). */
    ClBuffer dummy() {
        return dummy;
    }

    @Override
    public void close() {
        if (tensors != null) tensors.close();
        for (ArrayDeque<ClBuffer> q : free.values()) q.forEach(ClBuffer::close);
        free.clear();
        resident.values().forEach(r -> r.buffer().close());
        resident.clear();
        dummy.close();
    }

    /** A pooled buffer of at least {@code bytes}, given back by {@link #release()} at the end of the op. */
    ClBuffer scratch(long bytes) {
        long size = Math.max(4, bytes);
        ArrayDeque<ClBuffer> q = free.get(size);
        ClBuffer b = q == null || q.isEmpty() ? allocate(size) : q.pop();
        inUse.add(b);
        return b;
    }

    private ClBuffer allocate(long size) {
        try {
            return ctx.allocate(size);
        } catch (OpenClException e) {
            if (!e.outOfDeviceMemory()) throw e;
            // Pooled buffers of other sizes may be what fills the device: free them and try once more.
            for (ArrayDeque<ClBuffer> q : free.values()) q.forEach(ClBuffer::close);
            free.clear();
            return ctx.allocate(size);
        }
    }

    void release() {
        for (ClBuffer b : inUse) free.computeIfAbsent(b.bytes(), s -> new ArrayDeque<>()).push(b);
        inUse.clear();
    }

    /** The tensor's elements as one contiguous host segment (a F32 copy for strided views). */
    private static Tensor contiguous(Tensor t) {
        return t.isContiguous() ? t : t.copy();
    }

    /** The tensor's bytes on the host, not synced (callers sync with HostAccess first). */
    private static MemorySegment hostBytes(Tensor t) {
        return HostAccess.untracked(t).asSlice(t.byteOffset(), t.numel() * t.dtype().bytes());
    }

    private static int dtypeCode(DType d) {
        return switch (d) {
            case F32 -> 0;
            case BF16 -> 1;
            case F16 -> 2;
        };
    }

    static Tensor f32(Tensor t) {
        return t.dtype() == DType.F32 ? t : t.copy();
    }

    /** An input for this op, uploaded into a pooled buffer in its own dtype. */
    Dev in(Tensor t) {
        float[] a = resident(t);
        if (a != null) return new Dev(tensors.forRead(t, a), 0);
        Tensor c = contiguous(t);
        HostAccess.beforeRead(c);
        MemorySegment src = hostBytes(c);
        ClBuffer b = scratch(src.byteSize());
        ctx.write(b, src);
        return new Dev(b, dtypeCode(c.dtype()));
    }

    /** An output the op overwrites (F32; nothing uploaded). */
    ClBuffer out(Tensor t) {
        requireF32(t, "output");
        float[] a = resident(t);
        return a != null ? tensors.forWrite(t, a, true) : scratch(t.numel() * 4);
    }

    /** An output the op accumulates into: F32, its current values uploaded. */
    ClBuffer inOut(Tensor t, String what) {
        requireF32(t, what);
        float[] a = resident(t);
        return a != null ? tensors.forWrite(t, a, false) : in(t).buf();
    }

    private static void requireF32(Tensor t, String what) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(what + " must be F32, got " + t.describe());
    }

    /** Copies a device result into the tensor (through a temporary for strided views). */
    void readBack(ClBuffer b, Tensor t) {
        if (resident(t) != null) return; // b is t's device copy, already marked newer than the host's
        HostAccess.beforeWrite(t);
        if (t.isContiguous()) {
            ctx.read(b, hostBytes(t));
        } else {
            Tensor tmp = Tensor.zeros(t.shape());
            ctx.read(b, hostBytes(tmp));
            t.copyFrom(tmp);
        }
    }

    ClBuffer ints(int[] values) {
        ClBuffer b = scratch(4L * values.length);
        ctx.write(b, MemorySegment.ofArray(values));
        return b;
    }

    ClBuffer floats(float[] values) {
        ClBuffer b = scratch(4L * values.length);
        ctx.write(b, MemorySegment.ofArray(values));
        return b;
    }

    /**
     * A weight kept on the device across ops and steps, in its own dtype. Its content fingerprint
     * is checked at each use so a host-side change (merge, optimizer step) re-uploads it.
     */
    Dev weight(Tensor w) {
        if (resident(w) != null) return in(w); // a heap F32 weight (merged or trained): tracked, no fingerprint
        Tensor c = contiguous(w);
        if (c != w) return in(c);
        HostAccess.beforeRead(c);
        MemorySegment src = hostBytes(c); // a strided view copied for this op: nothing stable to keep
        WeightKey key = new WeightKey(src.heapBase().orElse(null), src.address(), src.byteSize(), c.dtype());
        long fp = ContentHash.of(src);
        Resident r = resident.get(key);
        if (r == null) {
            r = new Resident(allocate(src.byteSize()), fp);
            ctx.write(r.buffer(), src);
            resident.put(key, r);
        } else if (r.fingerprint() != fp) {
            ctx.write(r.buffer(), src);
            r = new Resident(r.buffer(), fp);
            resident.put(key, r);
        }
        return new Dev(r.buffer(), dtypeCode(c.dtype()));
    }

    /** Bytes of weights held on the device. */
    long residentBytes() {
        long sum = 0;
        for (Resident r : resident.values()) sum += r.buffer().bytes();
        return sum;
    }
}
