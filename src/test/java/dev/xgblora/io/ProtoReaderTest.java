package dev.xgblora.io;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The hand-written protobuf reader against messages encoded by hand from the wire-format spec. */
class ProtoReaderTest {

    /** A small protobuf encoder for building test messages. */
    static final class Msg {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Msg varint(long v) {
            while ((v & ~0x7fL) != 0) {
                out.write((int) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
            return this;
        }

        Msg tag(int field, int wire) {
            return varint((long) field << 3 | wire);
        }

        Msg bytes(int field, byte[] b) {
            tag(field, 2).varint(b.length);
            out.writeBytes(b);
            return this;
        }

        Msg string(int field, String s) {
            return bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Msg message(int field, Msg m) {
            return bytes(field, m.out.toByteArray());
        }

        byte[] build() {
            return out.toByteArray();
        }
    }

    static byte[] floatsLE(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    @Test
    void readsEachWireTypeAndSkipsUnknownFields() {
        Msg packed = new Msg().varint(1).varint(300).varint(-1L);
        // varint, string, packed int64s (with a negative), fixed32 float, unknown fixed64, varint
        Msg full = new Msg().tag(1, 0).varint(150).string(2, "hi").bytes(3, packed.build());
        full.tag(4, 5);
        full.out.writeBytes(floatsLE(1.5f));
        full.tag(15, 1);
        full.out.writeBytes(new byte[8]);
        full.tag(5, 0).varint(7);
        ProtoReader r = new ProtoReader(full.build(), "test");
        assertTrue(r.next());
        assertEquals(1, r.field());
        assertEquals(150, r.varint());
        assertTrue(r.next());
        assertEquals("hi", r.string());
        assertTrue(r.next());
        List<Long> ints = new ArrayList<>();
        r.int64s(ints);
        assertEquals(List.of(1L, 300L, -1L), ints);
        assertTrue(r.next());
        List<Float> fl = new ArrayList<>();
        r.floats(fl::add);
        assertEquals(List.of(1.5f), fl);
        assertTrue(r.next());
        assertEquals(15, r.field());
        r.skip();
        assertTrue(r.next());
        assertEquals(7, r.varint());
        assertFalse(r.next());
    }

    @Test
    void corruptInputFailsWithAClearMessage() {
        byte[] truncatedVarint = {0x08, (byte) 0x96};
        ProtoReader r = new ProtoReader(truncatedVarint, "model.onnx");
        assertTrue(r.next());
        var e = assertThrows(IllegalArgumentException.class, r::varint);
        assertTrue(e.getMessage().contains("model.onnx") && e.getMessage().contains("truncated varint"), e.getMessage());

        byte[] lengthPastEnd = {0x12, 0x05, 'h', 'i'};
        ProtoReader r2 = new ProtoReader(lengthPastEnd, "model.onnx");
        assertTrue(r2.next());
        var e2 = assertThrows(IllegalArgumentException.class, r2::string);
        assertTrue(e2.getMessage().contains("runs past the end"), e2.getMessage());

        var e3 = assertThrows(IllegalArgumentException.class, () -> OnnxGraph.parse(new byte[]{0x3a, 0x7f, 0x01}, "m.onnx"));
        assertTrue(e3.getMessage().contains("m.onnx"), e3.getMessage());
    }

    @Test
    void onnxGraphFromHandEncodedModel() {
        // TensorProto: dims [2, 2], data_type FLOAT, name "w", raw_data; a Constant node holding int64 [12] as int64_data.
        Msg dims = new Msg().varint(2).varint(2);
        Msg tensor = new Msg().bytes(1, dims.build()).tag(2, 0).varint(1).string(8, "w")
                .bytes(9, floatsLE(1f, 2f, 3f, 4f));
        Msg intTensor = new Msg().tag(2, 0).varint(7).tag(7, 0).varint(12);
        Msg attr = new Msg().string(1, "value").message(5, intTensor);
        Msg constant = new Msg().string(2, "c_out").string(3, "/c").string(4, "Constant").message(5, attr);
        Msg matmul = new Msg().string(1, "x").string(1, "w").string(2, "y").string(3, "/proj/MatMul").string(4, "MatMul");
        Msg graph = new Msg().message(1, constant).message(1, matmul).message(5, tensor);
        Msg model = new Msg().tag(1, 0).varint(8).message(7, graph);
        OnnxGraph g = OnnxGraph.parse(model.build(), "tiny.onnx");
        assertEquals(2, g.nodes().size());
        assertArrayEquals(new double[]{12}, g.producer("c_out").constant());
        OnnxGraph.Node mm = g.consumers("w").getFirst();
        assertEquals("MatMul", mm.opType());
        assertEquals(List.of("x", "w"), mm.inputs());
        assertNull(mm.constant());
        assertArrayEquals(new float[]{1, 2, 3, 4}, g.initializers().get("w").tensor().toFloatArray());
        assertArrayEquals(new long[]{2, 2}, g.initializers().get("w").dims());
    }
}
