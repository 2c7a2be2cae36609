package dev.xgblora.device.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA driver API ({@code libcuda.so.1}) through java.lang.foreign: the skeleton of the PTX
 * path. It initializes the driver, lists devices, creates a context, loads PTX text from
 * native/ptx with cuModuleLoadData and launches a kernel with cuLaunchKernel. Only the
 * {@code xgb_scale} kernel exists so far ({@link #scale}); the GEMM and attention kernels and a
 * {@code Kernels} implementation come next. Built against any {@link SymbolLookup}, so tests drive
 * it through a stub driver made of upcalls.
 */
public final class Cuda {
    static final int CUDA_SUCCESS = 0;
    private static final Linker LINKER = Linker.nativeLinker();

    private final MethodHandle init, deviceGetCount, deviceGet, deviceGetName, deviceTotalMem, ctxCreate, moduleLoadData,
            moduleGetFunction, launchKernel, ctxSynchronize, memAlloc, memFree, memcpyHtoD, memcpyDtoH, getErrorName;

    /** One CUDA device: its ordinal (the N of cuda:N), name and memory. */
    public record Device(int ordinal, String name, long totalMemBytes) {
    }

    Cuda(SymbolLookup lib) {
        var P = ADDRESS;
        init = bind(lib, "cuInit", JAVA_INT, JAVA_INT);
        deviceGetCount = bind(lib, "cuDeviceGetCount", JAVA_INT, P);
        deviceGet = bind(lib, "cuDeviceGet", JAVA_INT, P, JAVA_INT);
        deviceGetName = bind(lib, "cuDeviceGetName", JAVA_INT, P, JAVA_INT, JAVA_INT);
        deviceTotalMem = bind(lib, "cuDeviceTotalMem_v2", JAVA_INT, P, JAVA_INT);
        ctxCreate = bind(lib, "cuCtxCreate_v2", JAVA_INT, P, JAVA_INT, JAVA_INT);
        moduleLoadData = bind(lib, "cuModuleLoadData", JAVA_INT, P, P);
        moduleGetFunction = bind(lib, "cuModuleGetFunction", JAVA_INT, P, P, P);
        launchKernel = bind(lib, "cuLaunchKernel", JAVA_INT, P, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, P, P, P);
        ctxSynchronize = bind(lib, "cuCtxSynchronize", JAVA_INT);
        memAlloc = bind(lib, "cuMemAlloc_v2", JAVA_INT, P, JAVA_LONG);
        memFree = bind(lib, "cuMemFree_v2", JAVA_INT, JAVA_LONG);
        memcpyHtoD = bind(lib, "cuMemcpyHtoD_v2", JAVA_INT, JAVA_LONG, P, JAVA_LONG);
        memcpyDtoH = bind(lib, "cuMemcpyDtoH_v2", JAVA_INT, P, JAVA_LONG, JAVA_LONG);
        getErrorName = bind(lib, "cuGetErrorName", JAVA_INT, JAVA_INT, P);
    }

    /** The system's driver (libcuda.so.1), initialized; a clear {@link CudaException} when there is none. */
    public static Cuda load() {
        return load("libcuda.so.1", Arena.global());
    }

    static Cuda load(String library, Arena arena) {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(library, arena);
        } catch (IllegalArgumentException e) {
            throw new CudaException("no NVIDIA driver: " + library + " was not found. --device cuda needs an NVIDIA GPU and its"
                    + " driver; use --device opencl (any OpenCL driver) or --device cpu", 0);
        }
        return of(lib);
    }

    /** A driver from any symbol lookup (the real library, or a test's stub), initialized. */
    static Cuda of(SymbolLookup lib) {
        Cuda cuda = new Cuda(lib);
        cuda.check(cuda.call(() -> (int) cuda.init.invokeExact(0)), "cuInit");
        return cuda;
    }

    private static MethodHandle bind(SymbolLookup lib, String name, MemoryLayout ret, MemoryLayout... args) {
        MemorySegment sym = lib.find(name).orElseThrow(() -> new CudaException(
                "the CUDA driver has no symbol " + name + " (a driver for CUDA 11 or newer is needed); use --device opencl or --device cpu", 0));
        return LINKER.downcallHandle(sym, FunctionDescriptor.of(ret, args));
    }

    private interface Call {
        int run() throws Throwable;
    }

    private int call(Call c) {
        try {
            return c.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Throws for a non-zero CUresult, with the driver's name for the code. */
    void check(int rc, String what) {
        if (rc == CUDA_SUCCESS) return;
        String name = "CUresult " + rc;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ADDRESS);
            if ((int) getErrorName.invokeExact(rc, p) == CUDA_SUCCESS && !p.get(ADDRESS, 0).equals(MemorySegment.NULL)) {
                name = p.get(ADDRESS, 0).reinterpret(256).getString(0) + " (" + rc + ")";
            }
        } catch (Throwable ignored) {
            // keep the numeric name
        }
        String hint = rc == 2 ? ". The GPU is out of memory: use a smaller --batch-size, or --device cpu" : "";
        throw new CudaException(what + " failed: " + name + hint, rc);
    }

    /** Every device the driver sees. */
    public List<Device> devices() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_INT), dev = arena.allocate(JAVA_INT), mem = arena.allocate(JAVA_LONG);
            MemorySegment name = arena.allocate(256);
            check(call(() -> (int) deviceGetCount.invokeExact(count)), "cuDeviceGetCount");
            List<Device> out = new ArrayList<>();
            for (int i = 0; i < count.get(JAVA_INT, 0); i++) {
                final int ordinal = i;
                check(call(() -> (int) deviceGet.invokeExact(dev, ordinal)), "cuDeviceGet(" + i + ")");
                int handle = dev.get(JAVA_INT, 0);
                check(call(() -> (int) deviceGetName.invokeExact(name, 256, handle)), "cuDeviceGetName(" + i + ")");
                check(call(() -> (int) deviceTotalMem.invokeExact(mem, handle)), "cuDeviceTotalMem(" + i + ")");
                out.add(new Device(i, name.getString(0), mem.get(JAVA_LONG, 0)));
            }
            return out;
        }
    }

    /** The PTX text of a file in native/ptx (packaged beside this class). */
    static String ptx(String file) {
        try (InputStream in = Cuda.class.getResourceAsStream(file)) {
            if (in == null) throw new IllegalStateException("PTX " + file + " is missing from the jar (the build copies native/ptx/*.ptx)");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading PTX " + file, e);
        }
    }

    /**
     * values *= s on device {@code ordinal}: context, cuModuleLoadData of scale.ptx, one launch
     * of {@code xgb_scale} in blocks of 256 threads, copies both ways. The end-to-end check of the
     * driver path on a GPU.
     */
    public float[] scale(int ordinal, float[] values, float s) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dev = arena.allocate(JAVA_INT), ctx = arena.allocate(ADDRESS), module = arena.allocate(ADDRESS);
            MemorySegment fn = arena.allocate(ADDRESS), dptr = arena.allocate(JAVA_LONG);
            check(call(() -> (int) deviceGet.invokeExact(dev, ordinal)), "cuDeviceGet(" + ordinal + ")");
            int handle = dev.get(JAVA_INT, 0);
            check(call(() -> (int) ctxCreate.invokeExact(ctx, 0, handle)), "cuCtxCreate");
            MemorySegment image = arena.allocateFrom(ptx("scale.ptx"));
            check(call(() -> (int) moduleLoadData.invokeExact(module, image)), "cuModuleLoadData(scale.ptx)");
            MemorySegment name = arena.allocateFrom("xgb_scale");
            check(call(() -> (int) moduleGetFunction.invokeExact(fn, module.get(ADDRESS, 0), name)), "cuModuleGetFunction(xgb_scale)");
            long bytes = 4L * values.length;
            check(call(() -> (int) memAlloc.invokeExact(dptr, bytes)), "cuMemAlloc(" + bytes + " bytes)");
            long d = dptr.get(JAVA_LONG, 0);
            MemorySegment host = arena.allocate(Math.max(4, bytes));
            MemorySegment.copy(MemorySegment.ofArray(values), 0, host, 0, bytes);
            check(call(() -> (int) memcpyHtoD.invokeExact(d, host, bytes)), "cuMemcpyHtoD");
            // kernelParams: an array of pointers, one per kernel parameter, each to its value.
            MemorySegment pDst = arena.allocate(JAVA_LONG), pN = arena.allocate(JAVA_INT), pS = arena.allocate(java.lang.foreign.ValueLayout.JAVA_FLOAT);
            pDst.set(JAVA_LONG, 0, d);
            pN.set(JAVA_INT, 0, values.length);
            pS.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, s);
            MemorySegment params = arena.allocate(ADDRESS, 3);
            params.setAtIndex(ADDRESS, 0, pDst);
            params.setAtIndex(ADDRESS, 1, pN);
            params.setAtIndex(ADDRESS, 2, pS);
            int blocks = Math.max(1, (values.length + 255) / 256);
            MemorySegment f = fn.get(ADDRESS, 0);
            check(call(() -> (int) launchKernel.invokeExact(f, blocks, 1, 1, 256, 1, 1, 0, MemorySegment.NULL, params,
                    MemorySegment.NULL)), "cuLaunchKernel(xgb_scale)");
            check(call(() -> (int) ctxSynchronize.invokeExact()), "cuCtxSynchronize");
            check(call(() -> (int) memcpyDtoH.invokeExact(host, d, bytes)), "cuMemcpyDtoH");
            check(call(() -> (int) memFree.invokeExact(d)), "cuMemFree");
            float[] out = new float[values.length];
            MemorySegment.copy(host, 0, MemorySegment.ofArray(out), 0, bytes);
            return out;
        }
    }
}
