package dev.xgblora.device.opencl;

import java.lang.foreign.MemorySegment;

/** A device buffer (cl_mem) of {@code bytes} bytes in a {@link ClContext}. Release with close. */
public final class ClBuffer implements AutoCloseable {
    final MemorySegment mem;
    private final long bytes;
    private final ClContext context;
    private boolean released;

    ClBuffer(ClContext context, MemorySegment mem, long bytes) {
        this.context = context;
        this.mem = mem;
        this.bytes = bytes;
    }

    public long bytes() {
        return bytes;
    }

    @Override
    public void close() {
        if (released) return;
        released = true;
        context.release(this);
    }
}
