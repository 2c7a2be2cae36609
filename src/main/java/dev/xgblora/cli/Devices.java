package dev.xgblora.cli;

import dev.xgblora.device.cuda.Cuda;
import dev.xgblora.device.cuda.CudaException;
import dev.xgblora.device.opencl.ClDevice;
import dev.xgblora.device.opencl.OpenCl;
import dev.xgblora.device.opencl.OpenClException;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;

import java.util.List;

/** The {@code --device} option: cpu (the process-wide CPU backend), opencl[:N] or cuda[:N]. */
final class Devices {
    static final String HELP = "cpu (default), opencl[:N] (the OpenCL kernels of native/opencl) or cuda[:N] (an NVIDIA GPU: the PTX"
            + " GEMM and attention of native/ptx, other ops on the CPU); N from xgblora info.";

    private Devices() {
    }

    /** The kernels for a --device value; accelerators get a clear error when absent. */
    static Kernels kernels(String device) {
        String d = device.trim();
        if (d.equals("cpu")) return Backends.defaults();
        if (d.equals("opencl") || d.startsWith("opencl:")) return Backends.create(d, 1);
        // no NVIDIA driver: a CudaException that says so and what to use instead
        if (d.equals("cuda") || d.startsWith("cuda:")) return Backends.create(d, 1);
        throw new IllegalArgumentException("--device '" + device + "' is not cpu, opencl[:N] or cuda[:N]");
    }

    /**
     * The kernels of a --device value for one command, closed with it: a device backend gives back
     * its buffers (and syncs device-written tensors back first); the shared CPU backend stays open.
     */
    record Opened(Kernels kernels) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            if (kernels != Backends.defaults() && kernels instanceof AutoCloseable c) c.close();
        }
    }

    static Opened open(String device) {
        return new Opened(kernels(device));
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
