package dev.xgblora.device.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.xgblora.kernels.Kernels;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandles;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A CUDA driver made of upcalls, for tests without a GPU: the driver calls {@link Cuda} binds, with
 * device memory in one native segment (each allocation bounds-checked) and cuLaunchKernel running
 * the loaded PTX in {@link PtxInterpreter}. What the GPU would compute, the interpreter computes from
 * the same PTX text and the same parameter block, so a wrong parameter order, a wrong pointer or a
 * wrong PTX offset gives a wrong result or a named failure.
 *
 * <p>Upcalls must not throw (the JVM would stop), so every failure becomes a CUresult whose name,
 * through cuGetErrorName, carries the message: e.g. "CUDA_ERROR_LAUNCH_FAILED: gemm.ptx:123: ...".
 * One driver per JVM (upcalls are static); {@link #reset} starts a test afresh.
 */
public final class CudaStubDriver {
    /** Device addresses start here (a fake base, never dereferenced by the host). */
    static final long BASE = 0x10_0000_0000L;
    static final long CAPACITY = 16L << 20; // the 6-step training test peaks at 170 KB
    static final int INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NO_DEVICE = 100, INVALID_PTX = 218, LAUNCH_FAILED = 719;

    private static final Arena ARENA = Arena.ofShared();
    private static final MemorySegment MEMORY = ARENA.allocate(CAPACITY, 256);

    static int initResult;
    static String loadedPtx, functionName;
    static int[] lastLaunch;
    static int launches;
    static long instructions;
    private static final List<PtxInterpreter> MODULES = new ArrayList<>();
    private static final List<Object[]> FUNCTIONS = new ArrayList<>(); // {module, kernel}
    private static final TreeMap<Long, Long> LIVE = new TreeMap<>(); // address -> bytes
    private static final Map<Long, ArrayDeque<Long>> FREED = new HashMap<>();
    private static long top;
    private static long liveBytes, peakBytes;
    private static final Map<Integer, String> MESSAGES = new HashMap<>();
    private static SymbolLookup lookup;
    private static java.util.function.UnaryOperator<String> ptxEdit = s -> s;

    private CudaStubDriver() {
    }

    /** Forgets every module, function and allocation; the next cuInit answers {@code init}. */
    public static synchronized void reset() {
        initResult = 0;
        loadedPtx = functionName = null;
        lastLaunch = null;
        launches = 0;
        instructions = 0;
        MODULES.clear();
        FUNCTIONS.clear();
        LIVE.clear();
        FREED.clear();
        top = 0;
        liveBytes = peakBytes = 0;
        MESSAGES.clear();
        ptxEdit = s -> s;
    }

    /**
     * Every PTX text loaded from now until the next {@link #reset} goes through {@code edit} first:
     * how a test plants a bug in the committed kernels and shows that the checks catch it.
     */
    public static synchronized void editPtx(java.util.function.UnaryOperator<String> edit) {
        ptxEdit = edit;
    }

    /** The stub as a driver binding, initialized. */
    public static Cuda cuda() {
        return Cuda.of(lookup());
    }

    /** {@link CudaKernels} on the stub's device 0, with {@code cpu} for the ops that stay on the host. */
    public static CudaKernels kernels(Kernels cpu) {
        return kernels(cpu, s -> s);
    }

    /** The same with every loaded PTX text passed through {@code edit} (see {@link #editPtx}). */
    public static CudaKernels kernels(Kernels cpu, java.util.function.UnaryOperator<String> edit) {
        reset();
        editPtx(edit);
        return new CudaKernels(cuda(), 0, cpu);
    }

    /** Kernel launches and interpreted PTX instructions since the last reset. */
    public static int launches() {
        return launches;
    }

    public static long instructions() {
        return instructions;
    }

    /** Device bytes allocated now, and at most since the last reset. */
    public static long liveBytes() {
        return liveBytes;
    }

    public static long peakBytes() {
        return peakBytes;
    }

    // ---- Memory ---------------------------------------------------------------------------------

    /** The interpreter's view: offsets into {@link #MEMORY}, only inside a live allocation. */
    static final PtxInterpreter.GlobalMemory GLOBAL = new PtxInterpreter.GlobalMemory() {
        private long lo = 1, hi = 0;

        @Override
        public MemorySegment segment() {
            return MEMORY;
        }

        @Override
        public long offset(long address, int bytes) {
            if (address < lo || address + bytes > hi) {
                var e = LIVE.floorEntry(address);
                if (e == null || address + bytes > e.getKey() + e.getValue()) {
                    throw new IndexOutOfBoundsException(String.format("a %d-byte access at device address 0x%x is outside every"
                            + " cuMemAlloc allocation%s", bytes, address, e == null ? "" : String.format(" (nearest below: 0x%x, %d bytes)",
                            e.getKey(), e.getValue())));
                }
                lo = e.getKey();
                hi = e.getKey() + e.getValue();
            }
            return address - BASE;
        }
    };

    private static long range(long d, long bytes) {
        var e = LIVE.floorEntry(d);
        if (e == null || d + bytes > e.getKey() + e.getValue()) {
            throw new IndexOutOfBoundsException(String.format("%d bytes at 0x%x are not inside one allocation", bytes, d));
        }
        return d - BASE;
    }

    private static int fail(int rc, String name, Throwable e) {
        MESSAGES.put(rc, name + ": " + e.getMessage());
        return rc;
    }

    // ---- The driver calls -----------------------------------------------------------------------

    static int cuInit(int flags) { return initResult; }
    static int cuDeviceGetCount(MemorySegment p) { p.reinterpret(4).set(JAVA_INT, 0, 1); return 0; }
    static int cuDeviceGet(MemorySegment p, int ordinal) {
        if (ordinal != 0) return NO_DEVICE;
        p.reinterpret(4).set(JAVA_INT, 0, ordinal + 100);
        return 0;
    }
    static int cuDeviceGetName(MemorySegment name, int len, int dev) { name.reinterpret(len).setString(0, "Stub GPU " + dev); return 0; }
    static int cuDeviceTotalMem(MemorySegment p, int dev) { p.reinterpret(8).set(JAVA_LONG, 0, CAPACITY); return 0; }
    static int cuCtxCreate(MemorySegment p, int flags, int dev) { p.reinterpret(8).set(ADDRESS, 0, MemorySegment.ofAddress(0x1000)); return 0; }
    static int cuCtxSetCurrent(MemorySegment ctx) { return ctx.address() == 0x1000 ? 0 : INVALID_VALUE; }
    static int cuCtxDestroy(MemorySegment ctx) { return ctx.address() == 0x1000 ? 0 : INVALID_VALUE; }

    static synchronized int cuModuleLoadData(MemorySegment module, MemorySegment image) {
        try {
            loadedPtx = image.reinterpret(1 << 22).getString(0);
            String name = fileName(loadedPtx);
            MODULES.add(PtxInterpreter.parse(ptxEdit.apply(loadedPtx), name));
            module.reinterpret(8).set(ADDRESS, 0, MemorySegment.ofAddress(0x2000 + MODULES.size()));
            return 0;
        } catch (Throwable e) {
            return fail(INVALID_PTX, "CUDA_ERROR_INVALID_PTX", e);
        }
    }

    /** The native/ptx file a module's text came from, for messages. */
    private static String fileName(String text) {
        for (String f : List.of("gemm.ptx", "attention.ptx", "scale.ptx")) {
            if (Cuda.ptx(f).equals(text)) return f;
        }
        return "a PTX module";
    }

    static int cuModuleUnload(MemorySegment module) { return 0; }

    static synchronized int cuModuleGetFunction(MemorySegment fn, MemorySegment module, MemorySegment name) {
        try {
            functionName = name.reinterpret(256).getString(0);
            PtxInterpreter m = MODULES.get((int) (module.address() - 0x2001));
            FUNCTIONS.add(new Object[]{m, m.kernel(functionName)});
            fn.reinterpret(8).set(ADDRESS, 0, MemorySegment.ofAddress(0x30000 + FUNCTIONS.size() - 1));
            return 0;
        } catch (Throwable e) {
            return fail(500, "CUDA_ERROR_NOT_FOUND", e);
        }
    }

    static synchronized int cuLaunchKernel(MemorySegment f, int gx, int gy, int gz, int bx, int by, int bz, int shared,
                                           MemorySegment stream, MemorySegment params, MemorySegment extra) {
        try {
            lastLaunch = new int[]{gx, gy, gz, bx, by, bz};
            launches++;
            Object[] fnEntry = FUNCTIONS.get((int) (f.address() - 0x30000));
            PtxInterpreter module = (PtxInterpreter) fnEntry[0];
            PtxInterpreter.Kernel kernel = (PtxInterpreter.Kernel) fnEntry[1];
            if (shared != 0) throw new IllegalArgumentException("dynamic shared memory is not used by our kernels, got " + shared);
            // Copy each parameter from the pointer the host gave for it, as the driver does.
            List<PtxInterpreter.Param> ps = kernel.params();
            MemorySegment block = MemorySegment.ofArray(new long[(kernel.paramBytes() + 7) / 8]);
            MemorySegment pointers = params.reinterpret(ADDRESS.byteSize() * ps.size());
            for (int i = 0; i < ps.size(); i++) {
                PtxInterpreter.Param p = ps.get(i);
                MemorySegment value = pointers.getAtIndex(ADDRESS, i).reinterpret(p.size());
                MemorySegment.copy(value, 0, block, p.offset(), p.size());
            }
            long before = module.executed();
            module.launch(kernel, new int[]{gx, gy, gz}, new int[]{bx, by, bz}, block, GLOBAL);
            instructions += module.executed() - before;
            return 0;
        } catch (Throwable e) {
            return fail(LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", e);
        }
    }

    static int cuCtxSynchronize() { return 0; }

    static synchronized int cuMemAlloc(MemorySegment p, long bytes) {
        long size = (Math.max(bytes, 1) + 255) & ~255L;
        ArrayDeque<Long> reuse = FREED.get(size);
        long d;
        if (reuse != null && !reuse.isEmpty()) {
            d = reuse.pop();
        } else {
            if (top + size > CAPACITY) {
                MESSAGES.put(OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY");
                return OUT_OF_MEMORY;
            }
            d = BASE + top;
            top += size;
        }
        LIVE.put(d, bytes);
        liveBytes += bytes;
        peakBytes = Math.max(peakBytes, liveBytes);
        MEMORY.asSlice(d - BASE, size).fill((byte) 0xFF); // fresh device memory is not zeroed: NaN floats
        p.reinterpret(8).set(JAVA_LONG, 0, d);
        return 0;
    }

    static synchronized int cuMemFree(long d) {
        Long bytes = LIVE.remove(d);
        if (bytes == null) return INVALID_VALUE;
        liveBytes -= bytes;
        FREED.computeIfAbsent((Math.max(bytes, 1) + 255) & ~255L, s -> new ArrayDeque<>()).push(d);
        return 0;
    }

    static synchronized int cuMemcpyHtoD(long d, MemorySegment src, long bytes) {
        try {
            MemorySegment.copy(src.reinterpret(bytes), 0, MEMORY, range(d, bytes), bytes);
            return 0;
        } catch (Throwable e) {
            return fail(INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", e);
        }
    }

    static synchronized int cuMemcpyDtoH(MemorySegment dst, long d, long bytes) {
        try {
            MemorySegment.copy(MEMORY, range(d, bytes), dst.reinterpret(bytes), 0, bytes);
            return 0;
        } catch (Throwable e) {
            return fail(INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", e);
        }
    }

    private static final Map<String, MemorySegment> NAMES = new HashMap<>();

    static synchronized int cuGetErrorName(int rc, MemorySegment p) {
        String name = rc == NO_DEVICE ? "CUDA_ERROR_NO_DEVICE" : MESSAGES.get(rc);
        if (name == null) return INVALID_VALUE;
        p.reinterpret(8).set(ADDRESS, 0, NAMES.computeIfAbsent(name, ARENA::allocateFrom));
        return 0;
    }

    /** The upcall stubs by driver symbol name. */
    static synchronized SymbolLookup lookup() {
        if (lookup != null) return lookup;
        try {
            Map<String, MemorySegment> symbols = new HashMap<>();
            var P = ADDRESS;
            add(symbols, "cuInit", "cuInit", JAVA_INT, JAVA_INT);
            add(symbols, "cuDeviceGetCount", "cuDeviceGetCount", JAVA_INT, P);
            add(symbols, "cuDeviceGet", "cuDeviceGet", JAVA_INT, P, JAVA_INT);
            add(symbols, "cuDeviceGetName", "cuDeviceGetName", JAVA_INT, P, JAVA_INT, JAVA_INT);
            add(symbols, "cuDeviceTotalMem_v2", "cuDeviceTotalMem", JAVA_INT, P, JAVA_INT);
            add(symbols, "cuCtxCreate_v2", "cuCtxCreate", JAVA_INT, P, JAVA_INT, JAVA_INT);
            add(symbols, "cuCtxSetCurrent", "cuCtxSetCurrent", JAVA_INT, P);
            add(symbols, "cuCtxDestroy_v2", "cuCtxDestroy", JAVA_INT, P);
            add(symbols, "cuModuleLoadData", "cuModuleLoadData", JAVA_INT, P, P);
            add(symbols, "cuModuleUnload", "cuModuleUnload", JAVA_INT, P);
            add(symbols, "cuModuleGetFunction", "cuModuleGetFunction", JAVA_INT, P, P, P);
            add(symbols, "cuLaunchKernel", "cuLaunchKernel", JAVA_INT, P, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    JAVA_INT, P, P, P);
            add(symbols, "cuCtxSynchronize", "cuCtxSynchronize", JAVA_INT);
            add(symbols, "cuMemAlloc_v2", "cuMemAlloc", JAVA_INT, P, JAVA_LONG);
            add(symbols, "cuMemFree_v2", "cuMemFree", JAVA_INT, JAVA_LONG);
            add(symbols, "cuMemcpyHtoD_v2", "cuMemcpyHtoD", JAVA_INT, JAVA_LONG, P, JAVA_LONG);
            add(symbols, "cuMemcpyDtoH_v2", "cuMemcpyDtoH", JAVA_INT, P, JAVA_LONG, JAVA_LONG);
            add(symbols, "cuGetErrorName", "cuGetErrorName", JAVA_INT, JAVA_INT, P);
            lookup = name -> Optional.ofNullable(symbols.get(name));
            return lookup;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void add(Map<String, MemorySegment> symbols, String symbol, String method, MemoryLayout ret, MemoryLayout... args)
            throws ReflectiveOperationException {
        FunctionDescriptor fd = FunctionDescriptor.of(ret, args);
        var handle = MethodHandles.lookup().findStatic(CudaStubDriver.class, method, fd.toMethodType());
        symbols.put(symbol, Linker.nativeLinker().upcallStub(handle, fd, ARENA));
    }
}
