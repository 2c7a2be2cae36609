package dev.xgblora.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A Hugging Face {@code config.json}, reduced to what the BERT and Llama-family models need.
 * The original JSON is kept ({@link #raw()}) so the config can be written back unchanged.
 *
 * @param modelType        "bert", "llama", "mistral" or "qwen2"
 * @param numKvHeads       key/value heads (grouped-query attention); numHeads when absent
 * @param headDim          config head_dim, else hiddenSize / numHeads
 * @param typeVocabSize    token type vocabulary (BERT), 0 for decoders
 * @param normEps          layer_norm_eps (BERT) or rms_norm_eps (Llama family)
 * @param hiddenAct        "gelu" (erf form), "gelu_new" / "gelu_pytorch_tanh" (tanh form) or "silu"
 * @param ropeTheta        RoPE base (decoders), default 10000
 * @param ropeScaling      RoPE frequency scaling, null when none
 * @param attentionBias    q/k/v projections have biases (BERT, Qwen2, Llama with attention_bias)
 * @param attentionOutputBias the attention output projection has a bias (BERT, Llama with attention_bias)
 * @param mlpBias          the MLP projections have biases (BERT, Llama with mlp_bias)
 * @param eosTokenIds      all end-of-sequence ids (Llama 3 lists several); eosTokenId is the first
 * @param numLabels        classifier labels when the config states them (num_labels or id2label), else null
 * @param id2label         label names by id, empty when absent
 * @param attentionWindows per layer, the sliding attention window in positions (a query at i sees
 *                         keys j with i − window &lt; j ≤ i), 0 for full causal attention: Mistral's
 *                         {@code sliding_window} on every layer (null = off), Qwen2's only when
 *                         {@code use_sliding_window} and from layer {@code max_window_layers} on,
 *                         or as {@code layer_types} lists them; all 0 for BERT and Llama
 */
public record ModelConfig(
        String modelType, int vocabSize, int hiddenSize, int numLayers, int numHeads, int numKvHeads, int headDim,
        int intermediateSize, int maxPositions, int typeVocabSize, float normEps, String hiddenAct,
        double ropeTheta, RopeScaling ropeScaling, boolean tieWordEmbeddings,
        boolean attentionBias, boolean attentionOutputBias, boolean mlpBias,
        Integer padTokenId, Integer bosTokenId, Integer eosTokenId, List<Integer> eosTokenIds,
        Integer numLabels, Map<Integer, String> id2label, List<Integer> attentionWindows, ObjectNode raw) {

    public static final String FILE = "config.json";
    public static final Set<String> SUPPORTED = Set.of("bert", "llama", "mistral", "qwen2");

    /**
     * RoPE frequency scaling: "llama3" (factor, lowFreqFactor, highFreqFactor,
     * originalMaxPositions) or "linear" (factor only; the other fields 0).
     */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositions) {
    }

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        id2label = Collections.unmodifiableMap(new TreeMap<>(id2label));
        attentionWindows = List.copyOf(attentionWindows);
        raw = raw.deepCopy();
    }

    /** A copy of the original JSON. */
    @Override
    public ObjectNode raw() {
        return raw.deepCopy();
    }

    /** Sliding attention window of layer {@code layer} in positions, 0 for full attention. */
    public int attentionWindow(int layer) {
        return attentionWindows.get(layer);
    }

    public boolean isDecoder() {
        return !modelType.equals("bert");
    }

    /** Loads {@code config.json} from a file, or from a model directory. */
    public static ModelConfig load(Path configJsonOrDir) {
        Path file = Files.isDirectory(configJsonOrDir) ? configJsonOrDir.resolve(FILE) : configJsonOrDir;
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("no model config at " + file);
        JsonNode root = JsonFiles.read(file);
        if (!(root instanceof ObjectNode obj)) throw new IllegalArgumentException(file + ": not a JSON object");
        return fromJson(obj, file.toString());
    }

    /** Parses a config from its JSON; {@code where} names the source in error messages. */
    public static ModelConfig fromJson(ObjectNode json, String where) {
        Reader r = new Reader(json, where);
        String type = r.string("model_type", null);
        if (type == null) throw new IllegalArgumentException(where + ": missing 'model_type' (supported: " + supportedList() + ")");
        if (!SUPPORTED.contains(type)) {
            throw new IllegalArgumentException(where + ": unsupported model_type '" + type + "' (supported: " + supportedList() + ")");
        }
        boolean bert = type.equals("bert");
        int hidden = r.positiveInt("hidden_size");
        int heads = r.positiveInt("num_attention_heads");
        int kvHeads = bert ? heads : r.integer("num_key_value_heads", heads);
        if (kvHeads <= 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException(where + ": num_key_value_heads " + kvHeads + " must divide num_attention_heads " + heads);
        }
        Integer configHeadDim = r.integerOrNull("head_dim");
        if (configHeadDim == null && hidden % heads != 0) {
            throw new IllegalArgumentException(where + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        int headDim = configHeadDim != null ? configHeadDim : hidden / heads;
        String act = activation(r.string("hidden_act", bert ? "gelu" : "silu"), where);
        float eps = (float) (bert ? r.number("layer_norm_eps", 1e-12) : r.number("rms_norm_eps", 1e-6));
        boolean llamaBias = r.bool("attention_bias", false);
        boolean qwen = type.equals("qwen2");
        JsonNode ropeParams = json.get("rope_parameters"); // transformers v5 layout
        double theta = ropeParams != null && ropeParams.has("rope_theta")
                ? ropeParams.get("rope_theta").asDouble() : r.number("rope_theta", 10000.0);
        RopeScaling scaling = bert ? null : ropeScaling(json.has("rope_scaling") ? json.get("rope_scaling") : ropeParams, where);
        List<Integer> eos = r.intList("eos_token_id");
        Map<Integer, String> labels = r.id2label();
        Integer numLabels = r.integerOrNull("num_labels");
        if (numLabels == null && !labels.isEmpty()) numLabels = labels.size();
        int layers = r.positiveInt("num_hidden_layers");
        return new ModelConfig(type,
                r.positiveInt("vocab_size"), hidden, layers, heads, kvHeads, headDim,
                r.positiveInt("intermediate_size"), r.integer("max_position_embeddings", bert ? 512 : 2048),
                bert ? r.integer("type_vocab_size", 2) : 0, eps, act, theta, scaling,
                r.bool("tie_word_embeddings", bert),
                bert || qwen || llamaBias, bert || (!qwen && llamaBias), bert || r.bool("mlp_bias", false),
                r.integerOrNull("pad_token_id"), r.integerOrNull("bos_token_id"),
                eos.isEmpty() ? null : eos.getFirst(), eos, numLabels, labels,
                attentionWindows(r, json, type, layers, where), json);
    }

    /** Per-layer sliding windows (0 = full attention), following each architecture's config class. */
    private static List<Integer> attentionWindows(Reader r, ObjectNode json, String type, int layers, String where) {
        Integer window = switch (type) {
            case "mistral" -> r.integerOrNull("sliding_window");
            case "qwen2" -> r.bool("use_sliding_window", false) ? r.integerOrNull("sliding_window") : null;
            default -> null; // BERT and Llama have no sliding window
        };
        List<Integer> out = new ArrayList<>(Collections.nCopies(layers, 0));
        if (window == null) return out;
        if (window <= 0) throw new IllegalArgumentException(where + ": 'sliding_window' must be positive or null, got " + window);
        JsonNode types = json.get("layer_types");
        if (types != null && !types.isNull()) {
            if (!types.isArray() || types.size() != layers) {
                throw new IllegalArgumentException(where + ": 'layer_types' must list " + layers + " layers, got " + types);
            }
            for (int l = 0; l < layers; l++) {
                String t = types.get(l).asText();
                if (!t.equals("full_attention") && !t.equals("sliding_attention")) {
                    throw new IllegalArgumentException(where + ": layer_types[" + l + "] is '" + t
                            + "' (supported: full_attention, sliding_attention)");
                }
                if (t.equals("sliding_attention")) out.set(l, window);
            }
            return out;
        }
        int from = type.equals("qwen2") ? r.integer("max_window_layers", layers) : 0;
        for (int l = Math.max(0, from); l < layers; l++) out.set(l, window);
        return out;
    }

    private static String supportedList() {
        return String.join(", ", new java.util.TreeSet<>(SUPPORTED));
    }

    private static String activation(String act, String where) {
        return switch (act) {
            case "gelu", "gelu_new", "gelu_pytorch_tanh", "silu" -> act;
            case "swish" -> "silu";
            default -> throw new IllegalArgumentException(where + ": unsupported hidden_act '" + act
                    + "' (supported: gelu, gelu_new, gelu_pytorch_tanh, silu)");
        };
    }

    /** True when hiddenAct is a tanh-approximated GELU. */
    public boolean geluTanh() {
        return hiddenAct.equals("gelu_new") || hiddenAct.equals("gelu_pytorch_tanh");
    }

    private static RopeScaling ropeScaling(JsonNode node, String where) {
        if (node == null || node.isNull()) return null;
        if (!node.isObject()) throw new IllegalArgumentException(where + ": rope_scaling is not a JSON object");
        JsonNode typeNode = node.has("rope_type") ? node.get("rope_type") : node.get("type");
        String type = typeNode == null ? "default" : typeNode.asText();
        String at = where + ": rope_scaling";
        return switch (type) {
            case "default" -> null;
            case "linear" -> new RopeScaling("linear", required(node, "factor", at), 0, 0, 0);
            case "llama3" -> new RopeScaling("llama3", required(node, "factor", at),
                    required(node, "low_freq_factor", at), required(node, "high_freq_factor", at),
                    (int) required(node, "original_max_position_embeddings", at));
            default -> throw new IllegalArgumentException(at + " type '" + type
                    + "' is not supported (supported: llama3, linear, or none)");
        };
    }

    private static double required(JsonNode node, String field, String where) {
        JsonNode v = node.get(field);
        if (v == null || !v.isNumber()) throw new IllegalArgumentException(where + ": missing number '" + field + "'");
        return v.asDouble();
    }

    /**
     * RoPE inverse frequencies [headDim/2] computed in float32 exactly as Hugging Face transformers
     * does ({@code _compute_default_rope_parameters}, then {@code _compute_llama3_parameters} or the
     * linear division), so positions rotate by bit-identical angles.
     */
    public float[] ropeInvFreq() {
        int dim = headDim;
        float base = (float) ropeTheta;
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / (float) dim;           // arange(0, dim, 2).float() / dim
            float pow = (float) Math.pow(base, exponent);              // base ** exponent, float32 result
            inv[i] = 1.0f / pow;
        }
        if (ropeScaling == null) return inv;
        float factor = (float) ropeScaling.factor();
        if (ropeScaling.type().equals("linear")) {
            for (int i = 0; i < inv.length; i++) inv[i] = inv[i] / factor;
            return inv;
        }
        float low = (float) ropeScaling.lowFreqFactor();
        float high = (float) ropeScaling.highFreqFactor();
        float oldContext = ropeScaling.originalMaxPositions();
        // Python-float thresholds compared against a float32 tensor: torch casts them to float32.
        float lowWavelen = (float) (ropeScaling.originalMaxPositions() / ropeScaling.lowFreqFactor());
        float highWavelen = (float) (ropeScaling.originalMaxPositions() / ropeScaling.highFreqFactor());
        float twoPi = (float) (2 * Math.PI);
        for (int i = 0; i < inv.length; i++) {
            float wavelen = twoPi / inv[i];
            float scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
            boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            if (medium) {
                float smooth = (oldContext / wavelen - low) / (high - low);
                scaled = (1f - smooth) * scaled / factor + smooth * scaled;
            }
            inv[i] = scaled;
        }
        return inv;
    }

    /**
     * A new config from an edited copy of the JSON, e.g. to record classifier labels before saving:
     * {@code cfg.with(j -> j.put("num_labels", 2))}. The edit is validated like a loaded file.
     */
    public ModelConfig with(java.util.function.Consumer<ObjectNode> edit) {
        ObjectNode copy = raw.deepCopy();
        edit.accept(copy);
        return fromJson(copy, "edited " + modelType + " config");
    }

    /** The original config JSON, pretty-printed. */
    public String toJson() {
        try {
            return SafeTensorsHeader.JSON.writer(SerializationFeature.INDENT_OUTPUT).writeValueAsString(raw) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes {@code config.json} into {@code dir} atomically; returns the file. */
    public Path write(Path dir) {
        Path file = dir.resolve(FILE);
        AtomicFiles.writeString(file, toJson());
        return file;
    }

    /** Typed field access with errors naming the file and the field. */
    private record Reader(ObjectNode json, String where) {
        String string(String field, String dflt) {
            JsonNode v = json.get(field);
            if (v == null || v.isNull()) return dflt;
            if (!v.isTextual()) throw new IllegalArgumentException(where + ": '" + field + "' must be a string, got " + v);
            return v.asText();
        }

        Integer integerOrNull(String field) {
            JsonNode v = json.get(field);
            if (v == null || v.isNull()) return null;
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new IllegalArgumentException(where + ": '" + field + "' must be an integer, got " + v);
            }
            return v.asInt();
        }

        int integer(String field, int dflt) {
            Integer v = integerOrNull(field);
            return v == null ? dflt : v;
        }

        int positiveInt(String field) {
            Integer v = integerOrNull(field);
            if (v == null) throw new IllegalArgumentException(where + ": missing '" + field + "'");
            if (v <= 0) throw new IllegalArgumentException(where + ": '" + field + "' must be positive, got " + v);
            return v;
        }

        double number(String field, double dflt) {
            JsonNode v = json.get(field);
            if (v == null || v.isNull()) return dflt;
            if (!v.isNumber()) throw new IllegalArgumentException(where + ": '" + field + "' must be a number, got " + v);
            return v.asDouble();
        }

        boolean bool(String field, boolean dflt) {
            JsonNode v = json.get(field);
            if (v == null || v.isNull()) return dflt;
            if (!v.isBoolean()) throw new IllegalArgumentException(where + ": '" + field + "' must be true or false, got " + v);
            return v.asBoolean();
        }

        /** An integer or a list of integers (eos_token_id), as a list. */
        List<Integer> intList(String field) {
            JsonNode v = json.get(field);
            List<Integer> out = new ArrayList<>();
            if (v == null || v.isNull()) return out;
            if (v.isArray()) {
                for (JsonNode x : v) {
                    if (!x.isIntegralNumber()) throw new IllegalArgumentException(where + ": '" + field + "' has non-integer " + x);
                    out.add(x.asInt());
                }
            } else {
                out.add(integerOrNull(field));
            }
            return out;
        }

        Map<Integer, String> id2label() {
            JsonNode v = json.get("id2label");
            Map<Integer, String> out = new TreeMap<>();
            if (v == null || v.isNull()) return out;
            if (!v.isObject()) throw new IllegalArgumentException(where + ": 'id2label' must be an object");
            for (Map.Entry<String, JsonNode> e : v.properties()) {
                try {
                    out.put(Integer.parseInt(e.getKey()), e.getValue().asText());
                } catch (NumberFormatException ex) {
                    throw new IllegalArgumentException(where + ": id2label key '" + e.getKey() + "' is not an integer");
                }
            }
            return out;
        }
    }
}
