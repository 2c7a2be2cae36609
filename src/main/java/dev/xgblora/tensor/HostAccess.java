package dev.xgblora.tensor;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Hooks that let a device keep a newer copy of a tensor's memory than the host has. A device
 * backend registers a {@link Mirror}; every host access through {@link Tensor} then tells it first:
 * a read syncs a device-written copy back (lazily, only when the host looks), a write makes the
 * device copy stale. With no mirror registered (every CPU run) the cost is one volatile read.
 *
 * <p>{@link Tensor#data()} and {@link Tensor#heapArray()} hand out raw memory the caller may read or
 * write, so they count as both. The device layer itself reads the memory it tracks with
 * {@link #untracked(Tensor)}.
 */
public final class HostAccess {
    /** A device's view of host memory it may hold newer copies of. */
    public interface Mirror {
        /** The host is about to read {@code data}: copy back whatever the device wrote. */
        void beforeHostRead(MemorySegment data);

        /** The host is about to write {@code data}: sync it first, then forget the device copy. */
        void beforeHostWrite(MemorySegment data);

        /**
         * The host asks to fill {@code floats} F32 elements of {@code data} from element {@code first}
         * with {@code value}; true when the mirror did it on the device (the host copy is then stale).
         */
        default boolean fill(MemorySegment data, long first, long floats, float value) {
            return false;
        }
    }

    private static final CopyOnWriteArrayList<Mirror> MIRRORS = new CopyOnWriteArrayList<>();
    private static volatile boolean observed;

    private HostAccess() {
    }

    public static void register(Mirror m) {
        if (!MIRRORS.contains(m)) MIRRORS.add(m);
        observed = true;
    }

    public static void unregister(Mirror m) {
        MIRRORS.remove(m);
        observed = !MIRRORS.isEmpty();
    }

    /** The tensor's memory without telling any mirror (for the mirror itself). */
    public static MemorySegment untracked(Tensor t) {
        return t.rawData();
    }

    /** Syncs t's memory for a host read that bypasses the accessors (the device layer's own copies). */
    public static void beforeRead(Tensor t) {
        read(t.rawData());
    }

    /** Syncs t's memory for a host write that bypasses the accessors; device copies become stale. */
    public static void beforeWrite(Tensor t) {
        write(t.rawData());
    }

    static void read(MemorySegment data) {
        if (!observed) return;
        for (Mirror m : MIRRORS) m.beforeHostRead(data);
    }

    static void write(MemorySegment data) {
        if (!observed) return;
        for (Mirror m : MIRRORS) m.beforeHostWrite(data);
    }

    /** True when a mirror filled the elements on its device. */
    static boolean fill(MemorySegment data, long first, long floats, float value) {
        if (!observed) return false;
        for (Mirror m : MIRRORS) {
            if (m.fill(data, first, floats, value)) return true;
        }
        return false;
    }
}
