package dev.xgblora.model;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Incremental decoding of one sequence with a key/value cache: each {@link #append} runs the new
 * tokens through every layer against the cached keys and values of the earlier ones.
 */
public final class DecoderSession {
    private final LlamaDecoder model;
    private final int capacity;
    private final Tensor[] kCache;
    private final Tensor[] vCache;
    private final Map<Integer, LayerActivations> scratch = new HashMap<>();
    private final Map<Integer, Tensor> residuals = new HashMap<>();
    private final Tensor hidden;
    private final Tensor rstd;
    private final Tensor logits;
    private int length;

    DecoderSession(LlamaDecoder model, int capacity) {
        if (capacity <= 0) throw new IllegalArgumentException("KV cache capacity must be positive, got " + capacity);
        this.model = model;
        this.capacity = capacity;
        DecoderDims d = model.dims();
        int nl = model.numLayers();
        long perLayer = Math.multiplyExact((long) capacity, d.kvDim());
        long probs = Math.multiplyExact((long) d.heads() * capacity, (long) capacity);
        if (perLayer > Tensor.MAX_HEAP_ELEMENTS || probs > Tensor.MAX_HEAP_ELEMENTS) {
            throw new IllegalArgumentException("a KV cache of " + capacity + " tokens needs " + perLayer + " elements per layer and "
                    + probs + " for attention probabilities, more than a heap tensor holds (" + Tensor.MAX_HEAP_ELEMENTS
                    + "); use a shorter prompt + generation length");
        }
        kCache = new Tensor[nl];
        vCache = new Tensor[nl];
        for (int l = 0; l < nl; l++) {
            kCache[l] = Tensor.zeros(capacity, d.kvDim());
            vCache[l] = Tensor.zeros(capacity, d.kvDim());
        }
        hidden = Tensor.zeros(1, d.hidden());
        rstd = Tensor.zeros(1);
        logits = Tensor.zeros(1, d.vocab());
    }

    /** Tokens processed so far. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Runs {@code tokens} at positions length..length+n-1; returns the logits after the last one (a copy). */
    public float[] append(int[] tokens) {
        int n = tokens.length;
        if (n == 0) throw new IllegalArgumentException("append needs at least one token");
        if (length + n > capacity) {
            throw new IllegalStateException("KV cache holds " + capacity + " tokens; cannot append " + n + " to " + length);
        }
        DecoderDims d = model.dims();
        for (int i = 0; i < n; i++) {
            if (tokens[i] < 0 || tokens[i] >= d.vocab()) {
                throw new IllegalArgumentException("token id " + tokens[i] + " is outside the vocabulary [0, " + d.vocab() + ")");
            }
        }
        Kernels k = model.kernels();
        LayerActivations a = scratch.computeIfAbsent(n, rows -> new LayerActivations(d, 1, rows));
        int[] positions = new int[n];
        for (int i = 0; i < n; i++) positions[i] = length + i;
        int s = length + n;
        Tensor x = residual(n);
        k.embeddingForward(tokens, model.embeddings().value(), x);
        List<DecoderLayer> layers = model.layers();
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forwardCached(k, x, length, positions, kCache[l], vCache[l], a, x);
        }
        k.rmsNormForward(x.slice(n - 1, 1), model.finalNorm().value(), d.normEps(), hidden, rstd);
        model.lmHead().forward(k, hidden, logits);
        length = s;
        return logits.toFloatArray();
    }

    private Tensor residual(int n) {
        return residuals.computeIfAbsent(n, rows -> Tensor.zeros(rows, model.dims().hidden()));
    }
}
