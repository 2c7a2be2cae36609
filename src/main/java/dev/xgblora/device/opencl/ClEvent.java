package dev.xgblora.device.opencl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;

/** A launched command's completion event (cl_event): wait for it, then close it. */
public final class ClEvent implements AutoCloseable {
    private final OpenCl cl;
    private final MemorySegment event;
    private final String what;
    private boolean released;

    ClEvent(OpenCl cl, MemorySegment event, String what) {
        this.cl = cl;
        this.event = event;
        this.what = what;
    }

    /** Blocks until the command has finished; a failed command throws naming it. */
    public void await() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment list = arena.allocate(ADDRESS);
            list.set(ADDRESS, 0, event);
            ClError.check((int) cl.waitForEvents.invokeExact(1, list), "clWaitForEvents(" + what + ")", null);
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    @Override
    public void close() {
        if (released) return;
        released = true;
        try {
            ClError.check((int) cl.releaseEvent.invokeExact(event), "clReleaseEvent(" + what + ")", null);
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }
}
