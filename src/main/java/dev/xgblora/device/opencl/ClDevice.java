package dev.xgblora.device.opencl;

import java.lang.foreign.MemorySegment;

/**
 * One OpenCL device as {@link OpenCl#devices()} found it: index is the N of {@code --device opencl:N}
 * (counted over all platforms).
 */
public record ClDevice(int index, String platform, String name, String version, long globalMemBytes,
                       long maxAllocBytes, int computeUnits, boolean fp64, boolean fp16,
                       MemorySegment platformId, MemorySegment deviceId) {

    /** "opencl:0 pthread-skylake-avx512 (Portable Computing Language)": how messages name it. */
    public String label() {
        return "opencl:" + index + " " + name + " (" + platform + ")";
    }

    /** One line for {@code xgblora info}. */
    public String summary() {
        return String.format("opencl:%d  %s | %s | %s | %,d MiB global, %,d MiB max buffer | %d compute units | fp64 %s | fp16 %s",
                index, platform, name, version, globalMemBytes >> 20, maxAllocBytes >> 20, computeUnits,
                fp64 ? "yes" : "no", fp16 ? "yes" : "no");
    }
}
