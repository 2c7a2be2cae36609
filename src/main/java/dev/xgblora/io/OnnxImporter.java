package dev.xgblora.io;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Imports a BERT-family ONNX graph (as exported from PyTorch by transformers / optimum) into a
 * Hugging Face style model directory: {@code config.json}, {@code model.safetensors} with the
 * usual BertModel tensor names and Linear weights as [out, in], and {@code tokenizer.json}.
 *
 * <p>Linear weights are MatMul initializers ([in, out], named {@code onnx::MatMul_N}); each is
 * named by following the graph to the Add that applies its bias (whose initializer carries the
 * PyTorch parameter name), falling back to the MatMul node's name. Hyper-parameters not visible in
 * shapes come from graph constants: heads from the attention Reshape, eps from the LayerNorm, the
 * activation from Erf (exact GELU) or Tanh (tanh GELU).
 */
public final class OnnxImporter {
    private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");

    /** The 16 tensors of one encoder layer, relative to {@code encoder.layer.N.}. */
    public static final List<String> LAYER_TENSORS = List.of(
            "attention.self.query.weight", "attention.self.query.bias",
            "attention.self.key.weight", "attention.self.key.bias",
            "attention.self.value.weight", "attention.self.value.bias",
            "attention.output.dense.weight", "attention.output.dense.bias",
            "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
            "intermediate.dense.weight", "intermediate.dense.bias",
            "output.dense.weight", "output.dense.bias",
            "output.LayerNorm.weight", "output.LayerNorm.bias");

    public static final List<String> EMBEDDING_TENSORS = List.of(
            "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias");

    private OnnxImporter() {
    }

    /**
     * Ops of the BERT graphs transformers / optimum export (embeddings, attention, GELU by Erf or
     * Tanh, LayerNorm unfused or fused, shape arithmetic). A graph with any other op computes
     * something the imported BertModel would not, so it is refused.
     */
    static final Set<String> SUPPORTED_OPS = new TreeSet<>(List.of("Add", "Cast", "Concat", "Constant", "ConstantOfShape", "Div",
            "Equal", "Erf", "Expand", "Gather", "LayerNormalization", "MatMul", "Mul", "Pow", "ReduceMean", "Reshape", "Shape",
            "Slice", "Softmax", "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Where"));

    /** Imports all-MiniLM-L6-v2 from its Maven jar into outDir (config.json, model.safetensors, tokenizer.json). */
    public static void importMiniLm(Path outDir) {
        importKnown(OnnxModels.MINILM, outDir);
    }

    /** Imports one of the {@link OnnxModels} from its Maven jar (class path or local repository) into outDir. */
    public static void importKnown(OnnxModels.Known m, Path outDir) {
        try (InputStream onnx = m.open(m.onnxEntry()); InputStream tok = m.open(m.tokenizerEntry())) {
            importBert(onnx, tok, outDir, m.onnxEntry(), m.hubId());
            // say how its sentence embeddings pool (xgblora embed and sentence-transformers read it)
            SentencePooling.writeEmbeddingModel(outDir, ModelConfig.load(outDir).hiddenSize(), m.pooling());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the " + m.name() + " files: " + e.getMessage(), e);
        }
    }

    /** Imports a BERT ONNX graph and its tokenizer.json into outDir (created if needed; files replaced atomically). */
    public static void importBert(InputStream onnx, InputStream tokenizerJson, Path outDir) {
        importBert(onnx, tokenizerJson, outDir, "ONNX model", null);
    }

