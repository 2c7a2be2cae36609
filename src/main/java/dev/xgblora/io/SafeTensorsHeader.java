package dev.xgblora.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed, validated header of one .safetensors file: an 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}, then the
 * data. Validation follows the reference implementation: offsets must tile the data exactly.
 */
record SafeTensorsHeader(Path file, long dataStart, List<Entry> entries, Map<String, String> metadata) {

    /** The reference implementation's cap (safetensors' MAX_HEADER_SIZE): a larger header is refused before it is read. */
    static final long MAX_HEADER_BYTES = 100_000_000;

    /** Duplicate keys are an error: a header naming a tensor twice is corrupt. */
    static final ObjectMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    /** One tensor's header entry; offsets are absolute in the file. */
    record Entry(String name, String dtype, long[] shape, long begin, long end) {
        long bytes() {
            return end - begin;
        }
    }

    /** Element sizes of every dtype the safetensors format defines (we load only F32/F16/BF16). */
    static int elementBytes(String dtype) {
        return switch (dtype) {
            case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0" -> 1;
            case "I16", "U16", "F16", "BF16" -> 2;
            case "I32", "U32", "F32" -> 4;
            case "I64", "U64", "F64", "C64" -> 8;
            default -> -1;
        };
    }

    static SafeTensorsHeader parse(Path file, MemorySegment whole) {
        long size = whole.byteSize();
        if (size < 8) {
            throw new IllegalArgumentException(file + ": not a safetensors file: " + size
                    + " bytes, shorter than the 8-byte header length");
        }
        long headerLen = whole.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 0 || headerLen > size - 8) {
            throw new IllegalArgumentException(file + ": header length " + Long.toUnsignedString(headerLen)
                    + " runs past the end of the file (" + size + " bytes)");
        }
        if (headerLen > MAX_HEADER_BYTES) {
            throw new IllegalArgumentException(file + ": header length " + headerLen + " exceeds the " + MAX_HEADER_BYTES
                    + "-byte limit of the safetensors format");
        }
        JsonNode root;
        // the parser reads the mapped bytes as a stream: no copy of the header, no String of it
        try (java.io.InputStream in = new SegmentInputStream(whole.asSlice(8, headerLen))) {
            root = JSON.readTree(in);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": header is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            // the header is mapped memory: a failure here is its content (a bad encoding), not I/O
            throw new IllegalArgumentException(file + ": header is not valid JSON text: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": header is not a JSON object");
        }
        long dataStart = 8 + headerLen;
        long dataSize = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals("__metadata__")) {
                readMetadata(file, node, metadata);
                continue;
            }
            entries.add(readEntry(file, name, node, dataStart, dataSize));
        }
        checkTiling(file, entries, dataStart, dataSize);
        return new SafeTensorsHeader(file, dataStart, List.copyOf(entries), Map.copyOf(metadata));
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) throw new IllegalArgumentException(file + ": __metadata__ is not a JSON object");
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new IllegalArgumentException(file + ": __metadata__ value '" + e.getKey() + "' is not a string");
            }
            out.put(e.getKey(), e.getValue().asText());
        }
    }

    private static Entry readEntry(Path file, String name, JsonNode node, long dataStart, long dataSize) {
        String where = file + ": tensor '" + name + "'";
        if (!node.isObject()) throw new IllegalArgumentException(where + ": header entry is not a JSON object");
        JsonNode dtypeNode = node.get("dtype");
        JsonNode shapeNode = node.get("shape");
        JsonNode offsetsNode = node.get("data_offsets");
        if (dtypeNode == null || !dtypeNode.isTextual()) throw new IllegalArgumentException(where + ": missing string 'dtype'");
        if (shapeNode == null || !shapeNode.isArray()) throw new IllegalArgumentException(where + ": missing array 'shape'");
        if (offsetsNode == null || !offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new IllegalArgumentException(where + ": 'data_offsets' must be an array [begin, end]");
        }
        String dtype = dtypeNode.asText();
        int elem = elementBytes(dtype);
        if (elem < 0) throw new IllegalArgumentException(where + ": unknown dtype '" + dtype + "'");
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new IllegalArgumentException(where + ": bad dimension " + d + " in shape " + shapeNode);
            }
            shape[i] = d.asLong();
        }
        for (JsonNode o : offsetsNode) {
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.asLong() < 0) {
                throw new IllegalArgumentException(where + ": bad data_offsets " + offsetsNode);
            }
        }
        long begin = offsetsNode.get(0).asLong();
        long end = offsetsNode.get(1).asLong();
        if (begin > end || end > dataSize) {
            throw new IllegalArgumentException(where + ": data_offsets [" + begin + ", " + end
                    + "] out of range of the " + dataSize + " data bytes");
        }
        long expected;
        try {
            expected = Math.multiplyExact(Tensor.count(shape), elem);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(where + ": shape " + Arrays.toString(shape) + " overflows");
        }
        if (expected != end - begin) {
            throw new IllegalArgumentException(where + ": " + dtype + Arrays.toString(shape) + " needs " + expected
                    + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
        }
        return new Entry(name, dtype, shape, dataStart + begin, dataStart + end);
    }

    /** Sorted by offset, every tensor must start where the previous ended and the last end the file. */
    private static void checkTiling(Path file, List<Entry> entries, long dataStart, long dataSize) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long at = dataStart;
        String previous = null;
        for (Entry e : sorted) {
            if (e.begin() < at) {
                throw new IllegalArgumentException(file + ": tensor '" + e.name() + "' overlaps tensor '" + previous
                        + "' (data_offsets start at " + (e.begin() - dataStart) + ", before " + (at - dataStart) + ")");
            }
            if (e.begin() > at) {
                throw new IllegalArgumentException(file + ": gap of " + (e.begin() - at) + " bytes before tensor '"
                        + e.name() + "' (data_offsets must cover the data exactly)");
            }
            at = e.end();
            previous = e.name();
        }
        if (at != dataStart + dataSize) {
            throw new IllegalArgumentException(file + ": tensors cover " + (at - dataStart) + " of the "
                    + dataSize + " data bytes (data_offsets must cover the data exactly)");
        }
    }

    /** Bytes of a memory segment as an InputStream. */
    private static final class SegmentInputStream extends java.io.InputStream {
        private final MemorySegment seg;
        private long at;

        SegmentInputStream(MemorySegment seg) {
            this.seg = seg;
        }

        @Override
        public int read() {
            return at < seg.byteSize() ? seg.get(ValueLayout.JAVA_BYTE, at++) & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            long left = seg.byteSize() - at;
            if (left <= 0) return len == 0 ? 0 : -1;
            int n = (int) Math.min(len, left);
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, at, b, off, n);
            at += n;
            return n;
        }
    }

    static ObjectNode newObject() {
        return JSON.createObjectNode();
    }
}
