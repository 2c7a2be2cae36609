package dev.xgblora.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Which base model a run, checkpoint or adapter belongs to: its Hugging Face id when known
 * (config.json's {@code _name_or_path}, which imports set; the bundled MiniLM's cache directory),
 * and a SHA-256 over its weight files, so that applying an export to a different base is caught.
 */
public final class ModelIdentity {
    /** Hugging Face id of the bundled all-MiniLM-L6-v2. */
    public static final String MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2";
    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][\\w.-]*/[\\w.-]+");
    private static final Map<String, String> HASHES = new ConcurrentHashMap<>();

    private ModelIdentity() {
    }

    /** The Hugging Face id of a model directory, or null when unknown. */
    public static String hubId(Path modelDir) {
        Path config = modelDir.resolve(ModelConfig.FILE);
        if (Files.isRegularFile(config)) {
            String name = JsonFiles.read(config).path("_name_or_path").asText("");
            if (HUB_ID.matcher(name).matches() && !Files.exists(Path.of(name))) return name;
        }
        try {
            if (Files.isDirectory(ModelCache.miniLmDir()) && Files.isSameFile(modelDir, ModelCache.miniLmDir())) return MINILM_HUB_ID;
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    /** What a PEFT adapter in {@code adapterDir} names as its base: the hub id, else the base's path relative to the adapter. */
    public static String baseReference(Path modelDir, Path adapterDir) {
        String id = hubId(modelDir);
        if (id != null) return id;
        return adapterDir.toAbsolutePath().normalize().relativize(modelDir.toAbsolutePath().normalize()).toString();
    }

    /** The weight files that define a model: its *.safetensors files, sorted by name (none for a directory without weights, e.g. a test model held in memory). */
    public static List<Path> weightFiles(Path modelDir) {
        if (!Files.isDirectory(modelDir)) return List.of();
        try (Stream<Path> s = Files.list(modelDir)) {
            List<Path> files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p)).sorted().toList();
            return files;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + modelDir, e);
        }
    }

    /**
     * SHA-256 over the model's weight files (each file's name, then its bytes), hex; null when the
     * directory has none. Computed once per file set and modification time in a process.
     */
    public static String sha256(Path modelDir) {
        List<Path> files = weightFiles(modelDir);
        if (files.isEmpty()) return null;
        StringBuilder key = new StringBuilder();
        try {
            for (Path f : files) key.append(f.toAbsolutePath()).append('|').append(Files.size(f)).append('|').append(Files.getLastModifiedTime(f)).append(';');
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + modelDir, e);
        }
        return HASHES.computeIfAbsent(key.toString(), k -> digest(files));
    }

    private static String digest(List<Path> files) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[1 << 20];
        for (Path f : files) {
            md.update(f.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            md.update((byte) 0);
            try (InputStream in = Files.newInputStream(f)) {
                for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + f, e);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * Refuses to apply {@code what} (a checkpoint or adapter, recorded against base hash
     * {@code recorded}) to {@code modelDir} when its weights hash differently. No record = no check.
     */
    public static void requireSameBase(String what, String recorded, Path modelDir) {
        if (recorded == null || recorded.isEmpty()) return;
        String actual = sha256(modelDir);
        if (actual != null && !recorded.equals(actual)) {
            throw new IllegalArgumentException(what + " was made on a base model whose weights have SHA-256 " + recorded
                    + ", but " + modelDir + " (" + weightFiles(modelDir).stream().map(p -> p.getFileName().toString()).toList()
                    + ") has " + actual + ": a different base model; use the one the run trained on");
        }
    }
}
