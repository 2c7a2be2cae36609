package dev.xgblora.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;

/**
 * Writes tensors to a .safetensors file: tensors in the map's iteration order, the JSON header
 * padded with spaces to a multiple of 8 bytes (as the reference implementation does), written to a
 * temporary file in the target directory and renamed into place.
 */
public final class SafeTensorsWriter {
    private static final int CHUNK = 1 << 20;

    private SafeTensorsWriter() {
    }

    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        byte[] header = header(tensors, metadata);
        AtomicFiles.write(file, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(header));
                byte[] chunk = new byte[CHUNK];
                for (Map.Entry<String, Tensor> e : tensors.entrySet()) writeData(ch, e.getValue(), chunk);
                ch.force(true);
            }
        });
    }

    /** The header bytes: JSON, space-padded so the data starts 8-byte aligned. */
    static byte[] header(Map<String, Tensor> tensors, Map<String, String> metadata) {
        ObjectNode root = SafeTensorsHeader.newObject();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is not a valid tensor name");
            Tensor t = e.getValue();
            long bytes = t.numel() * t.dtype().bytes();
            ObjectNode entry = root.putObject(name);
            entry.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = entry.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json;
        try {
            json = SafeTensorsHeader.JSON.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Raw little-endian bytes of the tensor in row-major order, whatever its strides. */
    private static void writeData(FileChannel ch, Tensor t, byte[] chunk) throws IOException {
        MemorySegment buf = MemorySegment.ofArray(chunk);
        int elem = t.dtype().bytes();
        if (t.isContiguous()) {
            long total = t.numel() * elem;
            MemorySegment src = t.data().asSlice(t.byteOffset(), total);
            for (long at = 0; at < total; at += CHUNK) {
                int n = (int) Math.min(CHUNK, total - at);
                MemorySegment.copy(src, at, buf, 0, n);
                writeFully(ch, ByteBuffer.wrap(chunk, 0, n));
            }
            return;
        }
        // Strided view: gather element by element into a same-dtype staging tensor.
        int perChunk = CHUNK / elem;
        Tensor stage = Tensor.of(buf, t.dtype(), perChunk);
        long n = t.numel();
        for (long at = 0; at < n; at += perChunk) {
            int m = (int) Math.min(perChunk, n - at);
            for (int i = 0; i < m; i++) stage.set(i, t.get(at + i));
            writeFully(ch, ByteBuffer.wrap(chunk, 0, m * elem));
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

}
