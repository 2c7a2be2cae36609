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
 * The CUDA driver API ({@code libcuda.so.1}) through java.lang.foreign: initialize the driver, list
 * devices, create a context, load PTX text from native/ptx with cuModuleLoadData (the driver JITs it
 * for the GPU at hand), allocate and copy device memory, launch with cuLaunchKernel.
 * {@link CudaKernels} runs the GEMM and attention kernels through it. Built against any
 * {@link SymbolLookup}, so tests drive it through a stub driver made of upcalls that runs the PTX
 * in an interpreter. Handles (context, module, function) are raw addresses as longs.
 */
public final class Cuda {
    static final int CUDA_SUCCESS = 0;
    private static final Linker LINKER = Linker.nativeLinker();

    private final MethodHandle init, deviceGetCount, deviceGet, deviceGetName, deviceTotalMem, ctxCreate, ctxSetCurrent, ctxDestroy,
            moduleLoadData, moduleUnload, moduleGetFunction, launchKernel, ctxSynchronize, memAlloc, memFree, memcpyHtoD, memcpyDtoH,
            getErrorName;

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
        ctxSetCurrent = bind(lib, "cuCtxSetCurrent", JAVA_INT, P);
        ctxDestroy = bind(lib, "cuCtxDestroy_v2", JAVA_INT, P);
        moduleLoadData = bind(lib, "cuModuleLoadData", JAVA_INT, P, P);
        moduleUnload = bind(lib, "cuModuleUnload", JAVA_INT, P);
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
            throw new CudaException("no NVIDIA driver (" + library + " not found): use --device cpu or --device opencl"
                    + " (--device cuda needs an NVIDIA GPU and its driver)", 0);
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
                name = p.get(ADDRESS, 0).reinterpret(4096).getString(0) + " (" + rc + ")";
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

    // ---- Contexts, modules, memory, launches (raw handles) ----------------------------------------

    /** A new context on device {@code ordinal}, current on this thread. */
    long createContext(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dev = arena.allocate(JAVA_INT), ctx = arena.allocate(ADDRESS);
            check(call(() -> (int) deviceGet.invokeExact(dev, ordinal)), "cuDeviceGet(" + ordinal + ")");
            int handle = dev.get(JAVA_INT, 0);
            check(call(() -> (int) ctxCreate.invokeExact(ctx, 0, handle)), "cuCtxCreate(cuda:" + ordinal + ")");
            return ctx.get(ADDRESS, 0).address();
        }
    }

    /** Makes a context current on the calling thread (a context is per thread in the driver API). */
    void setCurrent(long ctx) {
        check(call(() -> (int) ctxSetCurrent.invokeExact(MemorySegment.ofAddress(ctx))), "cuCtxSetCurrent");
    }

    void destroyContext(long ctx) {
        check(call(() -> (int) ctxDestroy.invokeExact(MemorySegment.ofAddress(ctx))), "cuCtxDestroy");
    }

    /** cuModuleLoadData of a PTX file of native/ptx (packaged beside this class). */
    long loadModule(String file) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment module = arena.allocate(ADDRESS), image = arena.allocateFrom(ptx(file));
            check(call(() -> (int) moduleLoadData.invokeExact(module, image)), "cuModuleLoadData(" + file + ")");
            return module.get(ADDRESS, 0).address();
        }
    }

    void unloadModule(long module) {
        check(call(() -> (int) moduleUnload.invokeExact(MemorySegment.ofAddress(module))), "cuModuleUnload");
    }

    long function(long module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fn = arena.allocate(ADDRESS), cname = arena.allocateFrom(name);
            check(call(() -> (int) moduleGetFunction.invokeExact(fn, MemorySegment.ofAddress(module), cname)),
                    "cuModuleGetFunction(" + name + ")");
            return fn.get(ADDRESS, 0).address();
        }
    }

    /** cuMemAlloc: a device pointer to {@code bytes} (at least 4). */
    long alloc(long bytes) {
        long size = Math.max(4, bytes);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(JAVA_LONG);
            check(call(() -> (int) memAlloc.invokeExact(p, size)), "cuMemAlloc(" + size + " bytes)");
            return p.get(JAVA_LONG, 0);
        }
    }

    void free(long d) {
        check(call(() -> (int) memFree.invokeExact(d)), "cuMemFree");
    }

    /** Host → device; {@code src} may be on the heap (staged through native memory: the driver needs an address). */
    void copyToDevice(long d, MemorySegment src) {
        long bytes = src.byteSize();
        if (bytes == 0) return;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = src.isNative() ? src : arena.allocate(bytes, 8).copyFrom(src);
            check(call(() -> (int) memcpyHtoD.invokeExact(d, staged, bytes)), "cuMemcpyHtoD(" + bytes + " bytes)");
        }
    }

    /** Device → host (waits for the launches before it); {@code dst} may be on the heap. */
    void copyToHost(MemorySegment dst, long d) {
        long bytes = dst.byteSize();
        if (bytes == 0) return;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = dst.isNative() ? dst : arena.allocate(bytes, 8);
            check(call(() -> (int) memcpyDtoH.invokeExact(staged, d, bytes)), "cuMemcpyDtoH(" + bytes + " bytes)");
            if (staged != dst) dst.copyFrom(staged);
        }
    }

    /**
     * cuLaunchKernel of {@code fn} over grid × block threads. Arguments in the kernel's order:
     * Integer (a .u32/.s32 parameter), Long (.u64: device pointers, 64-bit strides), Float (.f32).
     */
    void launch(long fn, String name, int[] grid, int[] block, Object... args) {
        try (Arena arena = Arena.ofConfined()) {
            // kernelParams: an array of pointers, one per kernel parameter, each to its value.
            MemorySegment params = arena.allocate(ADDRESS, Math.max(1, args.length));
            for (int i = 0; i < args.length; i++) {
                MemorySegment value = switch (args[i]) {
                    case Integer v -> arena.allocateFrom(JAVA_INT, v);
                    case Long v -> arena.allocateFrom(JAVA_LONG, v);
                    case Float v -> arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT, v);
                    default -> throw new IllegalArgumentException(name + ": argument " + i + " is a " + args[i].getClass().getSimpleName());
                };
                params.setAtIndex(ADDRESS, i, value);
            }
            check(call(() -> (int) launchKernel.invokeExact(MemorySegment.ofAddress(fn), grid[0], grid[1], grid[2], block[0], block[1],
                    block[2], 0, MemorySegment.NULL, params, MemorySegment.NULL)), "cuLaunchKernel(" + name + ")");
        }
    }

    void synchronize() {
        check(call(() -> (int) ctxSynchronize.invokeExact()), "cuCtxSynchronize");
    }

    /**
     * values *= s on device {@code ordinal}: context, cuModuleLoadData of scale.ptx, one launch
     * of {@code xgb_scale} in blocks of 256 threads, copies both ways. The end-to-end check of the
     * driver path on a GPU.
     */
    public float[] scale(int ordinal, float[] values, float s) {
        long ctx = createContext(ordinal);
        try {
            long module = loadModule("scale.ptx");
            long fn = function(module, "xgb_scale");
            long d = alloc(4L * values.length);
            copyToDevice(d, MemorySegment.ofArray(values));
            launch(fn, "xgb_scale", new int[]{Math.max(1, (values.length + 255) / 256), 1, 1}, new int[]{256, 1, 1}, d, values.length, s);
            synchronize();
            float[] out = new float[values.length];
            copyToHost(MemorySegment.ofArray(out), d);
            free(d);
            unloadModule(module);
            return out;
        } finally {
            destroyContext(ctx);
        }
    }
}
