package dev.xgblora.device.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A context and an in-order command queue on one device, with the xgblora program built once for
 * it. Contexts are shared per device for the life of the JVM ({@link #forDevice}), so the program
 * (which PoCL compiles with LLVM, seconds per build) is built once per device and process.
 * All calls are synchronized: kernels carry their arguments as state.
 */
public final class ClContext {
    private static final Map<Integer, ClContext> SHARED = new ConcurrentHashMap<>();

    private final OpenCl cl;
    private final ClDevice device;
    private final MemorySegment context, queue;
    private final Map<String, ClKernel> kernels = new HashMap<>();
    private MemorySegment program;
    private OpenClException buildFailure; // kept: a failed build is not retried on every call
    private long liveBytes;
    private long writtenBytes, readBytes; // host→device and device→host traffic, for the residency figures

    private ClContext(OpenCl cl, ClDevice device) {
        this.cl = cl;
        this.device = device;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment err = arena.allocate(JAVA_INT);
            MemorySegment devs = arena.allocate(ADDRESS, 1);
            devs.setAtIndex(ADDRESS, 0, device.deviceId());
            context = (MemorySegment) cl.createContext.invokeExact(MemorySegment.NULL, 1, devs, MemorySegment.NULL,
                    MemorySegment.NULL, err);
            ClError.check(err.get(JAVA_INT, 0), "clCreateContext", device.label());
            queue = (MemorySegment) cl.createCommandQueue.invokeExact(context, device.deviceId(), 0L, err);
            ClError.check(err.get(JAVA_INT, 0), "clCreateCommandQueue", device.label());
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    /** The shared context of a device, created (and its program built) on first use. */
    public static ClContext forDevice(ClDevice device) {
        return SHARED.computeIfAbsent(device.index(), i -> new ClContext(OpenCl.get(), device));
    }

    /** The device of {@code --device opencl:N}; a clear error when N is out of range. */
    public static ClDevice device(int index) {
        var all = OpenCl.devices();
        if (index < 0 || index >= all.size()) {
            StringBuilder sb = new StringBuilder("OpenCL device " + index + " does not exist; this machine has:");
            for (ClDevice d : all) sb.append("\n  ").append(d.summary());
            throw new OpenClUnavailableException(sb.toString());
        }
        return all.get(index);
    }

    public ClDevice device() {
        return device;
    }

    /** Bytes held by this context's live buffers. */
    public synchronized long liveBytes() {
        return liveBytes;
    }

    /** Bytes copied host→device by {@link #write} since the context was created. */
    public synchronized long hostToDeviceBytes() {
        return writtenBytes;
    }

    /** Bytes copied device→host by {@link #read} since the context was created. */
    public synchronized long deviceToHostBytes() {
        return readBytes;
    }

    // ---- Programs -------------------------------------------------------------------------------

    /** The named kernel of the xgblora program ({@link OpenClProgram#source()}), built on first use. */
    public synchronized ClKernel kernel(String name) {
        if (buildFailure != null) throw buildFailure;
        if (program == null) {
            try {
                program = build("xgblora kernels", OpenClProgram.source());
            } catch (OpenClException e) {
                buildFailure = e;
                throw e;
            }
        }
        return kernels.computeIfAbsent(name, n -> createKernel(program, n));
    }

    /**
     * Compiles OpenCL C for this device. A failure throws with the compiler's build log and the
     * device in the message.
     */
    public synchronized MemorySegment build(String what, String source) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment err = arena.allocate(JAVA_INT);
            MemorySegment strings = arena.allocate(ADDRESS, 1);
            strings.setAtIndex(ADDRESS, 0, arena.allocateFrom(source));
            MemorySegment prog = (MemorySegment) cl.createProgramWithSource.invokeExact(context, 1, strings, MemorySegment.NULL, err);
            ClError.check(err.get(JAVA_INT, 0), "clCreateProgramWithSource(" + what + ")", device.label());
            MemorySegment devs = arena.allocate(ADDRESS, 1);
            devs.setAtIndex(ADDRESS, 0, device.deviceId());
            int rc = (int) cl.buildProgram.invokeExact(prog, 1, devs, arena.allocateFrom("-cl-std=CL1.2"),
                    MemorySegment.NULL, MemorySegment.NULL);
            if (rc != ClError.CL_SUCCESS) {
                String log = buildLog(prog);
                int ignored = (int) cl.releaseProgram.invokeExact(prog);
                throw new OpenClException("clBuildProgram(" + what + ") failed on " + device.label() + ": "
                        + ClError.name(rc) + " (" + rc + "). Build log:\n" + log
                        + "\nThe driver could not compile the kernels; run with --device cpu meanwhile", rc);
            }
            return prog;
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    private String buildLog(MemorySegment prog) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(JAVA_LONG);
            int rc = (int) cl.getProgramBuildInfo.invokeExact(prog, device.deviceId(), OpenCl.CL_PROGRAM_BUILD_LOG, 0L,
                    MemorySegment.NULL, size);
            if (rc != 0) return "(no build log: " + ClError.name(rc) + ")";
            MemorySegment buf = arena.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            rc = (int) cl.getProgramBuildInfo.invokeExact(prog, device.deviceId(), OpenCl.CL_PROGRAM_BUILD_LOG, buf.byteSize(),
                    buf, MemorySegment.NULL);
            return rc != 0 ? "(no build log: " + ClError.name(rc) + ")" : OpenCl.cString(buf);
        }
    }

    /**
     * A kernel object of its own (not the shared one of {@link #kernel}), for a recorded launch that
     * keeps its arguments set; release it with {@link #releaseKernel}.
     */
    synchronized ClKernel newKernel(String name) {
        kernel(name);
        return createKernel(program, name);
    }

    synchronized void releaseKernel(ClKernel k) {
        try {
            ClError.check((int) cl.releaseKernel.invokeExact(k.handle()), "clReleaseKernel(" + k.name() + ")", device.label());
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    private ClKernel createKernel(MemorySegment prog, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment err = arena.allocate(JAVA_INT);
            MemorySegment k = (MemorySegment) cl.createKernel.invokeExact(prog, arena.allocateFrom(name), err);
            ClError.check(err.get(JAVA_INT, 0), "clCreateKernel(" + name + ")", device.label());
            return new ClKernel(name, k);
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    // ---- Buffers --------------------------------------------------------------------------------

    /** A new device buffer; out of device memory says so, with the device and what to do. */
    public synchronized ClBuffer allocate(long bytes) {
        if (bytes > device.maxAllocBytes()) {
            throw new OpenClOutOfMemoryException("a buffer of " + bytes + " bytes exceeds the largest allocation of " + device.label()
                    + " (" + device.maxAllocBytes() + " bytes). Use a smaller --batch-size (or shorter sequences), or --device cpu",
                    ClError.CL_MEM_OBJECT_ALLOCATION_FAILURE, device.label());
        }
        if (ClFaults.allocationFails()) ClError.check(ClError.CL_MEM_OBJECT_ALLOCATION_FAILURE, "clCreateBuffer(" + bytes + " bytes)", device.label());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment err = arena.allocate(JAVA_INT);
            MemorySegment mem = (MemorySegment) cl.createBuffer.invokeExact(context, OpenCl.CL_MEM_READ_WRITE,
                    Math.max(4L, bytes), MemorySegment.NULL, err);
            ClError.check(err.get(JAVA_INT, 0), "clCreateBuffer(" + bytes + " bytes)", device.label());
            liveBytes += bytes;
            return new ClBuffer(this, mem, bytes);
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    synchronized void release(ClBuffer b) {
        try {
            ClError.check((int) cl.releaseMemObject.invokeExact(b.mem), "clReleaseMemObject", device.label());
            liveBytes -= b.bytes();
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    /** Copies src (host, heap or native) into the start of the buffer; blocking. */
    public synchronized void write(ClBuffer dst, MemorySegment src) {
        if (src.byteSize() == 0) return;
        try {
            ClError.check((int) cl.enqueueWriteBuffer.invokeExact(queue, dst.mem, 1, 0L, src.byteSize(), src, 0,
                    MemorySegment.NULL, MemorySegment.NULL), "clEnqueueWriteBuffer", device.label());
            writtenBytes += src.byteSize();
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    /** Copies the start of the buffer into dst (its whole size); blocking, so it also waits for the queue. */
    public synchronized void read(ClBuffer src, MemorySegment dst) {
        if (dst.byteSize() == 0) return;
        try {
            ClError.check((int) cl.enqueueReadBuffer.invokeExact(queue, src.mem, 1, 0L, dst.byteSize(), dst, 0,
                    MemorySegment.NULL, MemorySegment.NULL), "clEnqueueReadBuffer", device.label());
            readBytes += dst.byteSize();
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    /** Device-side copy of the first bytes of src into dst. */
    public synchronized void copy(ClBuffer src, ClBuffer dst, long bytes) {
        if (bytes == 0) return;
        try {
            ClError.check((int) cl.enqueueCopyBuffer.invokeExact(queue, src.mem, dst.mem, 0L, 0L, bytes, 0,
                    MemorySegment.NULL, MemorySegment.NULL), "clEnqueueCopyBuffer", device.label());
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    // ---- Launches -------------------------------------------------------------------------------

    /**
     * Sets the kernel's arguments (ClBuffer, Integer, Long, Float, in order) and enqueues it over
     * {@code global} work-items in groups of {@code local} (null: the driver chooses). Global sizes
     * are rounded up to multiples of local; kernels bound-check.
     */
    public synchronized void launch(ClKernel k, long[] global, long[] local, Object... args) {
        enqueue(k, global, local, false, args);
    }

    /** {@link #launch}, returning the launch's event (to wait on a single command; close it after). */
    public synchronized ClEvent launchWithEvent(ClKernel k, long[] global, long[] local, Object... args) {
        return enqueue(k, global, local, true, args);
    }

    private ClEvent enqueue(ClKernel k, long[] global, long[] local, boolean withEvent, Object... args) {
        for (int i = 0; i < args.length; i++) setArg(k, i, args[i]);
        return enqueueRange(k, global, local, withEvent);
    }

    /** Sets argument i of the kernel (ClBuffer, Integer, Long or Float). */
    synchronized void setArg(ClKernel k, int i, Object arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value;
            long size;
            switch (arg) {
                case ClBuffer b -> { value = arena.allocate(ADDRESS); value.set(ADDRESS, 0, b.mem); size = ADDRESS.byteSize(); }
                case Integer v -> { value = arena.allocate(JAVA_INT); value.set(JAVA_INT, 0, v); size = 4; }
                case Long v -> { value = arena.allocate(JAVA_LONG); value.set(JAVA_LONG, 0, v); size = 8; }
                case Float v -> { value = arena.allocate(JAVA_FLOAT); value.set(JAVA_FLOAT, 0, v); size = 4; }
                default -> throw new IllegalArgumentException("kernel " + k.name() + " argument " + i + ": unsupported " + arg);
            }
            ClError.check((int) cl.setKernelArg.invokeExact(k.handle(), i, size, value),
                    "clSetKernelArg(" + k.name() + ", " + i + ")", device.label());
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    /** Enqueues a kernel whose arguments are already set (a replayed launch). */
    synchronized void enqueueSet(ClKernel k, long[] global, long[] local) {
        enqueueRange(k, global, local, false);
    }

    private ClEvent enqueueRange(ClKernel k, long[] global, long[] local, boolean withEvent) {
        try (Arena arena = Arena.ofConfined()) {
            int dims = global.length;
            MemorySegment g = arena.allocate(JAVA_LONG, dims);
            MemorySegment l = local == null ? MemorySegment.NULL : arena.allocate(JAVA_LONG, dims);
            for (int d = 0; d < dims; d++) {
                long size = Math.max(1, global[d]);
                if (local != null) {
                    size = (size + local[d] - 1) / local[d] * local[d];
                    l.setAtIndex(JAVA_LONG, d, local[d]);
                }
                g.setAtIndex(JAVA_LONG, d, size);
            }
            MemorySegment event = withEvent ? arena.allocate(ADDRESS) : MemorySegment.NULL;
            ClError.check((int) cl.enqueueNdRangeKernel.invokeExact(queue, k.handle(), dims, MemorySegment.NULL, g, l, 0,
                    MemorySegment.NULL, event), "clEnqueueNDRangeKernel(" + k.name() + ")", device.label());
            return withEvent ? new ClEvent(cl, event.get(ADDRESS, 0), k.name()) : null;
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }

    /** Waits until every queued command has finished. */
    public synchronized void finish() {
        try {
            ClError.check((int) cl.finish.invokeExact(queue), "clFinish", device.label());
        } catch (Throwable t) {
            throw OpenCl.rethrow(t);
        }
    }
}