    /**
     * As {@link #importBert(InputStream, InputStream, Path)}; {@code what} names the ONNX file in
     * messages, {@code hubId} (may be null) goes into config.json as {@code _name_or_path}.
     */
    public static void importBert(InputStream onnx, InputStream tokenizerJson, Path outDir, String what, String hubId) {
        byte[] model;
        byte[] tokenizer;
        try {
            model = onnx.readAllBytes();
            tokenizer = tokenizerJson.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the ONNX model or tokenizer: " + e.getMessage(), e);
        }
        OnnxGraph graph = OnnxGraph.parse(model, what);
        requireSupportedOps(graph, what);
        Map<String, Tensor> tensors;
        ObjectNode config;
        try {
            tensors = bertTensors(graph);
            config = bertConfig(graph, tensors, tokenizer);
        } catch (IllegalArgumentException e) {
            // the graph readers say "ONNX model: ..."; name the file instead
            String m = e.getMessage();
            if (m != null && m.startsWith("ONNX model:")) throw new IllegalArgumentException(what + m.substring("ONNX model".length()), e);
            throw e;
        }
        if (hubId != null) config.put("_name_or_path", hubId);
        ModelConfig.fromJson(config, "imported config"); // validates what we are about to write
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + outDir + ": " + e.getMessage(), e);
        }
        SafeTensorsWriter.write(outDir.resolve(WeightStore.SINGLE_FILE), tensors, Map.of("format", "pt"));
        AtomicFiles.writeBytes(outDir.resolve(Tokenizer.FILE), tokenizer);
        ModelConfig.fromJson(config, "imported config").write(outDir);
    }

    /** Refuses a graph with an op outside {@link #SUPPORTED_OPS}, naming the file, the node and the op. */
    static void requireSupportedOps(OnnxGraph graph, String what) {
        for (OnnxGraph.Node n : graph.nodes()) {
            if (!SUPPORTED_OPS.contains(n.opType())) {
                throw new IllegalArgumentException(what + ": node '" + n.name() + "' uses op " + n.opType()
                        + ", which the BERT importer does not support (it knows " + String.join(", ", SUPPORTED_OPS) + ")");
            }
        }
    }

    /** HF BertModel tensors in a stable order: embeddings, then each layer's 16 tensors. */
    static Map<String, Tensor> bertTensors(OnnxGraph graph) {
        Map<String, Tensor> byName = new TreeMap<>();
        for (OnnxGraph.Initializer init : graph.initializers().values()) {
            if (isParameterName(init.name())) byName.put(init.name(), init.tensor());
        }
        for (OnnxGraph.Node n : graph.nodes()) {
            if (!n.opType().equals("MatMul") || n.inputs().size() != 2) continue;
            OnnxGraph.Initializer w = graph.initializers().get(n.inputs().get(1));
            if (w == null || w.dims().length != 2) continue;
            String name = linearWeightName(graph, n);
            Tensor transposed = w.tensor().transposeLast2().copy().named(name);  // [in,out] -> [out,in]
            if (byName.put(name, transposed) != null) {
                throw new IllegalArgumentException("ONNX model: two tensors map to '" + name + "' (MatMul " + n.name() + ")");
            }
        }
        Map<String, Tensor> ordered = new LinkedHashMap<>();
        for (String e : EMBEDDING_TENSORS) ordered.put(e, require(byName, e));
        int layers = countLayers(byName.keySet());
        for (int l = 0; l < layers; l++) {
            for (String t : LAYER_TENSORS) {
                String name = "encoder.layer." + l + "." + t;
                ordered.put(name, require(byName, name));
            }
        }
        for (var e : byName.entrySet()) ordered.putIfAbsent(e.getKey(), e.getValue()); // e.g. a pooler
        return ordered;
    }

    private static boolean isParameterName(String name) {
        return !name.startsWith("onnx::") && !name.startsWith("/") && name.contains(".");
    }

    /** The HF name of a MatMul's weight: from the bias added to its output, else from the node name. */
    private static String linearWeightName(OnnxGraph graph, OnnxGraph.Node matmul) {
        String out = matmul.outputs().getFirst();
        for (OnnxGraph.Node c : graph.consumers(out)) {
            if (!c.opType().equals("Add")) continue;
            for (String in : c.inputs()) {
                if (!in.equals(out) && in.endsWith(".bias") && graph.initializers().containsKey(in)) {
                    return in.substring(0, in.length() - ".bias".length()) + ".weight";
                }
            }
        }
        // "/encoder/layer.0/attention/self/query/MatMul" -> "encoder.layer.0.attention.self.query.weight"
        String node = matmul.name();
        int slash = node.lastIndexOf('/');
        if (node.startsWith("/") && slash > 0) return node.substring(1, slash).replace('/', '.') + ".weight";
        throw new IllegalArgumentException("ONNX model: cannot name the weight of MatMul node '" + node
                + "' (no bias Add follows it and the node name has no module path)");
    }

    private static int countLayers(Iterable<String> names) {
        TreeSet<Integer> layers = new TreeSet<>();
        for (String n : names) {
            Matcher m = LAYER.matcher(n);
            if (m.find()) layers.add(Integer.parseInt(m.group(1)));
        }
        if (layers.isEmpty()) throw new IllegalArgumentException("ONNX model: no encoder.layer.N tensors: not a BERT graph");
        if (layers.first() != 0 || layers.last() != layers.size() - 1) {
            throw new IllegalArgumentException("ONNX model: encoder layers are not numbered 0.." + (layers.size() - 1) + ": " + layers);
        }
        return layers.size();
    }

    private static Tensor require(Map<String, Tensor> byName, String name) {
        Tensor t = byName.get(name);
        if (t == null) {
            throw new IllegalArgumentException("ONNX model: no tensor for '" + name + "' (found " + byName.size()
                    + " tensors, e.g. " + byName.keySet().stream().limit(5).toList() + ")");
        }
        return t;
    }

    /** config.json of a BertModel, from tensor shapes and graph constants. */
    static ObjectNode bertConfig(OnnxGraph graph, Map<String, Tensor> t, byte[] tokenizerJson) {
        long[] word = t.get("embeddings.word_embeddings.weight").shape();
        int hidden = (int) word[1];
        int heads = attentionHeads(graph, hidden);
        ObjectNode c = SafeTensorsHeader.newObject();
        c.putArray("architectures").add("BertModel");
        c.put("model_type", "bert");
        c.put("vocab_size", word[0]);
        c.put("hidden_size", hidden);
        c.put("num_hidden_layers", countLayers(t.keySet()));
        c.put("num_attention_heads", heads);
        c.put("intermediate_size", t.get("encoder.layer.0.intermediate.dense.weight").dim(0));
        c.put("max_position_embeddings", t.get("embeddings.position_embeddings.weight").dim(0));
        c.put("type_vocab_size", t.get("embeddings.token_type_embeddings.weight").dim(0));
        c.put("layer_norm_eps", layerNormEps(graph));
        c.put("hidden_act", activation(graph));
        c.put("position_embedding_type", "absolute");
        c.put("pad_token_id", padId(tokenizerJson));
        c.put("torch_dtype", "float32");
        return c;
    }

    /** Heads from the constant [.., .., heads, headDim] shape that a layer-0 attention Reshape uses. */
    private static int attentionHeads(OnnxGraph graph, int hidden) {
        for (OnnxGraph.Node n : graph.nodes()) {
            if (!n.opType().equals("Concat") || !n.name().startsWith("/encoder/layer.0/attention/self/")) continue;
            List<Double> consts = new ArrayList<>();
            for (String in : n.inputs()) {
                OnnxGraph.Node p = graph.producer(in);
                if (p != null && p.constant() != null && p.constant().length == 1) consts.add(p.constant()[0]);
            }
            if (consts.size() == 2 && n.inputs().size() == 4) {
                int heads = consts.get(0).intValue();
                int headDim = consts.get(1).intValue();
                if (heads > 0 && heads * headDim == hidden) return heads;
            }
        }
        throw new IllegalArgumentException("ONNX model: cannot find the number of attention heads "
                + "(no layer-0 attention Reshape to [batch, seq, heads, headDim] with constant heads, headDim)");
    }

    /**
     * eps: a fused LayerNormalization's epsilon attribute, else the constant added to the variance
     * in the first unfused LayerNorm (ReduceMean -> Add eps -> Sqrt).
     */
    private static double layerNormEps(OnnxGraph graph) {
        for (OnnxGraph.Node n : graph.nodes()) {
            if (n.opType().equals("LayerNormalization")) {
                double eps = n.floats().getOrDefault("epsilon", 1e-5); // the ONNX default
                return Double.parseDouble(Float.toString((float) eps));
            }
        }
        for (OnnxGraph.Node n : graph.nodes()) {
            if (!n.opType().equals("Sqrt")) continue;
            OnnxGraph.Node add = graph.producer(n.inputs().getFirst());
            if (add == null || !add.opType().equals("Add")) continue;
            for (String in : add.inputs()) {
                OnnxGraph.Node p = graph.producer(in);
                if (p != null && p.constant() != null && p.constant().length == 1) {
                    return Double.parseDouble(Float.toString((float) p.constant()[0])); // 1e-12f -> 1.0E-12
                }
            }
        }
        throw new IllegalArgumentException("ONNX model: cannot find the LayerNorm epsilon (no Add(var, eps) -> Sqrt pattern)");
    }

    private static String activation(OnnxGraph graph) {
        boolean erf = graph.nodes().stream().anyMatch(n -> n.opType().equals("Erf"));
        boolean tanh = graph.nodes().stream().anyMatch(n -> n.opType().equals("Tanh"));
        if (erf) return "gelu";
        if (tanh) return "gelu_new";
        throw new IllegalArgumentException("ONNX model: no Erf or Tanh node: the FFN activation is not a GELU this importer knows");
    }

    private static int padId(byte[] tokenizerJson) {
        try {
            var root = SafeTensorsHeader.JSON.readTree(tokenizerJson);
            var padding = root.get("padding");
            if (padding != null && padding.has("pad_id")) return padding.get("pad_id").asInt();
            var vocab = root.path("model").path("vocab");
            if (vocab.has("[PAD]")) return vocab.get("[PAD]").asInt();
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer.json is not valid JSON: " + e.getMessage());
        }
        return 0;
    }
}
