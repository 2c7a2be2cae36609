package dev.xgblora.cli;

import dev.xgblora.device.cuda.Cuda;
import dev.xgblora.device.cuda.CudaException;
import dev.xgblora.device.opencl.ClDevice;
import dev.xgblora.device.opencl.OpenCl;
import dev.xgblora.device.opencl.OpenClException;

import java.util.List;

/**
 * The device lines of {@code xgblora info}. Apart from {@link Devices} so that a CPU run never loads
 * a device class (the verifier loads the exception classes of a method's catch clauses).
 */
final class DeviceListing {
    private DeviceListing() {
    }

    /** Lines for xgblora info: every OpenCL device, or why there is none (never an exception). */
    static List<String> openClLines() {
        try {
            return OpenCl.devices().stream().map(ClDevice::summary).toList();
        } catch (OpenClException e) {
            return List.of("none: " + e.getMessage());
        }
    }

    /** Lines for xgblora info: the CUDA devices the driver sees, or why there are none. */
    static List<String> cudaLines() {
        try {
            List<Cuda.Device> all = Cuda.load().devices();
            if (all.isEmpty()) return List.of("none: the NVIDIA driver sees no GPU");
            return all.stream().map(g -> String.format("cuda:%d  %s | %,d MiB (PTX GEMM and attention; other ops on the CPU)", g.ordinal(), g.name(),
                    g.totalMemBytes() >> 20)).toList();
        } catch (CudaException e) {
            return List.of("none: " + e.getMessage());
        }
    }
}
