package dev.xgblora.io;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Models imported once under {@code ${XGBLORA_HOME:-~/.cache/xgblora}/models} (the system property
 * {@code xgblora.home} overrides both). Imports go to a temporary directory renamed into place, so
 * a cache directory is either complete or absent.
 */
public final class ModelCache {
    public static final String MINILM = "all-minilm-l6-v2";
    private static final List<String> MODEL_FILES = List.of(ModelConfig.FILE, WeightStore.SINGLE_FILE, Tokenizer.FILE);

    private ModelCache() {
    }

    /** The xgblora home directory (not created). */
    public static Path home() {
        String prop = System.getProperty("xgblora.home");
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        String env = System.getenv("XGBLORA_HOME");
        if (env != null && !env.isBlank()) return Path.of(env);
        return Path.of(System.getProperty("user.home"), ".cache", "xgblora");
    }

    /** Where all-MiniLM-L6-v2 is (or will be) imported. */
    public static Path miniLmDir() {
        return home().resolve("models").resolve(MINILM);
    }

    /** The imported all-MiniLM-L6-v2 directory, importing it on first use. */
    public static Path miniLm() {
        Path dir = miniLmDir();
        if (!Files.exists(dir)) AtomicFiles.writeDirectory(dir, OnnxImporter::importMiniLm);
        for (String f : MODEL_FILES) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new IllegalStateException(dir + " exists but has no " + f + "; delete it to import again");
            }
        }
        return dir;
    }
}
