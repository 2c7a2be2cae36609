package dev.xgblora.device.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.Backends;
import org.junit.jupiter.api.Test;

/** No OpenCL, a kernel that does not compile, a buffer the device cannot hold: clear messages. */
class OpenClBadInputTest {
    @Test
    void missingLoaderLibrarySaysWhatToInstallAndToUseTheCpu() {
        OpenClUnavailableException e = assertThrows(OpenClUnavailableException.class,
                () -> OpenCl.load("libNoSuchOpenCL.so.1"));
        assertTrue(e.getMessage().contains("libNoSuchOpenCL.so.1"), e.getMessage());
        assertTrue(e.getMessage().contains("pocl-opencl-icd") && e.getMessage().contains("--device cpu"), e.getMessage());
    }

    @Test
    void buildFailureCarriesTheCompilerLogAndTheDevice() {
        OpenClKernels k = OpenClTestSupport.kernels();
        ClContext ctx = ClContext.forDevice(k.device());
        OpenClException e = assertThrows(OpenClException.class,
                () -> ctx.build("broken.cl", "__kernel void broken(__global float* x) { x[0] = undeclared_name; }"));
        assertEquals(ClError.CL_BUILD_PROGRAM_FAILURE, e.code());
        assertTrue(e.getMessage().contains("clBuildProgram(broken.cl)") && e.getMessage().contains("CL_BUILD_PROGRAM_FAILURE"), e.getMessage());
        assertTrue(e.getMessage().contains("undeclared_name"), "the build log is in the message: " + e.getMessage());
        assertTrue(e.getMessage().contains(k.device().label()), e.getMessage());
    }

    @Test
    void bufferLargerThanTheDeviceAllowsNamesTheDeviceAndTheRemedy() {
        OpenClKernels k = OpenClTestSupport.kernels();
        ClContext ctx = ClContext.forDevice(k.device());
        OpenClException e = assertThrows(OpenClException.class, () -> ctx.allocate(k.device().maxAllocBytes() + 1));
        assertTrue(e.outOfDeviceMemory());
        assertTrue(e.getMessage().contains(k.device().label()), e.getMessage());
        assertTrue(e.getMessage().contains("--batch-size") && e.getMessage().contains("--device cpu"), e.getMessage());
    }

    @Test
    void outOfResourcesFromTheDriverIsExplained() {
        OpenClException e = ClError.failure(ClError.CL_OUT_OF_RESOURCES, "clEnqueueNDRangeKernel(gemm)", "opencl:0 test device");
        assertTrue(e.outOfDeviceMemory());
        assertEquals("clEnqueueNDRangeKernel(gemm) failed on opencl:0 test device: CL_OUT_OF_RESOURCES (-5). The device is out of"
                + " memory: use a smaller --batch-size (or shorter sequences), or run on the CPU with --device cpu", e.getMessage());
    }

    @Test
    void unknownDeviceNumberListsTheDevicesThereAre() {
        OpenClTestSupport.kernels();
        OpenClUnavailableException e = assertThrows(OpenClUnavailableException.class, () -> ClContext.device(99));
        assertTrue(e.getMessage().contains("OpenCL device 99 does not exist") && e.getMessage().contains("opencl:0"), e.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Backends.create("opencl:x", 1));
        assertTrue(bad.getMessage().contains("opencl:N"), bad.getMessage());
    }

    @Test
    void aLaunchEventCanBeAwaitedBeforeReadingTheResult() {
        OpenClKernels k = OpenClTestSupport.kernels();
        ClContext ctx = ClContext.forDevice(k.device());
        float[] values = {1f, -2f, 3f};
        try (ClBuffer b = ctx.allocate(12)) {
            ctx.write(b, java.lang.foreign.MemorySegment.ofArray(values));
            try (ClEvent e = ctx.launchWithEvent(ctx.kernel("scale"), new long[]{3}, null, 3L, b, 2f)) {
                e.await();
            }
            float[] out = new float[3];
            ctx.read(b, java.lang.foreign.MemorySegment.ofArray(out));
            org.junit.jupiter.api.Assertions.assertArrayEquals(new float[]{2f, -4f, 6f}, out);
        }
    }

    @Test
    void backendsSelectsOpenClByName() {
        OpenClTestSupport.kernels();
        try (OpenClKernels k = (OpenClKernels) Backends.create("opencl:0", 1)) {
            assertEquals("opencl", k.name());
            assertEquals(0, k.device().index());
        }
    }
}
