package dev.xgblora.bench.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * Reads a safetensors file into float32 NDArrays owned by libtorch. An NDArray made from a direct
 * buffer wraps that buffer's memory (torch::from_blob); each tensor is therefore cloned into
 * libtorch's own allocation and the wrapper closed, as a JVM user loading weights would do.
 */
final class SafeTensors {
    private SafeTensors() {
    }

    static Map<String, NDArray> load(Path file, NDManager manager) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
            buf.order(ByteOrder.LITTLE_ENDIAN);
            if (buf.capacity() < 8) throw new IOException(file + ": " + buf.capacity() + " bytes, too short for a safetensors header");
            long n = buf.getLong(0);
            if (n < 0 || n > buf.capacity() - 8) throw new IOException(file + ": header length " + n + " exceeds file size " + buf.capacity());
            byte[] hb = new byte[(int) n];
            buf.get(8, hb);
            JsonNode header = new ObjectMapper().readTree(new String(hb, StandardCharsets.UTF_8));
            int base = 8 + (int) n;
            Map<String, NDArray> out = new HashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) continue;
                JsonNode info = e.getValue();
                DataType dt = switch (info.get("dtype").asText()) {
                    case "F32" -> DataType.FLOAT32;
                    case "F16" -> DataType.FLOAT16;
                    case "BF16" -> DataType.BFLOAT16;
                    default -> throw new IOException(file + ": tensor " + e.getKey() + " has dtype " + info.get("dtype").asText() + ", expected F32, F16 or BF16");
                };
                long[] shape = new long[info.get("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = info.get("shape").get(i).asLong();
                long start = info.get("data_offsets").get(0).asLong(), end = info.get("data_offsets").get(1).asLong();
                Shape s = new Shape(shape);
                if (end - start != s.size() * dt.getNumOfBytes()) {
                    throw new IOException(file + ": tensor " + e.getKey() + " spans " + (end - start) + " bytes, shape " + s + " needs " + s.size() * dt.getNumOfBytes());
                }
                ByteBuffer direct = ByteBuffer.allocateDirect((int) (end - start)).order(ByteOrder.nativeOrder());
                direct.put(buf.slice(base + (int) start, (int) (end - start))).flip();
                try (NDArray view = manager.create(direct, s, dt)) {
                    NDArray owned = dt == DataType.FLOAT32 ? view.duplicate() : view.toType(DataType.FLOAT32, true);
                    out.put(e.getKey(), owned);
                }
            }
            return out;
        }
    }
}
