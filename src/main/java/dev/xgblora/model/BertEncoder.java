package dev.xgblora.model;

import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * A BERT-family encoder with Hugging Face {@code BertModel} semantics (without the pooler):
 * word + absolute position + token-type embeddings, embedding LayerNorm, then post-LN layers.
 *
 * <p>Weights come from a name → tensor source (null for a missing name): a memory-mapped file for
 * real models, an in-memory map in tests. Frozen weights stay exactly what the source gave (no
 * copy); {@link Param#setTrainable} makes an F32 working copy of the params that train.
 * Names are Hugging Face's, with or without the {@code bert.} prefix; LayerNorm weights may also
 * use the old TensorFlow-era names {@code gamma}/{@code beta} (params are always named
 * {@code weight}/{@code bias}).
 *
 * <p>Linear modules per layer, as {@link Linear#module()} names for adapter targeting:
 * {@code query}, {@code key}, {@code value} (attention.self.*), {@value #ATTN_OUT}
 * (attention.output.dense), {@code intermediate} (intermediate.dense), {@code output}
 * (output.dense). {@link Linear#name()} is the full HF path without ".weight".
 *
 * <p>Backward runs only as deep as needed: layers below {@link #firstLayerNeedingGrad()} run
 * forward only, into shared buffers, and keep no activations. Not thread-safe.
 */
public final class BertEncoder implements Backbone {
    /** Module name of the attention output projection (HF attention.output.dense). */
    public static final String ATTN_OUT = "attn_out";
    /** All linear module names in a layer, in forward order. */
    public static final List<String> MODULES = List.of("query", "key", "value", ATTN_OUT, "intermediate", "output");

    private final BertConfig cfg;
    private final Kernels kn;
    private final Param wordEmb, posEmb, typeEmb, embLnGamma, embLnBeta;
    private final List<BertLayer> layers = new ArrayList<>();
    private final List<Param> params = new ArrayList<>();
    private final List<Linear> linears = new ArrayList<>();

    // forward state
    private final BertLayer.Buffers[] own;
    // forward-only layers share one activation set and alternate between two output buffers
    private final BertLayer.Buffers shared = new BertLayer.Buffers();
    private final Scratch[] sharedOut = {new Scratch(), new Scratch()};
    private final BertLayer.GradBuffers grads = new BertLayer.GradBuffers();
    private final Scratch sEmbSum = new Scratch(), sEmbTmp = new Scratch(), sEmbOut = new Scratch(),
            sEmbMean = new Scratch(), sEmbRstd = new Scratch(), sKeyValid = new Scratch();
    private Tensor embSum, embOut, embMean, embRstd;
    private int[] flatIds, flatPos, flatTypes;
    private int batch, len;
    private int gradFrom;          // first layer the last forward kept activations for
    private boolean gradIntoEmbeddings;
    private boolean forwardDone;

    public BertEncoder(BertConfig cfg, Function<String, Tensor> weights, Kernels kernels) {
        this.cfg = cfg;
        this.kn = kernels;
        String prefix = weights.apply("embeddings.word_embeddings.weight") != null ? ""
                : weights.apply("bert.embeddings.word_embeddings.weight") != null ? "bert." : null;
        if (prefix == null) {
            throw new IllegalArgumentException("no BERT weights found: neither 'embeddings.word_embeddings.weight' nor "
                    + "'bert.embeddings.word_embeddings.weight' is present");
        }
        int c = cfg.hiddenSize();
        wordEmb = param(weights, prefix + "embeddings.word_embeddings.weight", true, cfg.vocabSize(), c);
        posEmb = param(weights, prefix + "embeddings.position_embeddings.weight", true, cfg.maxPositions(), c);
        typeEmb = param(weights, prefix + "embeddings.token_type_embeddings.weight", true, cfg.typeVocabSize(), c);
        embLnGamma = param(weights, prefix + "embeddings.LayerNorm.weight", false, c);
        embLnBeta = param(weights, prefix + "embeddings.LayerNorm.bias", false, c);
        params.addAll(List.of(wordEmb, posEmb, typeEmb, embLnGamma, embLnBeta));
        for (int l = 0; l < cfg.numLayers(); l++) {
            BertLayer layer = new BertLayer(cfg, l, prefix, weights);
            layers.add(layer);
            params.addAll(layer.params());
            linears.addAll(layer.linears());
        }
        own = new BertLayer.Buffers[cfg.numLayers()];
    }

    /**
     * An encoder over a memory-mapped weight store: frozen weights are zero-copy views of the file,
     * which must stay open while the encoder is used.
     */
    public static BertEncoder fromStore(BertConfig cfg, WeightStore store, Kernels kernels) {
        return new BertEncoder(cfg, name -> store.has(name) ? store.tensor(name) : null, kernels);
    }

    /** Looks up a required weight, naming it when missing or misshapen. */
    static Param param(Function<String, Tensor> weights, String name, boolean decay, long... shape) {
        Tensor t = weights.apply(name);
        if (t == null && name.endsWith("LayerNorm.weight")) t = weights.apply(name.replace("LayerNorm.weight", "LayerNorm.gamma"));
        if (t == null && name.endsWith("LayerNorm.bias")) t = weights.apply(name.replace("LayerNorm.bias", "LayerNorm.beta"));
        if (t == null) throw new IllegalArgumentException("missing weight '" + name + "'");
        if (shape.length > 0) t.named(name).requireShape(shape);
        return new Param(name, t, decay);
    }

    public BertConfig config() {
        return cfg;
    }

    public Kernels kernels() {
        return kn;
    }

    public int numLayers() {
        return layers.size();
    }

    public int hiddenSize() {
        return cfg.hiddenSize();
    }

    /** Every linear projection, layer by layer in forward order (see the class doc for module names). */
    public List<Linear> linears() {
        return Collections.unmodifiableList(linears);
    }

    /** Every weight under its Hugging Face name: embeddings first, then each layer. */
    public List<Param> params() {
        return Collections.unmodifiableList(params);
    }

    /** The embedding params (word, position, token type, LayerNorm γ and β). */
    public List<Param> embeddingParams() {
        return params.subList(0, 5);
    }

    /** Whether any embedding param (tables or embedding LayerNorm) is trainable. */
    public boolean embeddingsTrainable() {
        for (Param p : embeddingParams()) if (p.trainable()) return true;
        return false;
    }

    /**
     * The lowest layer whose backward has work: 0 when embeddings train, else the lowest layer
     * holding a trainable param or an adapter, else {@link #numLayers()} (nothing to train).
     */
    public int firstLayerNeedingGrad() {
        if (embeddingsTrainable()) return 0;
        for (BertLayer l : layers) if (l.hasTrainables()) return l.index;
        return layers.size();
    }

    /**
     * Last hidden state [B*T, C] for a padded batch: ids, mask (1 real, 0 padding) and token type
     * ids (null = all zero) are B rows of equal length T. Positions are 0..T-1 in every row, as in
     * HF BERT with right padding. The result is a view into internal buffers, valid until the next
     * forward.
     */
    public Tensor forward(int[][] ids, int[][] mask, int[][] typeIds) {
        int b = ids.length;
        if (b == 0) throw new IllegalArgumentException("empty batch");
        int t = ids[0].length;
        if (t > cfg.maxPositions()) {
            throw new IllegalArgumentException("sequence length " + t + " exceeds max_position_embeddings " + cfg.maxPositions());
        }
        checkRect("input ids", ids, b, t);
        checkRect("attention mask", mask, b, t);
        if (typeIds != null) checkRect("token type ids", typeIds, b, t);
        batch = b;
        len = t;
        int n = b * t, c = cfg.hiddenSize();
        if (flatIds == null || flatIds.length != n) {
            flatIds = new int[n];
            flatPos = new int[n];
            flatTypes = new int[n];
        }
        Tensor keyValid = sKeyValid.view(b, t);
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                int id = ids[i][j];
                if (id < 0 || id >= cfg.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " at [" + i + "][" + j + "] outside vocabulary of " + cfg.vocabSize());
                }
                int tt = typeIds == null ? 0 : typeIds[i][j];
                if (tt < 0 || tt >= cfg.typeVocabSize()) {
                    throw new IllegalArgumentException("token type " + tt + " at [" + i + "][" + j + "] outside 0.." + (cfg.typeVocabSize() - 1));
                }
                flatIds[i * t + j] = id;
                flatPos[i * t + j] = j;
                flatTypes[i * t + j] = tt;
                keyValid.set(i, j, mask[i][j] != 0 ? 1f : 0f);
            }
        }

        gradFrom = firstLayerNeedingGrad();
        gradIntoEmbeddings = embeddingsTrainable();

        embSum = sEmbSum.view(n, c);
        Tensor tmp = sEmbTmp.view(n, c);
        embOut = sEmbOut.view(n, c);
        embMean = sEmbMean.view(n);
        embRstd = sEmbRstd.view(n);
        kn.embeddingForward(flatIds, wordEmb.value(), embSum);
        kn.embeddingForward(flatPos, posEmb.value(), tmp);
        kn.add(embSum, tmp, embSum);
        kn.embeddingForward(flatTypes, typeEmb.value(), tmp);
        kn.add(embSum, tmp, embSum);
        kn.layerNormForward(embSum, embLnGamma.value(), embLnBeta.value(), cfg.normEps(), embOut, embMean, embRstd);

        Tensor x = embOut;
        for (BertLayer layer : layers) {
            int l = layer.index;
            if (l < gradFrom) {
                own[l] = null; // a layer that left the trainable range gives its activations back
                x = layer.forward(kn, x, keyValid, b, t, shared, sharedOut[l % 2]);
            } else {
                if (own[l] == null) own[l] = new BertLayer.Buffers();
                x = layer.forward(kn, x, keyValid, b, t, own[l], own[l].sOut);
            }
        }
        forwardDone = true;
        return x;
    }

    /**
     * Backward from dHidden [B*T, C], the gradient of the last forward's output (only read).
     * Accumulates into trainable params and adapters; stops below {@link #firstLayerNeedingGrad()}.
     */
    public void backward(Tensor dHidden) {
        if (!forwardDone) throw new IllegalStateException("backward without a forward");
        dHidden.requireShape((long) batch * len, cfg.hiddenSize());
        if (gradFrom != firstLayerNeedingGrad() || gradIntoEmbeddings != embeddingsTrainable()) {
            throw new IllegalStateException("trainable params or adapters changed between forward and backward");
        }
        Tensor d = dHidden;
        for (int l = layers.size() - 1; l >= gradFrom; l--) {
            boolean wantInput = l > gradFrom || gradIntoEmbeddings;
            d = layers.get(l).backward(kn, d, own[l], grads, batch, len, wantInput);
        }
        if (gradIntoEmbeddings) embeddingsBackward(d);
    }

    private void embeddingsBackward(Tensor dEmbOut) {
        long n = (long) batch * len;
        Tensor dSum = grads.sA.view(n, cfg.hiddenSize()); // free: layer 0 returned the B buffer
        if (dEmbOut.sameMemory(dSum)) throw new IllegalStateException("embedding gradient aliasing");
        dSum.zero();
        kn.layerNormBackward(dEmbOut, embSum, embLnGamma.value(), embMean, embRstd, dSum, embLnGamma.grad(), embLnBeta.grad());
        if (wordEmb.trainable()) kn.embeddingBackward(flatIds, dSum, wordEmb.grad());
        if (posEmb.trainable()) kn.embeddingBackward(flatPos, dSum, posEmb.grad());
        if (typeEmb.trainable()) kn.embeddingBackward(flatTypes, dSum, typeEmb.grad());
    }

    /** Floats held in activation buffers now (for tests and metrics). */
    public long activationFloats() {
        long total = shared.capacityFloats() + sharedOut[0].capacity() + sharedOut[1].capacity();
        for (BertLayer.Buffers b : own) if (b != null) total += b.capacityFloats();
        return total;
    }

    /** Whether layer {@code l} holds its own activation buffers (it was run with backward in mind). */
    public boolean keepsActivations(int layer) {
        return own[layer] != null;
    }

    private static void checkRect(String what, int[][] rows, int b, int t) {
        if (rows.length != b) throw new IllegalArgumentException(what + ": " + rows.length + " rows, expected " + b);
        for (int i = 0; i < b; i++) {
            if (rows[i].length != t) {
                throw new IllegalArgumentException(what + ": row " + i + " has length " + rows[i].length
                        + ", expected " + t + " (pad the batch to one length)");
            }
        }
    }
}
