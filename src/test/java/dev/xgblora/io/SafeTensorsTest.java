package dev.xgblora.io;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafeTensorsTest {
    @TempDir
    Path dir;

    private static Tensor random(DType dtype, long seed, long... shape) {
        Random r = new Random(seed);
        Tensor t = dtype == DType.F32 ? Tensor.zeros(shape) : Tensor.allocate(Arena.ofAuto(), dtype, shape);
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) r.nextGaussian());
        return t;
    }

    private static Map<String, Tensor> sample() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("b.weight", random(DType.F32, 1, 3, 5));
        m.put("a.bias", random(DType.BF16, 2, 7));
        m.put("c.half", random(DType.F16, 3, 2, 3, 1));
        m.put("scalar", random(DType.F32, 4));
        m.put("empty", Tensor.zeros(0, 4));
        return m;
    }

    @Test
    void roundTripKeepsBytesShapesDtypesAndMetadata() throws IOException {
        Map<String, Tensor> in = sample();
        Path file = dir.resolve("m.safetensors");
        SafeTensorsWriter.write(file, in, Map.of("format", "pt", "note", "x"));
        try (WeightStore ws = WeightStore.open(file)) {
            assertEquals(List.of("a.bias", "b.weight", "c.half", "empty", "scalar"), List.copyOf(ws.names()));
            assertEquals(Map.of("format", "pt", "note", "x"), ws.metadata());
            assertEquals(Files.size(file), ws.mappedBytes());
            for (var e : in.entrySet()) {
                Tensor got = ws.tensor(e.getKey());
                assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
                assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
                assertArrayEquals(e.getValue().toFloatArray(), got.toFloatArray(), e.getKey());
                assertEquals(e.getKey(), got.name());
            }
        }
    }

    @Test
    void headerIsPaddedToEightBytesAndDataFollowsInMapOrder() throws IOException {
        Path file = dir.resolve("m.safetensors");
        SafeTensorsWriter.write(file, sample(), Map.of());
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, n % 8);
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertFalse(header.contains("__metadata__"));
        assertTrue(header.indexOf("b.weight") < header.indexOf("a.bias"));
        // first tensor in map order starts at data offset 0
        assertTrue(header.contains("\"b.weight\":{\"dtype\":\"F32\",\"shape\":[3,5],\"data_offsets\":[0,60]}"), header);
    }

    @Test
    void stridedViewsAreWrittenInRowMajorOrder() {
        Tensor t = random(DType.F32, 9, 3, 4);
        Tensor tt = t.transposeLast2();
        Path file = dir.resolve("t.safetensors");
        SafeTensorsWriter.write(file, Map.of("t", tt), null);
        try (WeightStore ws = WeightStore.open(file)) {
            Tensor got = ws.tensor("t");
            assertArrayEquals(new long[]{4, 3}, got.shape());
            assertArrayEquals(tt.toFloatArray(), got.toFloatArray());
            assertTrue(got.isContiguous());
        }
    }

    @Test
    void writeReplacesAtomicallyAndLeavesNoTemporaries() throws IOException {
        Path file = dir.resolve("m.safetensors");
        SafeTensorsWriter.write(file, sample(), null);
        SafeTensorsWriter.write(file, Map.of("only", Tensor.zeros(2)), null);
        try (WeightStore ws = WeightStore.open(file)) {
            assertEquals(List.of("only"), List.copyOf(ws.names()));
        }
        try (var s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList());
        }
    }

    @Test
    void missingTensorErrorNamesTensorSourceAndCloseNames() {
        Path file = dir.resolve("m.safetensors");
        SafeTensorsWriter.write(file, sample(), null);
        try (WeightStore ws = WeightStore.open(dir)) {
            assertFalse(ws.has("b.weights"));
            var e = assertThrows(IllegalArgumentException.class, () -> ws.tensor("b.weights"));
            assertTrue(e.getMessage().contains("'b.weights'"), e.getMessage());
            assertTrue(e.getMessage().contains(dir.toAbsolutePath().toString()), e.getMessage());
            assertTrue(e.getMessage().contains("close names: b.weight"), e.getMessage());
        }
    }

    @Test
    void unsupportedDtypeIsListedButNotLoadable() throws IOException {
        // An I64 buffer (old BERT checkpoints carry embeddings.position_ids) built by byte surgery.
        Path file = writeRaw("{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[16]);
        try (WeightStore ws = WeightStore.open(file)) {
            assertTrue(ws.has("ids"));
            assertEquals("I64", ws.dtypeName("ids"));
            var e = assertThrows(IllegalArgumentException.class, () -> ws.tensor("ids"));
            assertTrue(e.getMessage().contains("'ids'") && e.getMessage().contains("I64"), e.getMessage());
        }
    }

    @Test
    void shardedDirectoryThroughIndex() throws IOException {
        Map<String, Tensor> s1 = new LinkedHashMap<>();
        s1.put("x", random(DType.F32, 5, 4));
        Map<String, Tensor> s2 = new LinkedHashMap<>();
        s2.put("y", random(DType.BF16, 6, 2, 2));
        SafeTensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), s1, null);
        SafeTensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), s2, null);
        Files.writeString(dir.resolve(WeightStore.INDEX_FILE), """
                {"metadata": {"total_size": 24}, "weight_map": {
                  "x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}""");
        try (WeightStore ws = WeightStore.open(dir)) {
            assertEquals(List.of("x", "y"), List.copyOf(ws.names()));
            assertArrayEquals(s2.get("y").toFloatArray(), ws.tensor("y").toFloatArray());
            assertEquals(dir.resolve("model-00002-of-00002.safetensors").toAbsolutePath(), ws.fileOf("y"));
        }
        Files.writeString(dir.resolve(WeightStore.INDEX_FILE), """
                {"weight_map": {"x": "model-00002-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}""");
        var e = assertThrows(IllegalArgumentException.class, () -> WeightStore.open(dir));
        assertTrue(e.getMessage().contains("'x'"), e.getMessage());
    }

    // ---- corrupt files: each must fail with a message naming the file (and the tensor) ----

    private Path writeRaw(String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path file = Files.createTempFile(dir, "bad", ".safetensors");
        Files.write(file, b.array());
        return file;
    }

    /** A valid file from the writer, then its header JSON edited. */
    private Path surgery(UnaryOperator<String> editHeader) throws IOException {
        Path good = dir.resolve("good.safetensors");
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("w", random(DType.F32, 7, 2, 3));
        m.put("v", random(DType.F32, 8, 4));
        SafeTensorsWriter.write(good, m, null);
        byte[] bytes = Files.readAllBytes(good);
        int n = (int) ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(bytes, 8, n, StandardCharsets.UTF_8).strip();
        return writeRaw(editHeader.apply(header), Arrays.copyOfRange(bytes, 8 + n, bytes.length));
    }

    private void assertRejected(Path file, String... fragments) {
        var e = assertThrows(IllegalArgumentException.class, () -> WeightStore.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), "should name the file: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "should mention '" + f + "': " + e.getMessage());
    }

    @Test
    void fileShorterThanEightBytes() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, new byte[5]);
        assertRejected(file, "shorter than the 8-byte");
    }

    @Test
    void headerLengthPastEndOfFile() throws IOException {
        Path file = dir.resolve("long.safetensors");
        Files.write(file, ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        assertRejected(file, "header length 1000");
    }

    @Test
    void headerOverTheFormatsCapIsRefusedUnread() throws IOException {
        Path file = dir.resolve("huge.safetensors");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(SafeTensorsHeader.MAX_HEADER_BYTES + 64); // sparse: no disk used
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(SafeTensorsHeader.MAX_HEADER_BYTES + 1).array());
        }
        assertRejected(file, "header length 100000001 exceeds the 100000000-byte limit");
    }

    @Test
    void invalidJsonHeader() throws IOException {
        assertRejected(surgery(h -> h.substring(0, h.length() - 1)), "not valid JSON");
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        assertRejected(surgery(h -> h.replace("[24,40]", "[24,48]")), "'v'", "out of range");
    }

    @Test
    void overlappingOffsets() throws IOException {
        assertRejected(surgery(h -> h.replace("\"shape\":[4],\"data_offsets\":[24,40]", "\"shape\":[4],\"data_offsets\":[8,24]")),
                "overlaps");
    }

    @Test
    void offsetsNotCoveringTheData() throws IOException {
        assertRejected(surgery(h -> h.replace("\"shape\":[2,3],\"data_offsets\":[0,24]", "\"shape\":[2,2],\"data_offsets\":[0,16]")),
                "cover");
    }

    @Test
    void shapeDisagreesWithByteRange() throws IOException {
        assertRejected(surgery(h -> h.replace("\"shape\":[2,3]", "\"shape\":[2,4]")), "'w'", "needs 32 bytes");
    }

    @Test
    void unknownDtype() throws IOException {
        assertRejected(surgery(h -> h.replace("\"dtype\":\"F32\",\"shape\":[4]", "\"dtype\":\"Q4\",\"shape\":[4]")),
                "'v'", "unknown dtype 'Q4'");
    }

    @Test
    void duplicateTensorName() throws IOException {
        assertRejected(surgery(h -> h.replace("\"v\":", "\"w\":")), "not valid JSON", "Duplicate");
    }
}
