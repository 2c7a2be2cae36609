package dev.xgblora.device.opencl;

import org.junit.jupiter.api.Assumptions;

/**
 * The OpenCL backend the device tests share (one per JVM: PoCL compiles the program once).
 *
 * <p>No OpenCL platform is a test FAILURE: CI installs PoCL (ci/install-deps.sh), so a missing
 * platform there is a broken setup, not a reason to pass. By hand, on a machine without OpenCL,
 * {@code -Dxgblora.opencl.tests=skip} turns that failure into a skip that states the reason.
 */
public final class OpenClTestSupport {
    private static OpenClKernels shared;
    private static RuntimeException unavailable;

    private OpenClTestSupport() {
    }

    public static synchronized OpenClKernels kernels() {
        if (shared == null && unavailable == null) {
            try {
                shared = OpenClKernels.open("opencl");
            } catch (OpenClUnavailableException e) {
                unavailable = e;
            }
        }
        if (unavailable != null) {
            if ("skip".equals(System.getProperty("xgblora.opencl.tests"))) {
                Assumptions.abort("no OpenCL here (-Dxgblora.opencl.tests=skip): " + unavailable.getMessage());
            }
            throw new AssertionError("OpenCL tests need an OpenCL platform (CI installs PoCL with ci/install-deps.sh);"
                    + " to skip them by hand pass -Dxgblora.opencl.tests=skip", unavailable);
        }
        return shared;
    }

    /** A backend of its own on the shared device (close it), with residency on or off. */
    public static OpenClKernels fresh(boolean resident) {
        return new OpenClKernels(kernels().device(), resident);
    }

    /** A backend of its own with residency and the recorded launch list each on or off (close it). */
    public static OpenClKernels fresh(boolean resident, boolean recordSteps) {
        return new OpenClKernels(kernels().device(), resident, recordSteps);
    }
}
