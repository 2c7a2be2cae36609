package dev.xgblora.device.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The CUDA driver binding against the stub driver ({@link CudaStubDriver}: upcalls, no GPU): the
 * calls, their argument packing (cuLaunchKernel's pointer-per-parameter array) and the PTX handed to
 * cuModuleLoadData, which the stub runs in {@link PtxInterpreter}, so a wrong parameter layout gives a
 * wrong result. On a machine with an NVIDIA driver, the real GPU check runs.
 */
class CudaStubTest {
    @Test
    void scaleLoadsThePtxAndLaunchesWithOnePointerPerParameter() {
        CudaStubDriver.reset();
        Cuda cuda = CudaStubDriver.cuda();
        assertEquals(List.of(new Cuda.Device(0, "Stub GPU 100", CudaStubDriver.CAPACITY)), cuda.devices());
        float[] in = new float[300];
        for (int i = 0; i < in.length; i++) in[i] = i - 7;
        float[] out = cuda.scale(0, in, -1.5f);
        float[] expected = new float[in.length];
        for (int i = 0; i < in.length; i++) expected[i] = in[i] * -1.5f;
        assertArrayEquals(expected, out);
        assertTrue(CudaStubDriver.loadedPtx.contains(".visible .entry xgb_scale(") && CudaStubDriver.loadedPtx.contains(".target sm_52"),
                CudaStubDriver.loadedPtx);
        assertEquals("xgb_scale", CudaStubDriver.functionName);
        assertArrayEquals(new int[]{2, 1, 1, 256, 1, 1}, CudaStubDriver.lastLaunch, "two blocks of 256 threads cover 300 elements");
        assertEquals(0, CudaStubDriver.liveBytes(), "scale frees what it allocated");
    }

    @Test
    void driverErrorsAreNamed() {
        CudaStubDriver.reset();
        CudaStubDriver.initResult = 100;
        CudaException e = assertThrows(CudaException.class, CudaStubDriver::cuda);
        assertEquals("cuInit failed: CUDA_ERROR_NO_DEVICE (100)", e.getMessage());
        CudaStubDriver.reset();
    }

    @Test
    void noDriverSaysWhatToUseInstead() {
        CudaException e = assertThrows(CudaException.class, () -> Cuda.load("libNoSuchCuda.so.1", Arena.global()));
        assertEquals("no NVIDIA driver (libNoSuchCuda.so.1 not found): use --device cpu or --device opencl (--device cuda needs an"
                + " NVIDIA GPU and its driver)", e.getMessage());
    }

    @Test
    void realGpuScalesWhenAnNvidiaDriverIsPresent() {
        Cuda cuda;
        try {
            cuda = Cuda.load();
        } catch (CudaException e) {
            Assumptions.abort("no NVIDIA driver on this machine: " + e.getMessage());
            return;
        }
        Assumptions.assumeFalse(cuda.devices().isEmpty(), "the NVIDIA driver sees no GPU");
        assertArrayEquals(new float[]{2f, -4f, 6f}, cuda.scale(0, new float[]{1f, -2f, 3f}, 2f));
    }
}
