package dev.xgblora.model;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * A Llama-family causal LM (llama, mistral, qwen2) over Hugging Face weight names: embeddings,
 * pre-norm decoder layers, final RMSNorm, lm_head (or the embedding table when tied).
 *
 * <p>Training use: {@link #loss} runs forward over a right-padded batch and keeps what backward
 * needs from the lowest layer holding trainables upward (layers below run forward only, in place);
 * {@link #backward} accumulates every trainable gradient. Buffers are allocated per batch shape
 * (B, T) and reused while it stays the same.
 */
public final class LlamaDecoder implements Backbone, AutoCloseable {
    public static final int IGNORE_INDEX = -100;

    private final ModelConfig config;
    private final DecoderDims dims;
    private final Kernels kernels;
    private final Param embed;
    private final List<DecoderLayer> layers;
    private final Param finalNorm;
    private final Linear lmHead;
    private final AutoCloseable resource;
    private boolean inputGradWanted;
    private boolean recompute;

    private BatchBuffers train;
    private BatchBuffers infer;
    private Batch lastBatch;
    private int keptFrom = -1;
    private int[] targets;
    private int counted;
    private ChunkedLmLoss lmLoss = new ChunkedLmLoss(ChunkedLmLoss.DEFAULT_ROWS, ChunkedLmLoss.DEFAULT_VOCAB);

    /**
     * Builds the model from a config and a name → tensor source (null for a missing name).
     * Linear weights are used as stored (F32, BF16 or F16); norms and biases are copied to F32.
     */
    public LlamaDecoder(ModelConfig config, Function<String, Tensor> weights, Kernels kernels) {
        this(config, weights, kernels, null);
    }

    private LlamaDecoder(ModelConfig config, Function<String, Tensor> weights, Kernels kernels, AutoCloseable resource) {
        if (!config.isDecoder()) {
            throw new IllegalArgumentException("model_type '" + config.modelType() + "' is not a decoder (llama, mistral, qwen2)");
        }
        this.config = config;
        this.kernels = kernels;
        this.resource = resource;
        this.dims = new DecoderDims(config.hiddenSize(), config.numHeads(), config.numKvHeads(), config.headDim(),
                config.intermediateSize(), config.vocabSize(), config.normEps(), config.ropeInvFreq());
        WeightLoader w = new WeightLoader(weights);
        int c = dims.hidden(), f = dims.intermediate();
        embed = new Param("model.embed_tokens.weight", w.matrix("model.embed_tokens.weight", dims.vocab(), c), true);
        List<DecoderLayer> ls = new ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            ls.add(new DecoderLayer(l, dims, config.attentionWindow(l),
                    w.vector(p + "input_layernorm.weight", c),
                    w.vector(p + "post_attention_layernorm.weight", c),
                    w.linear(p + "self_attn.q_proj", l, "q_proj", dims.qDim(), c, config.attentionBias()),
                    w.linear(p + "self_attn.k_proj", l, "k_proj", dims.kvDim(), c, config.attentionBias()),
                    w.linear(p + "self_attn.v_proj", l, "v_proj", dims.kvDim(), c, config.attentionBias()),
                    w.linear(p + "self_attn.o_proj", l, "o_proj", c, dims.qDim(), config.attentionOutputBias()),
                    w.linear(p + "mlp.gate_proj", l, "gate_proj", f, c, config.mlpBias()),
                    w.linear(p + "mlp.up_proj", l, "up_proj", f, c, config.mlpBias()),
                    w.linear(p + "mlp.down_proj", l, "down_proj", c, f, config.mlpBias())));
        }
        layers = List.copyOf(ls);
        finalNorm = w.vector("model.norm.weight", c);
        lmHead = config.tieWordEmbeddings()
                ? new Linear("lm_head", -1, "lm_head", embed, null)
                : w.linear("lm_head", -1, "lm_head", dims.vocab(), c, false);
    }

    /** Opens a model directory (config.json + safetensors); {@link #close()} unmaps the weights. */
    public static LlamaDecoder open(Path dir, Kernels kernels) {
        ModelConfig config = ModelConfig.load(dir);
        WeightStore store = WeightStore.open(dir);
        try {
            return new LlamaDecoder(config, n -> store.has(n) ? store.tensor(n) : null, kernels, store);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    @Override
    public void close() {
        if (resource == null) return;
        try {
            resource.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing the weights of the model: " + e.getMessage(), e);
        }
    }

    // ---- structure -----------------------------------------------------------------------------

    public ModelConfig config() {
        return config;
    }

    public DecoderDims dims() {
        return dims;
    }

    public Kernels kernels() {
        return kernels;
    }

    public int numLayers() {
        return layers.size();
    }

    public List<DecoderLayer> layers() {
        return layers;
    }

    /** The linears adapters can target: q/k/v/o and gate/up/down of every layer (not lm_head). */
    public List<Linear> linears() {
        List<Linear> out = new ArrayList<>();
        for (DecoderLayer l : layers) out.addAll(l.linears());
        return out;
    }

    /** lm_head; when embeddings are tied its weight is the embedding param. */
    public Linear lmHead() {
        return lmHead;
    }

    public Param embeddings() {
        return embed;
    }

    public Param finalNorm() {
        return finalNorm;
    }

    /** Every distinct parameter, in Hugging Face order (a tied lm_head is listed once, as the embeddings). */
    public List<Param> params() {
        List<Param> out = new ArrayList<>();
        out.add(embed);
        for (DecoderLayer l : layers) out.addAll(l.params());
        out.add(finalNorm);
        if (lmHead.weight() != embed) out.add(lmHead.weight());
        return out;
    }

    /**
     * Activation recompute: training forward keeps only each layer's input, and backward runs the
     * layer's forward again (into one shared scratch) just before its backward. Same numbers, one
     * layer's activations in memory instead of all of them.
     */
    public void setRecompute(boolean on) {
        recompute = on;
    }

    public boolean recompute() {
        return recompute;
    }

    /** Bytes of activations the training buffers hold now (layer inputs, per-layer sets, scratch). */
    public long activationBytesHeld() {
        return train == null ? 0 : train.activationBytes();
    }

    /** Whether {@link #backward} also computes the gradient of the input embeddings. */
    public void setInputGradWanted(boolean wanted) {
        inputGradWanted = wanted;
    }

    /** Gradient of the loss w.r.t. the input embeddings [B·T, C], after a backward with it wanted. */
    public Tensor inputEmbeddingGrad() {
        if (!inputGradWanted) throw new IllegalStateException("input gradient not requested (setInputGradWanted)");
        if (train == null || train.inputGrad == null) throw new IllegalStateException("no backward has run yet");
        return train.inputGrad;
    }

    /** The lowest layer backward reaches: 0 when embeddings need gradients, numLayers() when no layer does. */
    public int lowestBackwardLayer() {
        if (inputGradWanted || embed.trainable()) return 0;
        for (DecoderLayer l : layers) if (l.hasTrainables()) return l.index();
        return layers.size();
    }

    // ---- training forward / backward -------------------------------------------------------------

    /**
     * Forward over a right-padded batch, keeping activations for backward.
     * @return the final normed hidden states [B·T, C] (a reused buffer)
     */
    public Tensor forwardHidden(int[][] ids, int[][] mask) {
        return forwardHidden(ids, mask, null);
    }

    /**
     * As {@link #forwardHidden(int[][], int[][])} over packed rows: {@code segments[b][t]} is the
     * document of each position (non-decreasing in a row, null = one document per row); attention
     * stays inside a document and positions restart at 0 where one starts.
     */
    public Tensor forwardHidden(int[][] ids, int[][] mask, int[][] segments) {
        Batch batch = Batch.of(ids, mask, segments, dims.vocab());
        train = buffersFor(train, batch);
        keptFrom = lowestBackwardLayer();
        train.releaseBelow(keptFrom);
        lastBatch = batch;
        targets = null;
        return runForward(batch, train, keptFrom);
    }

    /** Forward (keeping activations) to logits [B·T, V] (a buffer of that size: training uses {@link #loss}, which never makes one). */
    public Tensor logits(int[][] ids, int[][] mask) {
        Tensor hidden = forwardHidden(ids, mask);
        lmHead.forward(kernels, hidden, train.logits());
        return train.logits();
    }

    /**
     * Mean causal-LM loss: position t predicts labels[t+1]; padding and label -100 do not count.
     * labels may be null (then the ids are the labels). Keeps what {@link #backward} needs. The
     * logits are never materialised: the LM head and the loss run in token × vocabulary tiles.
     */
    public double loss(int[][] ids, int[][] mask, int[][] labels) {
        return loss(ids, mask, null, labels);
    }

    /**
     * As {@link #loss(int[][], int[][], int[][])} over packed rows ({@code segments} as in
     * {@link #forwardHidden(int[][], int[][], int[][])}): the last token of a document predicts
     * nothing, so the first token of the next one is never predicted across the boundary.
     */
    public double loss(int[][] ids, int[][] mask, int[][] segments, int[][] labels) {
        requirePlainLmHead();
        Tensor hidden = forwardHidden(ids, mask, segments);
        targets = lastBatch.shiftedTargets(labels == null ? ids : labels);
        counted = 0;
        for (int t : targets) if (t != IGNORE_INDEX) counted++;
        return lmLoss.forward(kernels, hidden, lmHead.weight().value(), targets, IGNORE_INDEX);
    }

    /** Tile of the chunked LM loss (tokens × vocabulary entries); tests use small ones. */
    void setLmLossChunks(int rows, int vocab) {
        lmLoss = new ChunkedLmLoss(rows, vocab);
    }

    /** The training [B·T, V] logits buffer if something asked for full logits, else null. */
    Tensor fullLogitsBuffer() {
        return train == null ? null : train.logits;
    }

    private void requirePlainLmHead() {
        if (lmHead.adapter() != null || lmHead.mergedFactors() != null || lmHead.bias() != null) {
            throw new IllegalStateException("the chunked LM loss needs a plain lm_head (no bias, adapter or merged factors)");
        }
    }

    /** Backward of the last {@link #loss}: gradients of the mean loss accumulate into every trainable param. */
    public void backward() {
        backward(1f);
    }

    /** As {@link #backward()}, for {@code lossScale} · loss (e.g. 1/accumulation steps). */
    public void backward(float lossScale) {
        if (targets == null) throw new IllegalStateException("backward needs a loss() first");
        if (keptFrom != lowestBackwardLayer()) {
            throw new IllegalStateException("trainable params or adapters changed between loss() and backward()");
        }
        BatchBuffers buf = train;
        buf.ensureGradients();
        int nl = layers.size();
        if (counted == 0) {
            if (inputGradWanted) buf.inputGrad.zero();
            return;
        }
        boolean below = finalNorm.trainable() || keptFrom < nl;
        if (below) buf.dhidden.zero();
        Param head = lmHead.weight();
        lmLoss.backward(kernels, buf.hidden, head.value(), targets, IGNORE_INDEX, lossScale / counted,
                below ? buf.dhidden : null, head.trainable() ? head.grad() : null);
        if (below) backwardBelowHead(buf.dhidden);
    }

    /**
     * Backward from a gradient of the final normed hidden states [B·T, C] (for a head other than
     * lm_head) after {@link #forwardHidden}; accumulates into every trainable param below the head.
     */
    public void backwardFromHidden(Tensor dHidden) {
        if (lastBatch == null || keptFrom < 0) throw new IllegalStateException("backwardFromHidden needs a forwardHidden() first");
        if (keptFrom != lowestBackwardLayer()) {
            throw new IllegalStateException("trainable params or adapters changed between forward and backward");
        }
        dHidden.requireShape(train.hidden.shape());
        train.ensureGradients();
        if (finalNorm.trainable() || keptFrom < layers.size()) backwardBelowHead(dHidden);
    }

    private void backwardBelowHead(Tensor dHidden) {
        BatchBuffers buf = train;
        Batch batch = lastBatch;
        int nl = layers.size();
        buf.dres.zero();
        kernels.rmsNormBackward(dHidden, buf.resid(nl), finalNorm.value(), buf.rstdFinal,
                keptFrom < nl ? buf.dres : null, finalNorm.grad());
        boolean embeddingGrad = inputGradWanted || embed.trainable();
        for (int l = nl - 1; l >= keptFrom; l--) {
            LayerActivations a;
            if (!recompute) {
                a = buf.acts(l);
            } else {
                a = buf.scratch();
                layers.get(l).recomputeForBackward(kernels, buf.resid(l), batch.b(), batch.t(), batch.positions(),
                        batch.attentionMask(), a, buf.recomputed());
            }
            layers.get(l).backward(kernels, buf.resid(l), batch.b(), batch.t(), batch.positions(), a,
                    buf.grads, buf.dres, l > keptFrom || embeddingGrad);
        }
        if (keptFrom == 0 && embed.trainable()) kernels.embeddingBackward(batch.flatIds(), buf.dres, embed.grad());
        if (inputGradWanted) {
            buf.inputGrad.zero();
            kernels.accumulate(buf.dres, 1f, buf.inputGrad);
        }
    }

    /** Whether the last training forward kept layer {@code l}'s activations (false below the lowest trainable layer). */
    public boolean keepsActivations(int l) {
        return keptFrom >= 0 && l >= keptFrom;
    }

    /** Embeddings, layers, final norm; layers below {@code keepFrom} compute in place and keep nothing. */
    private Tensor runForward(Batch batch, BatchBuffers buf, int keepFrom) {
        Tensor x = buf.resid(keepFrom);
        kernels.embeddingForward(batch.flatIds(), embed.value(), x);
        AttentionMask mask = batch.attentionMask();
        for (int l = 0; l < layers.size(); l++) {
            boolean keep = l >= keepFrom;
            LayerActivations a = keep && !(recompute && buf == train) ? buf.acts(l) : buf.scratch();
            layers.get(l).forward(kernels, keep ? buf.resid(l) : x, batch.b(), batch.t(), batch.positions(),
                    mask, a, keep ? buf.resid(l + 1) : x);
        }
        kernels.rmsNormForward(buf.resid(layers.size()), finalNorm.value(), dims.normEps(), buf.hidden, buf.rstdFinal);
        return buf.hidden;
    }

    private BatchBuffers buffersFor(BatchBuffers current, Batch batch) {
        if (current != null && current.b == batch.b() && current.t == batch.t()) return current;
        return new BatchBuffers(dims, layers.size(), batch.b(), batch.t());
    }

    // ---- inference ----------------------------------------------------------------------------------

    /** Logits [B·T, V] of a padded batch without keeping anything for backward (a reused buffer). */
    public Tensor inferLogits(int[][] ids, int[][] mask) {
        Batch batch = Batch.of(ids, mask, dims.vocab());
        infer = buffersFor(infer, batch);
        Tensor hidden = runForward(batch, infer, layers.size());
        lmHead.forward(kernels, hidden, infer.logits());
        return infer.logits();
    }

    /** Total log-probability of tokens 2..n of {@code ids} given their prefixes (natural log). */
    public double logLikelihood(int[] ids) {
        if (ids.length < 2) return 0.0;
        int[][] one = {ids};
        int[][] mask = {filledOnes(ids.length)};
        requirePlainLmHead();
        Batch batch = Batch.of(one, mask, dims.vocab());
        infer = buffersFor(infer, batch);
        Tensor hidden = runForward(batch, infer, layers.size());
        double mean = lmLoss.forward(kernels, hidden, lmHead.weight().value(), batch.shiftedTargets(one), IGNORE_INDEX);
        return -mean * (ids.length - 1);
    }

    /** A KV-cache session for up to {@code capacity} tokens. */
    public DecoderSession newSession(int capacity) {
        return new DecoderSession(this, capacity);
    }

    /**
     * Continues {@code prompt} by up to {@code maxNew} tokens, stopping after an end-of-sequence id.
     * Greedy when temperature &lt;= 0; else top-p (nucleus) sampling from softmax(logits / temperature)
     * with a random generator seeded by {@code seed} (same seed, same output).
     * @return the new tokens only
     */
    public int[] generate(int[] prompt, int maxNew, float topP, float temperature, long seed) {
        if (prompt.length == 0) throw new IllegalArgumentException("generate needs a prompt of at least one token");
        if (maxNew <= 0) return new int[0];
        DecoderSession session = newSession(prompt.length + maxNew);
        SplittableRandom rng = new SplittableRandom(seed);
        int[] out = new int[maxNew];
        float[] logits = session.append(prompt);
        int n = 0;
        while (n < maxNew) {
            int token = TokenSampler.sample(logits, topP, temperature, rng);
            out[n++] = token;
            if (config.eosTokenIds().contains(token) || n == maxNew) break;
            logits = session.append(new int[]{token});
        }
        return Arrays.copyOf(out, n);
    }

    static int[] filledOnes(int n) {
        int[] m = new int[n];
        Arrays.fill(m, 1);
        return m;
    }

    /** Activation and gradient buffers for one batch shape. */
    private static final class BatchBuffers {
        final int b, t;
        final DecoderDims dims;
        final Tensor[] resid;
        final LayerActivations[] acts;
        LayerActivations scratch;
        LayerGradients grads;
        final Tensor hidden, rstdFinal;
        Tensor logits, dhidden, dres, inputGrad, recomputed;

        BatchBuffers(DecoderDims dims, int numLayers, int b, int t) {
            this.b = b;
            this.t = t;
            this.dims = dims;
            long m = (long) b * t;
            resid = new Tensor[numLayers + 1];
            acts = new LayerActivations[numLayers];
            hidden = Tensor.zeros(m, dims.hidden());
            rstdFinal = Tensor.zeros(m);
        }

        /** Full [B·T, V] logits, only for callers that ask for them (training never does). */
        Tensor logits() {
            if (logits == null) logits = Tensor.zeros((long) b * t, dims.vocab());
            return logits;
        }

        Tensor resid(int l) {
            if (resid[l] == null) resid[l] = Tensor.zeros((long) b * t, dims.hidden());
            return resid[l];
        }

        LayerActivations acts(int l) {
            if (acts[l] == null) acts[l] = new LayerActivations(dims, b, t);
            return acts[l];
        }

        /** Drops what layers below {@code l} kept earlier (the trainable range moved up). */
        void releaseBelow(int l) {
            for (int i = 0; i < l; i++) {
                acts[i] = null;
                resid[i] = null;
            }
        }

        LayerActivations scratch() {
            if (scratch == null) scratch = new LayerActivations(dims, b, t);
            return scratch;
        }

        /** Scratch for a recomputed layer's discarded adapter term of down_proj. */
        Tensor recomputed() {
            if (recomputed == null) recomputed = Tensor.zeros((long) b * t, dims.hidden());
            return recomputed;
        }

        long activationBytes() {
            long perLayer = MemoryEstimate.layerActivationBytes(dims, b, t);
            long n = 0;
            for (Tensor r : resid) if (r != null) n += r.numel() * 4;
            for (LayerActivations a : acts) if (a != null) n += perLayer;
            if (scratch != null) n += perLayer;
            if (recomputed != null) n += recomputed.numel() * 4;
            return n;
        }

        private void ensureGradients() {
            if (grads != null) return;
            long m = (long) b * t;
            grads = new LayerGradients(dims, m);
            dhidden = Tensor.zeros(m, dims.hidden());
            dres = Tensor.zeros(m, dims.hidden());
            inputGrad = Tensor.zeros(m, dims.hidden());
        }
    }
}
