package dev.xgblora.io;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.util.PairList;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A Hugging Face {@code tokenizer.json}, run by the Rust tokenizers library (through DJL, whose
 * jar bundles the native library), so token ids match Python exactly. The vocabulary, special
 * tokens and pad id are read from the JSON directly.
 */
public final class Tokenizer implements AutoCloseable {
    public static final String FILE = "tokenizer.json";

    static {
        // DJL logs through SLF4J; with no logging backend on the class path SLF4J prints a warning on
        // every run. Select SLF4J's own no-op provider then, quietly (SLF4J >= 2.0.9 honours these properties).
        ClassLoader cl = Tokenizer.class.getClassLoader();
        if (System.getProperty("slf4j.provider") == null && cl != null
                && cl.getResource("META-INF/services/org.slf4j.spi.SLF4JServiceProvider") == null) {
            System.setProperty("slf4j.provider", "org.slf4j.helpers.NOP_FallbackServiceProvider");
            if (System.getProperty("slf4j.internal.verbosity") == null) System.setProperty("slf4j.internal.verbosity", "WARN");
        }
    }

    private final Path file;
    private final Map<String, Integer> vocab;
    private final int vocabSize;
    private final int padId;
    private final HuggingFaceTokenizer plain;
    /** One truncating instance per max length (the native tokenizer holds truncation as state). */
    private final Map<Integer, HuggingFaceTokenizer> truncating = new ConcurrentHashMap<>();

    /** Token ids of a batch, padded to its longest row; typeIds are the segment ids (0 or 1). */
    public record Batch(int[][] ids, int[][] attentionMask, int[][] typeIds) {
        public int size() {
            return ids.length;
        }

        /** Padded row length (the longest row in the batch). */
        public int length() {
            return ids.length == 0 ? 0 : ids[0].length;
        }
    }

    private Tokenizer(Path file, Map<String, Integer> vocab, int vocabSize, int padId, HuggingFaceTokenizer plain) {
        this.file = file;
        this.vocab = vocab;
        this.vocabSize = vocabSize;
        this.padId = padId;
        this.plain = plain;
    }

    /** Loads {@code tokenizer.json}, given the file or the model directory holding it. */
    public static Tokenizer load(Path tokenizerJsonOrDir) {
        Path file = Files.isDirectory(tokenizerJsonOrDir) ? tokenizerJsonOrDir.resolve(FILE) : tokenizerJsonOrDir;
        file = file.toAbsolutePath();
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("no tokenizer at " + file);
        JsonNode root = JsonFiles.read(file);
        Map<String, Integer> vocab = readVocab(root, file);
        int size = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        int pad = padId(root, vocab);
        return new Tokenizer(file, Collections.unmodifiableMap(vocab), size, pad, create(file, null));
    }

    /** model.vocab (a map for WordPiece/BPE, a [token, score] list for Unigram) plus added_tokens. */
    private static Map<String, Integer> readVocab(JsonNode root, Path file) {
        Map<String, Integer> vocab = new HashMap<>();
        JsonNode v = root.path("model").path("vocab");
        if (v.isObject()) {
            for (Map.Entry<String, JsonNode> e : v.properties()) vocab.put(e.getKey(), e.getValue().asInt());
        } else if (v.isArray()) {
            for (int i = 0; i < v.size(); i++) {
                JsonNode entry = v.get(i);
                if (!entry.isArray() || !entry.path(0).isTextual()) {
                    throw new IllegalArgumentException(file + ": model.vocab[" + i + "] is not a [token, score] pair");
                }
                vocab.put(entry.get(0).asText(), i);
            }
        } else {
            throw new IllegalArgumentException(file + ": no model.vocab in tokenizer.json");
        }
        for (JsonNode t : root.path("added_tokens")) vocab.put(t.path("content").asText(), t.path("id").asInt());
        return vocab;
    }

    /** padding.pad_id when the file configures padding, else a conventional pad token, else 0. */
    private static int padId(JsonNode root, Map<String, Integer> vocab) {
        JsonNode padding = root.get("padding");
        if (padding != null && padding.has("pad_id")) return padding.get("pad_id").asInt();
        for (String t : List.of("[PAD]", "<pad>", "<|pad|>", "<|finetune_right_pad_id|>", "<|endoftext|>", "</s>")) {
            Integer id = vocab.get(t);
            if (id != null) return id;
        }
        return 0;
    }

    private static HuggingFaceTokenizer create(Path file, Integer maxLength) {
        Map<String, String> options = new HashMap<>();
        options.put("addSpecialTokens", "true");
        options.put("padding", "false");
        if (maxLength == null) {
            options.put("truncation", "false");
        } else {
            options.put("truncation", "true");
            options.put("maxLength", Integer.toString(maxLength));
            options.put("modelMaxLength", Integer.toString(maxLength));
        }
        try {
            return HuggingFaceTokenizer.newInstance(file, options);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load tokenizer " + file, e);
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            throw new IllegalStateException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    /** Token ids of one text, with the tokenizer's special tokens ([CLS] ... [SEP], BOS) when asked. */
    public int[] encode(String text, boolean addSpecialTokens) {
        return toInts(plain.encode(text, addSpecialTokens, false).getIds());
    }

    /**
     * Encodes texts (and optional second segments) with special tokens, each truncated to at most
     * maxLength tokens (longest segment first), padded with {@link #padId()} to the batch's longest row.
     */
    public Batch encodeBatch(List<String> texts, List<String> pairsOrNull, int maxLength) {
        if (maxLength < 2) throw new IllegalArgumentException("maxLength must be at least 2, got " + maxLength);
        if (pairsOrNull != null && pairsOrNull.size() != texts.size()) {
            throw new IllegalArgumentException(texts.size() + " texts but " + pairsOrNull.size() + " pairs");
        }
        HuggingFaceTokenizer tok = truncating.computeIfAbsent(maxLength, n -> create(file, n));
        Encoding[] enc;
        if (pairsOrNull == null) {
            enc = tok.batchEncode(texts, true, false);
        } else {
            enc = tok.batchEncode(new PairList<>(texts, pairsOrNull), true, false);
        }
        int longest = 0;
        for (Encoding e : enc) longest = Math.max(longest, e.getIds().length);
        int[][] ids = new int[enc.length][longest];
        int[][] mask = new int[enc.length][longest];
        int[][] types = new int[enc.length][longest];
        for (int i = 0; i < enc.length; i++) {
            long[] id = enc[i].getIds();
            long[] ty = enc[i].getTypeIds();
            java.util.Arrays.fill(ids[i], padId);
            for (int j = 0; j < id.length; j++) {
                ids[i][j] = Math.toIntExact(id[j]);
                mask[i][j] = 1;
                types[i][j] = (int) ty[j];
            }
        }
        return new Batch(ids, mask, types);
    }

    /** Text of the ids, special tokens skipped. */
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return plain.decode(l, true);
    }

    public int padId() {
        return padId;
    }

    /** The id of a vocabulary or added token, or null when the tokenizer does not know it. */
    public Integer tokenId(String token) {
        return vocab.get(token);
    }

    /** One more than the largest token id (vocabulary plus added tokens). */
    public int vocabSize() {
        return vocabSize;
    }

    public Path file() {
        return file;
    }

    private static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    @Override
    public void close() {
        plain.close();
        truncating.values().forEach(HuggingFaceTokenizer::close);
        truncating.clear();
    }
}
