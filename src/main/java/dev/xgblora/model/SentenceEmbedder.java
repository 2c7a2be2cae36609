package dev.xgblora.model;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.SentencePooling;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;

/**
 * Sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2 and its kin:
 * tokenize (truncate to maxLength, pad to the batch's longest row) → encoder → mean pooling over
 * the attention mask, or the CLS token when the model's modules.json says so (bge) → L2
 * normalization. Not thread-safe (the encoder reuses its buffers).
 */
public final class SentenceEmbedder implements AutoCloseable {
    private final BertEncoder encoder;
    private final Tokenizer tokenizer;
    private final int maxLength;
    private final AutoCloseable owned;
    private final SentencePooling.Mode pooling;
    private final Scratch pooled = new Scratch();
    private long tokensSeen;

    public SentenceEmbedder(BertEncoder encoder, Tokenizer tokenizer, int maxLength) {
        this(encoder, tokenizer, maxLength, null, SentencePooling.Mode.MEAN);
    }

    private SentenceEmbedder(BertEncoder encoder, Tokenizer tokenizer, int maxLength, AutoCloseable owned, SentencePooling.Mode pooling) {
        if (maxLength < 2 || maxLength > encoder.config().maxPositions()) {
            throw new IllegalArgumentException("max length " + maxLength + " must be in 2.." + encoder.config().maxPositions());
        }
        this.encoder = encoder;
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.owned = owned;
        this.pooling = pooling;
    }

    /**
     * Opens a Hugging Face style BERT directory (config.json, model.safetensors, tokenizer.json;
     * pooling from modules.json when present, else mean); weights stay memory-mapped until {@link #close()}.
     */
    public static SentenceEmbedder open(Path modelDir, Kernels kernels, int maxLength) {
        ModelConfig mc = ModelConfig.load(modelDir);
        WeightStore store = WeightStore.open(modelDir);
        Tokenizer tok = null;
        try {
            BertEncoder enc = BertEncoder.fromStore(BertConfig.from(mc), store, kernels);
            tok = Tokenizer.load(modelDir);
            Tokenizer t = tok;
            SentencePooling.Mode pooling = SentencePooling.ofModel(modelDir);
            return new SentenceEmbedder(enc, tok, Math.min(maxLength, mc.maxPositions()), () -> {
                t.close();
                store.close();
            }, pooling == null ? SentencePooling.Mode.MEAN : pooling);
        } catch (RuntimeException e) {
            if (tok != null) tok.close();
            store.close();
            throw e;
        }
    }

    public BertEncoder encoder() {
        return encoder;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public SentencePooling.Mode pooling() {
        return pooling;
    }

    public int maxLength() {
        return maxLength;
    }

    /** Non-padding tokens embedded so far (for throughput figures). */
    public long tokensSeen() {
        return tokensSeen;
    }

    /** One embedding per text, computed as one padded batch. */
    public float[][] embedBatch(List<String> texts) {
        Tokenizer.Batch b = tokenizer.encodeBatch(texts, null, maxLength);
        return embedTokens(b.ids(), b.attentionMask(), b.typeIds());
    }

    /** Embeddings of an already tokenized, padded batch. */
    public float[][] embedTokens(int[][] ids, int[][] mask, int[][] typeIds) {
        Tensor h = encoder.forward(ids, mask, typeIds);
        Tensor p = pooled.view(ids.length, encoder.hiddenSize());
        if (pooling == SentencePooling.Mode.CLS) Pooling.clsForward(h, ids[0].length, p);
        else Pooling.meanForward(h, mask, p);
        Pooling.l2NormalizeForward(p, p, null);
        float[][] out = new float[ids.length][];
        for (int i = 0; i < ids.length; i++) {
            out[i] = p.slice(i, 1).toFloatArray();
            for (int m : mask[i]) tokensSeen += m;
        }
        return out;
    }

    /**
     * Embeddings of any number of texts, returned in input order. Like sentence-transformers, the
     * texts are sorted by length (longest first) before batching, so each batch pads little.
     */
    public float[][] embed(List<String> texts, int batchSize) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        Integer[] order = new Integer[texts.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Integer.compare(texts.get(b).length(), texts.get(a).length()));
        float[][] out = new float[texts.size()][];
        List<String> part = new java.util.ArrayList<>(batchSize);
        for (int start = 0; start < order.length; start += batchSize) {
            int end = Math.min(order.length, start + batchSize);
            part.clear();
            for (int i = start; i < end; i++) part.add(texts.get(order[i]));
            float[][] e = embedBatch(part);
            for (int i = start; i < end; i++) out[order[i]] = e[i - start];
        }
        return out;
    }

    @Override
    public void close() {
        if (owned == null) return;
        try {
            owned.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing " + e.getMessage(), e);
        }
    }
}
