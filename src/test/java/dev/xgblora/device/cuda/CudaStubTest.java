package dev.xgblora.device.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandles;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The CUDA driver binding against a stub driver made of upcalls (no GPU here): the calls, their
 * argument packing (cuLaunchKernel's pointer-per-parameter array) and the PTX handed to
 * cuModuleLoadData. The stub runs xgb_scale's arithmetic on what it was given, so a wrong
 * parameter layout gives a wrong result. On a machine with an NVIDIA driver, the real GPU check runs.
 */
class CudaStubTest {
    static final Arena ARENA = Arena.ofShared();
    static int initResult;
    static String loadedPtx, functionName;
    static int[] launch;
    static float[] deviceMemory;
    static final MemorySegment NO_DEVICE = ARENA.allocateFrom("CUDA_ERROR_NO_DEVICE");

    static int cuInit(int flags) { return initResult; }
    static int cuDeviceGetCount(MemorySegment p) { p.reinterpret(4).set(JAVA_INT, 0, 1); return 0; }
    static int cuDeviceGet(MemorySegment p, int ordinal) { p.reinterpret(4).set(JAVA_INT, 0, ordinal + 100); return 0; }
    static int cuDeviceGetName(MemorySegment name, int len, int dev) { name.reinterpret(len).setString(0, "Stub GPU " + dev); return 0; }
    static int cuDeviceTotalMem(MemorySegment p, int dev) { p.reinterpret(8).set(JAVA_LONG, 0, 8L << 30); return 0; }
    static int cuCtxCreate(MemorySegment p, int flags, int dev) { p.reinterpret(8).set(ADDRESS, 0, MemorySegment.ofAddress(0x1000)); return 0; }
    static int cuModuleLoadData(MemorySegment module, MemorySegment image) {
        loadedPtx = image.reinterpret(1 << 20).getString(0);
        module.reinterpret(8).set(ADDRESS, 0, MemorySegment.ofAddress(0x2000));
        return 0;
    }
    static int cuModuleGetFunction(MemorySegment fn, MemorySegment module, MemorySegment name) {
        functionName = name.reinterpret(64).getString(0);
        fn.reinterpret(8).set(ADDRESS, 0, MemorySegment.ofAddress(0x3000));
        return 0;
    }
    static int cuLaunchKernel(MemorySegment f, int gx, int gy, int gz, int bx, int by, int bz, int shared, MemorySegment stream,
                              MemorySegment params, MemorySegment extra) {
        launch = new int[]{gx, gy, gz, bx, by, bz};
        MemorySegment p = params.reinterpret(3 * ADDRESS.byteSize());
        long dst = p.getAtIndex(ADDRESS, 0).reinterpret(8).get(JAVA_LONG, 0);
        int n = p.getAtIndex(ADDRESS, 1).reinterpret(4).get(JAVA_INT, 0);
        float s = p.getAtIndex(ADDRESS, 2).reinterpret(4).get(JAVA_FLOAT, 0);
        if (dst != 0xD000) return 1; // CUDA_ERROR_INVALID_VALUE: not the pointer cuMemAlloc gave
        for (int i = 0; i < n && i < gx * bx; i++) deviceMemory[i] *= s;
        return 0;
    }
    static int cuCtxSynchronize() { return 0; }
    static int cuMemAlloc(MemorySegment p, long bytes) { deviceMemory = new float[(int) (bytes / 4)]; p.reinterpret(8).set(JAVA_LONG, 0, 0xD000); return 0; }
    static int cuMemFree(long d) { return d == 0xD000 ? 0 : 1; }
    static int cuMemcpyHtoD(long d, MemorySegment src, long bytes) {
        MemorySegment.copy(src.reinterpret(bytes), JAVA_FLOAT, 0, deviceMemory, 0, (int) (bytes / 4));
        return 0;
    }
    static int cuMemcpyDtoH(MemorySegment dst, long d, long bytes) {
        MemorySegment.copy(deviceMemory, 0, dst.reinterpret(bytes), JAVA_FLOAT, 0, (int) (bytes / 4));
        return 0;
    }
    static int cuGetErrorName(int rc, MemorySegment p) {
        if (rc != 100) return 1;
        p.reinterpret(8).set(ADDRESS, 0, NO_DEVICE);
        return 0;
    }

    static SymbolLookup stub() throws ReflectiveOperationException {
        Map<String, MemorySegment> symbols = new HashMap<>();
        var P = ADDRESS;
        add(symbols, "cuInit", "cuInit", JAVA_INT, JAVA_INT);
        add(symbols, "cuDeviceGetCount", "cuDeviceGetCount", JAVA_INT, P);
        add(symbols, "cuDeviceGet", "cuDeviceGet", JAVA_INT, P, JAVA_INT);
        add(symbols, "cuDeviceGetName", "cuDeviceGetName", JAVA_INT, P, JAVA_INT, JAVA_INT);
        add(symbols, "cuDeviceTotalMem_v2", "cuDeviceTotalMem", JAVA_INT, P, JAVA_INT);
        add(symbols, "cuCtxCreate_v2", "cuCtxCreate", JAVA_INT, P, JAVA_INT, JAVA_INT);
        add(symbols, "cuModuleLoadData", "cuModuleLoadData", JAVA_INT, P, P);
        add(symbols, "cuModuleGetFunction", "cuModuleGetFunction", JAVA_INT, P, P, P);
        add(symbols, "cuLaunchKernel", "cuLaunchKernel", JAVA_INT, P, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, P, P, P);
        add(symbols, "cuCtxSynchronize", "cuCtxSynchronize", JAVA_INT);
        add(symbols, "cuMemAlloc_v2", "cuMemAlloc", JAVA_INT, P, JAVA_LONG);
        add(symbols, "cuMemFree_v2", "cuMemFree", JAVA_INT, JAVA_LONG);
        add(symbols, "cuMemcpyHtoD_v2", "cuMemcpyHtoD", JAVA_INT, JAVA_LONG, P, JAVA_LONG);
        add(symbols, "cuMemcpyDtoH_v2", "cuMemcpyDtoH", JAVA_INT, P, JAVA_LONG, JAVA_LONG);
        add(symbols, "cuGetErrorName", "cuGetErrorName", JAVA_INT, JAVA_INT, P);
        return name -> Optional.ofNullable(symbols.get(name));
    }

    private static void add(Map<String, MemorySegment> symbols, String symbol, String method, MemoryLayout ret, MemoryLayout... args)
            throws ReflectiveOperationException {
        FunctionDescriptor fd = FunctionDescriptor.of(ret, args);
        var handle = MethodHandles.lookup().findStatic(CudaStubTest.class, method, fd.toMethodType());
        symbols.put(symbol, Linker.nativeLinker().upcallStub(handle, fd, ARENA));
    }

    @Test
    void scaleLoadsThePtxAndLaunchesWithOnePointerPerParameter() throws Exception {
        initResult = 0;
        Cuda cuda = Cuda.of(stub());
        assertEquals(List.of(new Cuda.Device(0, "Stub GPU 100", 8L << 30)), cuda.devices());
        float[] in = new float[300];
        for (int i = 0; i < in.length; i++) in[i] = i - 7;
        float[] out = cuda.scale(0, in, -1.5f);
        float[] expected = new float[in.length];
        for (int i = 0; i < in.length; i++) expected[i] = in[i] * -1.5f;
        assertArrayEquals(expected, out);
        assertTrue(loadedPtx.contains(".visible .entry xgb_scale(") && loadedPtx.contains(".target sm_52"), loadedPtx);
        assertEquals("xgb_scale", functionName);
        assertArrayEquals(new int[]{2, 1, 1, 256, 1, 1}, launch, "two blocks of 256 threads cover 300 elements");
    }

    @Test
    void driverErrorsAreNamed() {
        initResult = 100;
        CudaException e = assertThrows(CudaException.class, () -> Cuda.of(stub()));
        assertEquals("cuInit failed: CUDA_ERROR_NO_DEVICE (100)", e.getMessage());
        initResult = 0;
    }

    @Test
    void noDriverSaysWhatToUseInstead() {
        CudaException e = assertThrows(CudaException.class, () -> Cuda.load("libNoSuchCuda.so.1", Arena.global()));
        assertTrue(e.getMessage().contains("no NVIDIA driver") && e.getMessage().contains("--device opencl")
                && e.getMessage().contains("--device cpu"), e.getMessage());
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
