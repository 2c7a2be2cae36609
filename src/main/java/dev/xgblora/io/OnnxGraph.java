package dev.xgblora.io;

import dev.xgblora.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of an ONNX ModelProto the importer needs: graph nodes (op type, name, inputs,
 * outputs) and float initializers. Field numbers follow onnx.proto3.
 */
record OnnxGraph(List<Node> nodes, Map<String, Initializer> initializers) {
    // ModelProto.graph, GraphProto.{node, initializer}, NodeProto.{input, output, name, op_type}
    private static final int MODEL_GRAPH = 7, GRAPH_NODE = 1, GRAPH_INITIALIZER = 5;
    private static final int NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4;
    // TensorProto fields and the FLOAT data type
    private static final int T_DIMS = 1, T_DATA_TYPE = 2, T_FLOAT_DATA = 4, T_NAME = 8, T_RAW_DATA = 9, T_DATA_LOCATION = 14;
    private static final int T_INT32_DATA = 5, T_INT64_DATA = 7, T_DOUBLE_DATA = 10;
    private static final int NODE_ATTRIBUTE = 5, ATTR_NAME = 1, ATTR_FLOAT = 2, ATTR_TENSOR = 5;
    private static final int FLOAT = 1, INT32 = 6, INT64 = 7, DOUBLE = 11;

    /**
     * A graph node; {@code constant} holds the value of a Constant node (as doubles), else null;
     * {@code floats} its float attributes (e.g. LayerNormalization's epsilon).
     */
    record Node(String name, String opType, List<String> inputs, List<String> outputs, double[] constant, Map<String, Double> floats) {
        Node(String name, String opType, List<String> inputs, List<String> outputs, double[] constant) {
            this(name, opType, inputs, outputs, constant, Map.of());
        }
    }

    /** A float initializer: its shape and the little-endian float32 bytes (a view of the model bytes). */
    record Initializer(String name, long[] dims, MemorySegment data) {
        Tensor tensor() {
            return Tensor.of(data, dev.xgblora.tensor.DType.F32, dims).named(name);
        }

        @Override
        public String toString() {
            return name + Arrays.toString(dims);
        }
    }

    static OnnxGraph parse(byte[] model, String what) {
        ProtoReader m = new ProtoReader(model, what);
        ProtoReader graph = null;
        while (m.next()) {
            if (m.field() == MODEL_GRAPH) graph = m.message("graph");
            else m.skip();
        }
        if (graph == null) throw new IllegalArgumentException(what + ": no graph in the ONNX model");
        List<Node> nodes = new ArrayList<>();
        Map<String, Initializer> inits = new LinkedHashMap<>();
        while (graph.next()) {
            switch (graph.field()) {
                case GRAPH_NODE -> nodes.add(node(graph.message("node"), what));
                case GRAPH_INITIALIZER -> {
                    Initializer init = initializer(graph.message("initializer"), what);
                    if (init != null) inits.put(init.name(), init);
                }
                default -> graph.skip();
            }
        }
        return new OnnxGraph(List.copyOf(nodes), inits);
    }

    private static Node node(ProtoReader r, String what) {
        String name = "", op = "";
        List<String> in = new ArrayList<>(), out = new ArrayList<>();
        RawTensor value = null;
        Map<String, Double> floats = new LinkedHashMap<>();
        while (r.next()) {
            switch (r.field()) {
                case NODE_INPUT -> in.add(r.string());
                case NODE_OUTPUT -> out.add(r.string());
                case NODE_NAME -> name = r.string();
                case NODE_OP_TYPE -> op = r.string();
                case NODE_ATTRIBUTE -> {
                    Attribute a = attribute(r.message("attribute"));
                    if ("value".equals(a.name()) && a.tensor() != null) value = a.tensor();
                    if (a.f() != null) floats.put(a.name(), a.f());
                }
                default -> r.skip();
            }
        }
        double[] constant = op.equals("Constant") && value != null ? value.values(what) : null;
        return new Node(name, op, in, out, constant, Map.copyOf(floats));
    }

    /** An AttributeProto's name and, where set, its float (f) or tensor (t). */
    private record Attribute(String name, Double f, RawTensor tensor) {
    }

    private static Attribute attribute(ProtoReader r) {
        String name = null;
        Double f = null;
        RawTensor t = null;
        while (r.next()) {
            switch (r.field()) {
                case ATTR_NAME -> name = r.string();
                case ATTR_FLOAT -> f = (double) Float.intBitsToFloat(r.fixed32());
                case ATTR_TENSOR -> t = tensor(r.message("t"));
                default -> r.skip();
            }
        }
        return new Attribute(name, f, t);
    }

