package dev.xgblora.io;

/**
 * A minimal protobuf wire-format reader over a byte array region: enough to walk the messages of
 * an ONNX model (varints, fixed 32/64-bit values, length-delimited fields). No copies: nested
 * messages are readers over sub-ranges of the same array.
 */
final class ProtoReader {
    static final int VARINT = 0, I64 = 1, LEN = 2, I32 = 5;

    private final byte[] buf;
    private final int end;
    private final String what;
    private int pos;
    private int tag;

    ProtoReader(byte[] buf, int offset, int length, String what) {
        if (offset < 0 || length < 0 || offset + length > buf.length) {
            throw new IllegalArgumentException(what + ": message range out of bounds");
        }
        this.buf = buf;
        this.pos = offset;
        this.end = offset + length;
        this.what = what;
    }

    ProtoReader(byte[] buf, String what) {
        this(buf, 0, buf.length, what);
    }

    /** Advances to the next field; false at the end of the message. */
    boolean next() {
        if (pos >= end) return false;
        long t = varint();
        if (t >>> 32 != 0 || (t >>> 3) == 0) throw corrupt("bad field tag " + t);
        tag = (int) t;
        return true;
    }

    int field() {
        return tag >>> 3;
    }

    int wireType() {
        return tag & 7;
    }

    long varint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) throw corrupt("truncated varint");
            byte b = buf[pos++];
            result |= (long) (b & 0x7f) << shift;
            if (b >= 0) return result;
        }
        throw corrupt("varint longer than 10 bytes");
    }

    int fixed32() {
        need(4);
        int v = (buf[pos] & 0xff) | (buf[pos + 1] & 0xff) << 8 | (buf[pos + 2] & 0xff) << 16 | (buf[pos + 3] & 0xff) << 24;
        pos += 4;
        return v;
    }

    long fixed64() {
        long lo = fixed32() & 0xffffffffL;
        long hi = fixed32() & 0xffffffffL;
        return lo | hi << 32;
    }

    /** Start offset (in the backing array) of the length-delimited field now being read; advances past it. */
    int lengthDelimited() {
        if (wireType() != LEN) throw corrupt("field " + field() + " has wire type " + wireType() + ", expected length-delimited");
        long n = varint();
        if (n < 0 || n > end - pos) throw corrupt("field " + field() + " length " + n + " runs past the end of the message");
        int start = pos;
        pos += (int) n;
        lastLength = (int) n;
        return start;
    }

    private int lastLength;

    /** Length of the field most recently read by {@link #lengthDelimited()}. */
    int lastLength() {
        return lastLength;
    }

    ProtoReader message(String name) {
        int start = lengthDelimited();
        return new ProtoReader(buf, start, lastLength, what + "/" + name);
    }

    String string() {
        int start = lengthDelimited();
        return new String(buf, start, lastLength, java.nio.charset.StandardCharsets.UTF_8);
    }

    byte[] array() {
        return buf;
    }

    /** Reads a repeated int64 either packed (one LEN field) or as a single varint; adds to out. */
    void int64s(java.util.List<Long> out) {
        if (wireType() == LEN) {
            int start = lengthDelimited();
            ProtoReader p = new ProtoReader(buf, start, lastLength, what);
            while (p.pos < p.end) out.add(p.varint());
        } else if (wireType() == VARINT) {
            out.add(varint());
        } else {
            throw corrupt("field " + field() + ": expected int64 values, wire type " + wireType());
        }
    }

    /** Reads repeated floats, packed or single; adds to out. */
    void floats(FloatSink out) {
        if (wireType() == LEN) {
            int start = lengthDelimited();
            if (lastLength % 4 != 0) throw corrupt("packed floats of " + lastLength + " bytes");
            for (int i = start; i < start + lastLength; i += 4) {
                out.add(Float.intBitsToFloat((buf[i] & 0xff) | (buf[i + 1] & 0xff) << 8 | (buf[i + 2] & 0xff) << 16 | (buf[i + 3] & 0xff) << 24));
            }
        } else if (wireType() == I32) {
            out.add(Float.intBitsToFloat(fixed32()));
        } else {
            throw corrupt("field " + field() + ": expected float values, wire type " + wireType());
        }
    }

    /** Reads repeated doubles, packed or single; adds to out. */
    void doubles(DoubleSink out) {
        if (wireType() == LEN) {
            int start = lengthDelimited();
            if (lastLength % 8 != 0) throw corrupt("packed doubles of " + lastLength + " bytes");
            ProtoReader p = new ProtoReader(buf, start, lastLength, what);
            while (p.pos < p.end) out.add(Double.longBitsToDouble(p.fixed64()));
        } else if (wireType() == I64) {
            out.add(Double.longBitsToDouble(fixed64()));
        } else {
            throw corrupt("field " + field() + ": expected double values, wire type " + wireType());
        }
    }

    interface DoubleSink {
        void add(double v);
    }

    interface FloatSink {
        void add(float v);
    }

    void skip() {
        switch (wireType()) {
            case VARINT -> varint();
            case I64 -> need(8, true);
            case LEN -> lengthDelimited();
            case I32 -> need(4, true);
            default -> throw corrupt("unsupported wire type " + wireType() + " (field " + field() + ")");
        }
    }

    private void need(int n) {
        if (end - pos < n) throw corrupt("truncated fixed-width value");
    }

    private void need(int n, boolean advance) {
        need(n);
        if (advance) pos += n;
    }

    IllegalArgumentException corrupt(String why) {
        return new IllegalArgumentException(what + ": corrupt protobuf at byte " + pos + ": " + why);
    }
}
