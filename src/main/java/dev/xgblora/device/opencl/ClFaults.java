package dev.xgblora.device.opencl;

/**
 * A test seam for device out-of-memory (like io.FaultInjection for the disk): with
 * {@code -Dxgblora.opencl.fault=alloc#N} (or {@link #plant}), the N-th buffer allocation counted
 * from then on, and every later one, fails as clCreateBuffer does on a full device. Off otherwise.
 */
public final class ClFaults {
    public static final String PROPERTY = "xgblora.opencl.fault";
    private static String planted;
    private static int seen;

    private ClFaults() {
    }

    /** Plants "alloc#N" in this JVM (null clears it) and restarts the count. */
    public static synchronized void plant(String spec) {
        planted = spec;
        seen = 0;
    }

    /** Whether this allocation is to fail. */
    static synchronized boolean allocationFails() {
        String spec = planted != null ? planted : System.getProperty(PROPERTY);
        if (spec == null || spec.isBlank()) return false;
        if (!spec.startsWith("alloc#")) throw new IllegalArgumentException(PROPERTY + ": expected alloc#N, found '" + spec + "'");
        int n = Integer.parseInt(spec.substring(6).strip());
        return ++seen >= n;
    }
}
