package dev.xgblora.cli;

import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;

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
}