    /** A TensorProto as read: data either in raw_data (little-endian) or in the typed repeated fields. */
    private record RawTensor(String name, long[] dims, int type, MemorySegment raw, float[] floats, long[] ints,
                             double[] doubles, boolean external) {
        /** All values widened to double (small constants only). */
        double[] values(String what) {
            int n = Math.toIntExact(Tensor.count(dims));
            double[] out = new double[n];
            var le = java.nio.ByteOrder.LITTLE_ENDIAN;
            for (int i = 0; i < n; i++) {
                out[i] = switch (type) {
                    case FLOAT -> raw != null ? raw.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(le), 4L * i) : floats[i];
                    case DOUBLE -> raw != null ? raw.get(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(le), 8L * i) : doubles[i];
                    case INT64 -> raw != null ? raw.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(le), 8L * i) : ints[i];
                    case INT32 -> raw != null ? raw.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(le), 4L * i) : ints[i];
                    default -> Double.NaN;
                };
            }
            int perElement = switch (type) { case FLOAT, INT32 -> 4; case DOUBLE, INT64 -> 8; default -> 0; };
            int stored = raw != null ? (int) raw.byteSize() / Math.max(1, perElement)
                    : type == FLOAT ? floats.length : type == DOUBLE ? doubles.length : ints.length;
            if (perElement == 0 || stored != n) {
                throw new IllegalArgumentException(what + ": constant '" + name + "' of type " + type + " holds "
                        + stored + " values for shape " + Arrays.toString(dims));
            }
            return out;
        }
    }

    private static RawTensor tensor(ProtoReader r) {
        List<Long> dims = new ArrayList<>();
        List<Long> ints = new ArrayList<>();
        int type = 0;
        String name = "";
        MemorySegment raw = null;
        boolean external = false;
        FloatBuffer floats = new FloatBuffer();
        FloatBuffer doubles = new FloatBuffer();
        while (r.next()) {
            switch (r.field()) {
                case T_DIMS -> r.int64s(dims);
                case T_DATA_TYPE -> type = (int) r.varint();
                case T_NAME -> name = r.string();
                case T_RAW_DATA -> {
                    int start = r.lengthDelimited();
                    raw = MemorySegment.ofArray(r.array()).asSlice(start, r.lastLength());
                }
                case T_FLOAT_DATA -> r.floats(floats::add);
                case T_INT32_DATA, T_INT64_DATA -> r.int64s(ints);
                case T_DOUBLE_DATA -> r.doubles(doubles::add);
                case T_DATA_LOCATION -> external = r.varint() == 1;
                default -> r.skip();
            }
        }
        return new RawTensor(name, dims.stream().mapToLong(Long::longValue).toArray(), type, raw, floats.toArray(),
                ints.stream().mapToLong(Long::longValue).toArray(), doubles.toDoubles(), external);
    }

    /** A float initializer, or null for other data types (integer shape constants and the like). */
    private static Initializer initializer(ProtoReader r, String what) {
        RawTensor t = tensor(r);
        if (t.type() != FLOAT) return null;
        if (t.external()) throw new IllegalArgumentException(what + ": initializer '" + t.name() + "' keeps its data in an external file");
        long count = Tensor.count(t.dims());
        MemorySegment data = t.raw() != null ? t.raw() : MemorySegment.ofArray(t.floats());
        if (data.byteSize() != count * 4) {
            throw new IllegalArgumentException(what + ": initializer '" + t.name() + "' has shape " + Arrays.toString(t.dims())
                    + " but " + data.byteSize() + " data bytes (expected " + count * 4 + ")");
        }
        return new Initializer(t.name(), t.dims(), data);
    }

    /** Growable float array for float_data. */
    private static final class FloatBuffer {
        private float[] a = new float[16];
        private int n;

        void add(float v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        float[] toArray() {
            return Arrays.copyOf(a, n);
        }

        private double[] d = new double[0];
        private int dn;

        void add(double v) {
            if (dn == d.length) d = Arrays.copyOf(d, Math.max(16, dn * 2));
            d[dn++] = v;
        }

        double[] toDoubles() {
            return Arrays.copyOf(d, dn);
        }
    }

    /** The node that produces {@code output}, or null. */
    Node producer(String output) {
        for (Node n : nodes) if (n.outputs().contains(output)) return n;
        return null;
    }

    /** Nodes that read {@code value}. */
    List<Node> consumers(String value) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes) if (n.inputs().contains(value)) out.add(n);
        return out;
    }
}
