package dev.xgblora.device.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The OpenCL 1.2 host API, bound to the system's ICD loader ({@code libOpenCL.so.1}) with
 * java.lang.foreign: no JNI, no extra dependency. Only the calls xgblora needs. Every failing call
 * becomes an {@link OpenClException} naming the call and the CL error code.
 *
 * <p>System property {@code xgblora.opencl.library} names another loader library (tests use a
 * missing one to check the "no OpenCL" message).
 */
public final class OpenCl {
    static final int CL_PLATFORM_NAME = 0x0902, CL_PLATFORM_VERSION = 0x0901;
    static final long CL_DEVICE_TYPE_ALL = 0xFFFFFFFFL;
    static final int CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002, CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F,
            CL_DEVICE_MAX_MEM_ALLOC_SIZE = 0x1010, CL_DEVICE_NAME = 0x102B, CL_DEVICE_VERSION = 0x102F,
            CL_DEVICE_EXTENSIONS = 0x1030, CL_DEVICE_TYPE = 0x1000;
    static final int CL_PROGRAM_BUILD_LOG = 0x1183;
    static final long CL_MEM_READ_WRITE = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static volatile OpenCl instance;

    final MethodHandle getPlatformIds, getPlatformInfo, getDeviceIds, getDeviceInfo, createContext,
            createCommandQueue, createBuffer, enqueueWriteBuffer, enqueueReadBuffer, enqueueCopyBuffer,
            createProgramWithSource, buildProgram, getProgramBuildInfo, createKernel, setKernelArg,
            enqueueNdRangeKernel, finish, waitForEvents, releaseEvent, releaseMemObject, releaseKernel,
            releaseProgram, releaseCommandQueue, releaseContext;

    private OpenCl(SymbolLookup lib) {
        var P = ADDRESS;
        getPlatformIds = bind(lib, "clGetPlatformIDs", JAVA_INT, JAVA_INT, P, P);
        getPlatformInfo = bind(lib, "clGetPlatformInfo", JAVA_INT, P, JAVA_INT, JAVA_LONG, P, P);
        getDeviceIds = bind(lib, "clGetDeviceIDs", JAVA_INT, P, JAVA_LONG, JAVA_INT, P, P);
        getDeviceInfo = bind(lib, "clGetDeviceInfo", JAVA_INT, P, JAVA_INT, JAVA_LONG, P, P);
        createContext = bind(lib, "clCreateContext", P, P, JAVA_INT, P, P, P, P);
        createCommandQueue = bind(lib, "clCreateCommandQueue", P, P, P, JAVA_LONG, P);
        createBuffer = bind(lib, "clCreateBuffer", P, P, JAVA_LONG, JAVA_LONG, P, P);
        // Reads and writes take heap segments too (critical: the GC keeps the array in place).
        enqueueWriteBuffer = bindCritical(lib, "clEnqueueWriteBuffer", JAVA_INT, P, P, JAVA_INT, JAVA_LONG, JAVA_LONG, P, JAVA_INT, P, P);
        enqueueReadBuffer = bindCritical(lib, "clEnqueueReadBuffer", JAVA_INT, P, P, JAVA_INT, JAVA_LONG, JAVA_LONG, P, JAVA_INT, P, P);
        enqueueCopyBuffer = bind(lib, "clEnqueueCopyBuffer", JAVA_INT, P, P, P, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, P, P);
        createProgramWithSource = bind(lib, "clCreateProgramWithSource", P, P, JAVA_INT, P, P, P);
        buildProgram = bind(lib, "clBuildProgram", JAVA_INT, P, JAVA_INT, P, P, P, P);
        getProgramBuildInfo = bind(lib, "clGetProgramBuildInfo", JAVA_INT, P, P, JAVA_INT, JAVA_LONG, P, P);
        createKernel = bind(lib, "clCreateKernel", P, P, P, P);
        setKernelArg = bind(lib, "clSetKernelArg", JAVA_INT, P, JAVA_INT, JAVA_LONG, P);
        enqueueNdRangeKernel = bind(lib, "clEnqueueNDRangeKernel", JAVA_INT, P, P, JAVA_INT, P, P, P, JAVA_INT, P, P);
        finish = bind(lib, "clFinish", JAVA_INT, P);
        waitForEvents = bind(lib, "clWaitForEvents", JAVA_INT, JAVA_INT, P);
        releaseEvent = bind(lib, "clReleaseEvent", JAVA_INT, P);
        releaseMemObject = bind(lib, "clReleaseMemObject", JAVA_INT, P);
        releaseKernel = bind(lib, "clReleaseKernel", JAVA_INT, P);
        releaseProgram = bind(lib, "clReleaseProgram", JAVA_INT, P);
        releaseCommandQueue = bind(lib, "clReleaseCommandQueue", JAVA_INT, P);
        releaseContext = bind(lib, "clReleaseContext", JAVA_INT, P);
    }

    /** The binding, loaded once; a clear {@link OpenClUnavailableException} when there is no loader. */
    public static OpenCl get() {
        OpenCl cl = instance;
        if (cl == null) {
            synchronized (OpenCl.class) {
                cl = instance;
                if (cl == null) instance = cl = load(libraryName());
            }
        }
        return cl;
    }

    static String libraryName() {
        return System.getProperty("xgblora.opencl.library", "libOpenCL.so.1");
    }

    static OpenCl load(String library) {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(library, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new OpenClUnavailableException("OpenCL is not available: the loader library " + library
                    + " was not found. Install an OpenCL driver and the ICD loader (Debian: apt-get install"
                    + " ocl-icd-libopencl1 pocl-opencl-icd, or your GPU vendor's OpenCL driver), or run with --device cpu");
        }
        return new OpenCl(lib);
    }

