package dev.xgblora.device;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The content fingerprint by which the device backends notice that a weight cached on the device
 * changed on the host (a merge, an optimizer step) and upload it again.
 */
public final class ContentHash {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    private ContentHash() {
    }

    /** A 64-bit hash of every byte (multiply-xorshift over 8-byte words). */
    public static long of(MemorySegment s) {
        long n = s.byteSize(), h = 0x9E3779B97F4A7C15L ^ n;
        long words = n >>> 3;
        for (long i = 0; i < words; i++) {
            h = (h ^ s.get(LONG, i << 3)) * 0xBF58476D1CE4E5B9L;
            h ^= h >>> 31;
        }
        for (long i = words << 3; i < n; i++) h = (h ^ s.get(ValueLayout.JAVA_BYTE, i)) * 0x94D049BB133111EBL;
        return h;
    }
}
