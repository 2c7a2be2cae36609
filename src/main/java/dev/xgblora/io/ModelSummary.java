package dev.xgblora.io;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** A human-readable description of a model directory (config.json + safetensors). */
public final class ModelSummary {
    private ModelSummary() {
    }

    /** Architecture, layers, hidden size, heads, KV heads, parameter count, dtypes, bytes mapped. */
    public static String describe(Path modelDir) {
        StringBuilder b = new StringBuilder();
        line(b, "model", modelDir.toAbsolutePath().normalize().toString());
        Path configFile = Files.isDirectory(modelDir) ? modelDir.resolve(ModelConfig.FILE) : null;
        if (configFile != null && Files.isRegularFile(configFile)) {
            ModelConfig c = ModelConfig.load(configFile);
            String arch = c.raw().path("architectures").path(0).asText("");
            line(b, "architecture", c.modelType() + (c.isDecoder() ? " (decoder)" : " (encoder)") + (arch.isEmpty() ? "" : ", " + arch));
            line(b, "layers", Integer.toString(c.numLayers()));
            line(b, "hidden size", Integer.toString(c.hiddenSize()));
            line(b, "heads", c.numHeads() + " (head dim " + c.headDim() + ")");
            line(b, "KV heads", Integer.toString(c.numKvHeads()));
            line(b, "FFN size", c.intermediateSize() + ", " + c.hiddenAct());
            line(b, "vocabulary", Integer.toString(c.vocabSize()));
            line(b, "max positions", Integer.toString(c.maxPositions()));
            if (c.isDecoder()) {
                line(b, "RoPE", "theta " + c.ropeTheta() + (c.ropeScaling() == null ? "" : ", " + c.ropeScaling().type()
                        + " x" + c.ropeScaling().factor()) + (c.tieWordEmbeddings() ? ", tied embeddings" : ""));
                line(b, "attention", attentionSpan(c));
            }
        } else {
            line(b, "architecture", "unknown (no config.json)");
        }
        try (WeightStore ws = WeightStore.open(modelDir)) {
            long params = 0;
            Map<String, Integer> dtypes = new TreeMap<>();
            for (String n : ws.names()) {
                long count = 1;
                for (long d : ws.shape(n)) count *= d;
                params += count;
                dtypes.merge(ws.dtypeName(n), 1, Integer::sum);
            }
            line(b, "tensors", Integer.toString(ws.names().size()));
            line(b, "parameters", String.format(Locale.ROOT, "%,d (%.1f M)", params, params / 1e6));
            StringBuilder dt = new StringBuilder();
            dtypes.forEach((k, v) -> dt.append(dt.isEmpty() ? "" : ", ").append(k).append(" x").append(v));
            line(b, "dtypes", dt.toString());
            line(b, "mapped", String.format(Locale.ROOT, "%,d bytes (%.1f MiB)", ws.mappedBytes(), ws.mappedBytes() / 1048576.0));
        }
        return b.toString();
    }

    /** "full causal", or the sliding window and which layers use it. */
    private static String attentionSpan(ModelConfig c) {
        int windowed = 0, window = 0;
        for (int l = 0; l < c.numLayers(); l++) {
            if (c.attentionWindow(l) > 0) {
                windowed++;
                window = c.attentionWindow(l);
            }
        }
        if (windowed == 0) return "full causal";
        return "sliding window " + window + " positions"
                + (windowed == c.numLayers() ? "" : " on " + windowed + " of " + c.numLayers() + " layers");
    }

    private static void line(StringBuilder b, String key, String value) {
        b.append(String.format(Locale.ROOT, "%-14s%s%n", key, value));
    }
}
