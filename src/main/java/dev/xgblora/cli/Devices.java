package dev.xgblora.cli;

import dev.xgblora.device.cuda.Cuda;
import dev.xgblora.device.cuda.CudaException;
import dev.xgblora.device.opencl.ClDevice;
import dev.xgblora.device.opencl.OpenCl;
import dev.xgblora.device.opencl.OpenClException;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;

import java.util.List;

/** The {@code --device} option: cpu (the process-wide CPU backend) or opencl[:N]. */
final class Devices {
    static final String HELP = "cpu (default) or opencl[:N] (N from xgblora info; the OpenCL kernels of native/opencl).";

    private Devices() {
    }

    /** The kernels for a --device value; accelerators get a clear error when absent. */
    static Kernels kernels(String device) {
        String d = device.trim();
        if (d.equals("cpu")) return Backends.defaults();
        if (d.equals("opencl") || d.startsWith("opencl:")) return Backends.create(d, 1);
        if (d.equals("cuda") || d.startsWith("cuda:")) {
            Cuda.load(); // no driver: a CudaException that says so and what to use instead
            throw new IllegalArgumentException("--device " + d + ": the CUDA/PTX path is only a skeleton so far (native/ptx,"
                    + " one test kernel); on this NVIDIA machine use --device opencl with NVIDIA's OpenCL driver, or --device cpu");
        }
        throw new IllegalArgumentException("--device '" + device + "' is not cpu, opencl or opencl:N");
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
            return all.stream().map(g -> String.format("cuda:%d  %s | %,d MiB (PTX path: skeleton only)", g.ordinal(), g.name(),
                    g.totalMemBytes() >> 20)).toList();
        } catch (CudaException e) {
            return List.of("none: " + e.getMessage());
        }
    }
}
