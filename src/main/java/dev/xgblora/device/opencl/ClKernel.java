package dev.xgblora.device.opencl;

import java.lang.foreign.MemorySegment;

/** A kernel of a built program; launched through {@link ClContext#launch}. */
public record ClKernel(String name, MemorySegment handle) {
}
