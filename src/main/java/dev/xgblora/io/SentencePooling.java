package dev.xgblora.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The sentence-transformers files that say how a model pools: {@code modules.json} and the Pooling
 * module's {@code config.json} ({@code 1_Pooling/} by convention). xgblora pools by mean over the
 * attention mask or by the CLS token.
 */
public final class SentencePooling {
    public static final String MODULES = "modules.json", POOLING_DIR = "1_Pooling";
    public static final String TRANSFORMER = "sentence_transformers.models.Transformer";
    public static final String POOLING = "sentence_transformers.models.Pooling";
    public static final String NORMALIZE = "sentence_transformers.models.Normalize";
    private static final ObjectMapper JSON = new ObjectMapper();

    public enum Mode { MEAN, CLS }

    private SentencePooling() {
    }

    /** Writes {@code dir}/1_Pooling/config.json for {@code mode} over {@code dim}-wide token states. */
    public static void writeConfig(Path dir, int dim, Mode mode) throws IOException {
        ObjectNode pool = JSON.createObjectNode();
        pool.put("word_embedding_dimension", dim);
        pool.put("pooling_mode_cls_token", mode == Mode.CLS);
        pool.put("pooling_mode_mean_tokens", mode == Mode.MEAN);
        for (String m : new String[]{"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
            pool.put(m, false);
        }
        pool.put("include_prompt", true);
        Files.createDirectories(dir.resolve(POOLING_DIR));
        writeJson(dir.resolve(POOLING_DIR).resolve("config.json"), pool);
    }

    /** Appends a module entry (idx = its position) to a modules.json array. */
    public static void module(ArrayNode modules, String path, String type) {
        ObjectNode m = modules.addObject();
        m.put("idx", modules.size() - 1);
        m.put("name", String.valueOf(modules.size() - 1));
        m.put("path", path);
        m.put("type", type);
    }

    /** The sentence-embedding layout of an imported encoder: modules.json (Transformer, Pooling, Normalize) and 1_Pooling. */
    public static void writeEmbeddingModel(Path dir, int dim, Mode mode) throws IOException {
        ArrayNode modules = JSON.createArrayNode();
        module(modules, "", TRANSFORMER);
        module(modules, POOLING_DIR, POOLING);
        module(modules, "2_Normalize", NORMALIZE);
        writeJson(dir.resolve(MODULES), modules);
        writeConfig(dir, dim, mode);
        Files.createDirectories(dir.resolve("2_Normalize"));
    }

    /** Reads a Pooling module's config.json: exactly one of mean and CLS, nothing else, or an error naming the file. */
    public static Mode read(Path poolingConfig) {
        JsonNode pool = JsonFiles.read(poolingConfig);
        boolean mean = pool.path("pooling_mode_mean_tokens").asBoolean(false), cls = pool.path("pooling_mode_cls_token").asBoolean(false);
        for (var it = pool.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (f.startsWith("pooling_mode_") && !f.equals("pooling_mode_mean_tokens") && !f.equals("pooling_mode_cls_token")
                    && pool.get(f).asBoolean(false)) {
                throw new IllegalArgumentException(poolingConfig + ": " + f + " is not supported (xgblora pools by mean or CLS token)");
            }
        }
        if (mean == cls) {
            throw new IllegalArgumentException(poolingConfig + ": expected exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token"
                    + " to be true, found mean=" + mean + ", cls=" + cls);
        }
        return mean ? Mode.MEAN : Mode.CLS;
    }

    /** The pooling {@code modelDir}'s modules.json names, or null when it has no modules.json or no Pooling module. */
    public static Mode ofModel(Path modelDir) {
        Path file = modelDir.resolve(MODULES);
        if (!Files.isRegularFile(file)) return null;
        for (JsonNode m : JsonFiles.read(file)) {
            if (POOLING.equals(m.path("type").asText())) return read(modelDir.resolve(m.path("path").asText("")).resolve("config.json"));
        }
        return null;
    }

    static void writeJson(Path file, JsonNode json) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
    }
}