    private static MethodHandle bind(SymbolLookup lib, String name, java.lang.foreign.MemoryLayout ret,
                                     java.lang.foreign.MemoryLayout... args) {
        return LINKER.downcallHandle(symbol(lib, name), FunctionDescriptor.of(ret, args));
    }

    private static MethodHandle bindCritical(SymbolLookup lib, String name, java.lang.foreign.MemoryLayout ret,
                                             java.lang.foreign.MemoryLayout... args) {
        return LINKER.downcallHandle(symbol(lib, name), FunctionDescriptor.of(ret, args), Linker.Option.critical(true));
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new OpenClUnavailableException(
                "OpenCL loader " + libraryName() + " has no symbol " + name + " (an OpenCL 1.2 loader is needed); run with --device cpu"));
    }

    /** Wraps a checked-exception-free invoke: method handles throw Throwable. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    // ---- Discovery ------------------------------------------------------------------------------

    /**
     * Every device of every platform, in platform order then device order (the N of opencl:N).
     * No platform, or platforms without devices: an {@link OpenClUnavailableException} saying so.
     */
    public static List<ClDevice> devices() {
        OpenCl cl = get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_INT);
            int rc = (int) cl.getPlatformIds.invokeExact(0, MemorySegment.NULL, count);
            int platforms = rc == ClError.CL_SUCCESS ? count.get(JAVA_INT, 0) : 0;
            if (rc == ClError.CL_PLATFORM_NOT_FOUND_KHR || platforms == 0) {
                throw new OpenClUnavailableException("OpenCL is not available: the loader " + libraryName()
                        + " finds no platform (no ICD in /etc/OpenCL/vendors). Install one (Debian: apt-get install pocl-opencl-icd,"
                        + " or your GPU vendor's OpenCL driver), or run with --device cpu");
            }
            ClError.check(rc, "clGetPlatformIDs", null);
            MemorySegment ids = arena.allocate(ADDRESS, platforms);
            ClError.check((int) cl.getPlatformIds.invokeExact(platforms, ids, MemorySegment.NULL), "clGetPlatformIDs", null);
            List<ClDevice> out = new ArrayList<>();
            for (int p = 0; p < platforms; p++) {
                MemorySegment platform = ids.getAtIndex(ADDRESS, p);
                String pname = cl.platformString(platform, CL_PLATFORM_NAME);
                int drc = (int) cl.getDeviceIds.invokeExact(platform, CL_DEVICE_TYPE_ALL, 0, MemorySegment.NULL, count);
                if (drc == -1) continue; // CL_DEVICE_NOT_FOUND: a platform without devices
                ClError.check(drc, "clGetDeviceIDs(" + pname + ")", null);
                int n = count.get(JAVA_INT, 0);
                MemorySegment devs = arena.allocate(ADDRESS, n);
                ClError.check((int) cl.getDeviceIds.invokeExact(platform, CL_DEVICE_TYPE_ALL, n, devs, MemorySegment.NULL),
                        "clGetDeviceIDs(" + pname + ")", null);
                for (int d = 0; d < n; d++) out.add(cl.describe(out.size(), pname, platform, devs.getAtIndex(ADDRESS, d)));
            }
            if (out.isEmpty()) {
                throw new OpenClUnavailableException("OpenCL platforms were found but none has a device; run with --device cpu");
            }
            return List.copyOf(out);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private ClDevice describe(int index, String platformName, MemorySegment platform, MemorySegment device) throws Throwable {
        String ext = deviceString(device, CL_DEVICE_EXTENSIONS);
        return new ClDevice(index, platformName, deviceString(device, CL_DEVICE_NAME), deviceString(device, CL_DEVICE_VERSION),
                deviceLong(device, CL_DEVICE_GLOBAL_MEM_SIZE), deviceLong(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                (int) deviceLong(device, CL_DEVICE_MAX_COMPUTE_UNITS),
                ext.contains("cl_khr_fp64"), ext.contains("cl_khr_fp16"), platform, device);
    }

    private String platformString(MemorySegment platform, int param) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(JAVA_LONG);
            ClError.check((int) getPlatformInfo.invokeExact(platform, param, 0L, MemorySegment.NULL, size), "clGetPlatformInfo", null);
            MemorySegment buf = arena.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            ClError.check((int) getPlatformInfo.invokeExact(platform, param, buf.byteSize(), buf, MemorySegment.NULL), "clGetPlatformInfo", null);
            return cString(buf);
        }
    }

    String deviceString(MemorySegment device, int param) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(JAVA_LONG);
            ClError.check((int) getDeviceInfo.invokeExact(device, param, 0L, MemorySegment.NULL, size), "clGetDeviceInfo", null);
            MemorySegment buf = arena.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            ClError.check((int) getDeviceInfo.invokeExact(device, param, buf.byteSize(), buf, MemorySegment.NULL), "clGetDeviceInfo", null);
            return cString(buf);
        }
    }

    /** A numeric device property (cl_uint or cl_ulong; read into 8 zeroed bytes, little-endian). */
    long deviceLong(MemorySegment device, int param) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(JAVA_LONG);
            MemorySegment size = arena.allocate(JAVA_LONG);
            ClError.check((int) getDeviceInfo.invokeExact(device, param, 8L, buf, size), "clGetDeviceInfo", null);
            long n = size.get(JAVA_LONG, 0);
            return n == 4 ? Integer.toUnsignedLong(buf.get(JAVA_INT, 0)) : buf.get(JAVA_LONG, 0);
        }
    }

    static String cString(MemorySegment buf) {
        byte[] bytes = buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) n++;
        return new String(bytes, 0, n, StandardCharsets.UTF_8).trim();
    }
}
