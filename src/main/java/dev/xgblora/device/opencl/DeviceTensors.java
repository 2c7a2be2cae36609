package dev.xgblora.device.opencl;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.HostAccess;
import dev.xgblora.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.WeakHashMap;

/**
 * Device-resident copies of heap F32 tensors (activations, gradients, adapters, optimizer state,
 * F32 weight working copies), one device buffer per Java float array, so a tensor that one kernel
 * writes and the next reads never leaves the device.
 *
 * <p>Each array has two flags: deviceValid (the buffer holds its current values) and hostValid.
 * A kernel output clears hostValid; the host reading the array (any {@link Tensor} accessor, through
 * {@link HostAccess}) copies the buffer back first, lazily; a host write clears deviceValid, and the
 * next kernel that reads it uploads it again. Fills (zeroing a gradient) of a device-valid array run
 * on the device. Arrays the garbage collector took free their buffers.
 *
 * <p>Device-addressable: a contiguous F32 view starting at element 0 of its heap float[] (the
 * kernels take no offsets); other views go the per-op upload/readback way.
 */
final class DeviceTensors implements HostAccess.Mirror {
    private static final class Entry extends WeakReference<float[]> {
        final ClBuffer buf;
        boolean deviceValid, hostValid = true;

        Entry(float[] array, ClBuffer buf, ReferenceQueue<float[]> q) {
            super(array, q);
            this.buf = buf;
        }
    }

    private final ClContext ctx;
    private final WeakHashMap<float[], Entry> byArray = new WeakHashMap<>();
    private final ReferenceQueue<float[]> collected = new ReferenceQueue<>();
    private final java.util.Set<Entry> live = new java.util.HashSet<>(); // keeps entries reachable until freed
    private boolean registered;

    DeviceTensors(ClContext ctx) {
        this.ctx = ctx;
    }

    /** The heap array behind t when t is device-addressable, else null. */
    static float[] addressable(Tensor t) {
        if (t.dtype() != DType.F32 || !t.isContiguous()) return null;
        MemorySegment seg = HostAccess.untracked(t);
        if (!(seg.heapBase().orElse(null) instanceof float[] a)) return null;
        return seg.address() + t.byteOffset() == 0 ? a : null;
    }

    /** The buffer of t's array holding its current values (uploaded if the host copy is newer). */
    synchronized ClBuffer forRead(Tensor t, float[] a) {
        Entry e = entry(a);
        if (!e.deviceValid) upload(e, a);
        return e.buf;
    }

    /**
     * The buffer of t's array for a kernel that writes t; {@code overwrites}: every element of t is
     * written, so nothing needs uploading when t covers the whole array. The host copy is stale after.
     */
    synchronized ClBuffer forWrite(Tensor t, float[] a, boolean overwrites) {
        Entry e = entry(a);
        if (!e.deviceValid) {
            if (overwrites && t.numel() == a.length) e.deviceValid = true;
            else upload(e, a);
        }
        e.hostValid = false;
        return e.buf;
    }

    /**
     * Makes the buffer hold the array. An all-zero array (a gradient the host allocated with
     * Tensor.zeros for a kernel to accumulate into, a zero-initialised adapter) is filled on the
     * device instead: nothing crosses the bus. The scan stops at the first non-zero bit pattern.
     */
    private void upload(Entry e, float[] a) {
        if (allZeroBits(a)) ctx.launch(ctx.kernel("fill_f32"), new long[]{a.length}, null, 0L, (long) a.length, 0f, e.buf);
        else ctx.write(e.buf, MemorySegment.ofArray(a));
        e.deviceValid = true;
    }

    /** +0.0 everywhere (−0.0 is uploaded: results stay bit-identical). */
    private static boolean allZeroBits(float[] a) {
        for (float f : a) if (Float.floatToRawIntBits(f) != 0) return false;
        return true;
    }

    private Entry entry(float[] a) {
        freeCollected();
        Entry e = byArray.get(a);
        if (e == null) {
            if (!registered) {
                HostAccess.register(this);
                registered = true;
            }
            e = new Entry(a, ctx.allocate(4L * a.length), collected);
            byArray.put(a, e);
            live.add(e);
        }
        return e;
    }

    private void freeCollected() {
        for (var r = collected.poll(); r != null; r = collected.poll()) {
            Entry e = (Entry) r;
            live.remove(e);
            e.buf.close();
        }
    }

    /** Bytes of device buffers held for host arrays. */
    synchronized long bytes() {
        long sum = 0;
        for (Entry e : live) sum += e.buf.bytes();
        return sum;
    }

    @Override
    public synchronized void beforeHostRead(MemorySegment data) {
        if (!(data.heapBase().orElse(null) instanceof float[] a)) return;
        Entry e = byArray.get(a);
        if (e != null && !e.hostValid) {
            ctx.read(e.buf, MemorySegment.ofArray(a));
            e.hostValid = true;
        }
    }

    @Override
    public synchronized void beforeHostWrite(MemorySegment data) {
        if (!(data.heapBase().orElse(null) instanceof float[] a)) return;
        Entry e = byArray.get(a);
        if (e == null) return;
        if (!e.hostValid) {
            ctx.read(e.buf, MemorySegment.ofArray(a));
            e.hostValid = true;
        }
        e.deviceValid = false;
    }

    @Override
    public synchronized boolean fill(MemorySegment data, long first, long floats, float value) {
        if (!(data.heapBase().orElse(null) instanceof float[] a)) return false;
        Entry e = byArray.get(a);
        if (e == null || !e.deviceValid || floats == 0) return false;
        long start = data.address() / 4 + first;
        ctx.launch(ctx.kernel("fill_f32"), new long[]{floats}, null, start, floats, value, e.buf);
        e.hostValid = false;
        return true;
    }

    /** Copies every device-newer array back (before the buffers go) and stops watching host access. */
    synchronized void close() {
        for (Entry e : live) {
            float[] a = e.get();
            if (a != null && !e.hostValid) ctx.read(e.buf, MemorySegment.ofArray(a));
            e.buf.close();
        }
        live.clear();
        byArray.clear();
        if (registered) HostAccess.unregister(this);
        registered = false;
    }
}
