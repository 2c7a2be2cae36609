package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;
import java.util.List;

/**
 * The ops a transformer needs, each as one forward and one backward function (PyTorch semantics,
 * so golden tests against PyTorch are direct). Nothing here knows what a transformer is.
 *
 * <p>Conventions, shared by every implementation:
 * <ul>
 *   <li>Matrices are row-major; an activation tensor of any rank is seen as [rows, cols] with
 *       cols = its last dimension. Activations, gradients and optimizer state are F32.
 *       Linear weights and embedding tables may be F32, BF16 or F16 (widened inside the kernel).</li>
 *   <li>Forward functions <b>overwrite</b> their outputs.</li>
 *   <li>Backward functions <b>accumulate</b> ({@code +=}) into every gradient they write, so that
 *       residual branches and gradient accumulation need no extra adds. A {@code null} gradient
 *       argument means "not wanted": it is not computed at all (frozen weights never get dW).</li>
 *   <li>Scratch that backward needs (means, log-sum-exps, masks) is written by forward into
 *       caller-provided tensors, so buffers are allocated once per shape and reused.</li>
 * </ul>
 */
public interface Kernels {

    /** Short name of the implementation: "reference", "vector", ... */
    String name();

    /** Threads this implementation uses (1 for reference). */
    int threads();

    /**
     * A training step begins. Backends that record a step's kernel launches and replay them (the
     * OpenCL launch list) restart their list here; the CPU backends do nothing.
     */
    default void stepStarts() {
    }

    /**
     * Bytes this backend has copied host→device ([0]) and device→host ([1]) so far, for `bench step`;
     * null for the CPU backends, which move nothing (so callers need no device class to ask).
     */
    default long[] bytesMoved() {
        return null;
    }

    // ---- Linear: Y = X·Wᵀ + b ----------------------------------------------------------------

    /** y[M,N] = x[M,K] · w[N,K]ᵀ + b[N] (b may be null). w may be F32, BF16 or F16. */
    void linearForward(Tensor x, Tensor w, Tensor b, Tensor y);

    /** dx[M,K] += dy[M,N] · w[N,K]. The only backward a frozen weight needs. */
    void linearBackwardInput(Tensor dy, Tensor w, Tensor dx);

    /** dw[N,K] += dy[M,N]ᵀ · x[M,K]. dw is F32. */
    void linearBackwardWeight(Tensor dy, Tensor x, Tensor dw);

    /** db[N] += Σ_rows dy[M,N]. */
    void linearBackwardBias(Tensor dy, Tensor db);

    // ---- Rank-r adapter path: y += s·(x·Aᵀ)·Bᵀ --------------------------------------------------

    /**
     * h[M,r] = x[M,K]·a[r,K]ᵀ (kept for backward); y[M,N] += scale · h · b[N,r]ᵀ.
     * r = 1 is the hot case.
     */
    void loraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y);

    /**
     * y = x·wᵀ + bias + scale·(xa·aᵀ)·bᵀ, h = xa·aᵀ kept: {@link #linearForward} then
     * {@link #loraForward} as one op, so that a backend can fold the adapter term into the write of
     * the base product's output. xa is the adapter's input (x itself, or x after dropout). h must be
     * bitwise what {@link #loraForward} writes: activation recompute takes h from loraForward alone.
     */
    default void linearLoraForward(Tensor x, Tensor w, Tensor bias, Tensor xa, Tensor a, Tensor b, float scale,
                                   Tensor h, Tensor y) {
        linearForward(x, w, bias, y);
        loraForward(xa, a, b, scale, h, y);
    }

    /**
     * Backward of {@link #loraForward}: with dh = scale·dy·b (written into scratch dh[M,r]),
     * db += scale·dyᵀ·h, da += dhᵀ·x, dx += dh·a. Any of da, db, dx may be null.
     */
    void loraBackward(Tensor dy, Tensor x, Tensor a, Tensor b, float scale, Tensor h,
                      Tensor dh, Tensor da, Tensor db, Tensor dx);

    // ---- Attention ------------------------------------------------------------------------------

    /**
     * Scaled dot-product attention, batched, with grouped-query heads, fused: the [T, S] scores
     * and probabilities are never stored (an implementation may tile them).
     * q[B,T,Hq,D], k[B,S,Hkv,D], v[B,S,Hkv,D] (Hq a multiple of Hkv; query head h reads kv head
     * h / (Hq/Hkv), K and V are never repeated); out[B,T,Hq,D]. {@code mask} says which keys each
     * query sees (padding, causal with S − T cached positions, sliding window, segments); a query
     * with no visible key gets an all-zero output. lse[B,Hq,T] (may be null when no backward
     * follows) receives each query's log Σ exp(scaled visible scores), −inf for a query that sees
     * nothing: with out, all that backward needs.
     */
    void attentionForward(Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale, Tensor out, Tensor lse);

    /**
     * Backward of {@link #attentionForward} from the same q, k, v, mask and scale and the forward's
     * out and lse (the scores are recomputed): dq, dk, dv accumulate, dk and dv per kv head.
     */
    void attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale,
                           Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv);

    /** Row-wise softmax in place over the last dimension of x[M,N]. */
    void softmaxForward(Tensor x, Tensor out);

    /** dx += y ⊙ (dy − Σ(dy ⊙ y)) row-wise, y the softmax output. */
    void softmaxBackward(Tensor dy, Tensor y, Tensor dx);

    // ---- Norms ----------------------------------------------------------------------------------

    /** y = (x − mean)/sqrt(var + eps) · gamma + beta per row of x[M,C]; mean[M], rstd[M] saved. */
    void layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd);

    /** dx += ..., dgamma += ..., dbeta += ... (dgamma/dbeta may be null when frozen). */
    void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                           Tensor dx, Tensor dgamma, Tensor dbeta);

    /** y = x / sqrt(mean(x²) + eps) · gamma per row of x[M,C]; rstd[M] saved. */
    void rmsNormForward(Tensor x, Tensor gamma, float eps, Tensor y, Tensor rstd);

    void rmsNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor rstd, Tensor dx, Tensor dgamma);

    // ---- Activations ----------------------------------------------------------------------------

    /** GELU, exact (erf) form when {@code tanhApprox} is false, else the tanh form. */
    void geluForward(Tensor x, boolean tanhApprox, Tensor y);

    void geluBackward(Tensor dy, Tensor x, boolean tanhApprox, Tensor dx);

    void siluForward(Tensor x, Tensor y);

    void siluBackward(Tensor dy, Tensor x, Tensor dx);

    /** out = silu(gate) ⊙ up. */
    void swigluForward(Tensor gate, Tensor up, Tensor out);

    void swigluBackward(Tensor dout, Tensor gate, Tensor up, Tensor dgate, Tensor dup);

    // ---- Positions and embeddings ---------------------------------------------------------------

    /**
     * Rotary embedding, Hugging Face "rotate_half" layout: within each head of D dims, dim i pairs
     * with dim i + D/2 and rotates by angle positions[b*T+t] · invFreq[i].
     * x, out: [B,T,H,D]; positions: one per (b, t); invFreq: D/2 frequencies (theta and any
     * rope_scaling are folded in by the caller). out may be x (in place).
     */
    void ropeForward(Tensor x, int[] positions, float[] invFreq, Tensor out);

    /** dx += rotation of dout by the negative angle. */
    void ropeBackward(Tensor dout, int[] positions, float[] invFreq, Tensor dx);

    /** out[M,C] = table[ids[m], :]; table may be F32, BF16 or F16. */
    void embeddingForward(int[] ids, Tensor table, Tensor out);

    /** dtable[ids[m], :] += dout[m, :]. */
    void embeddingBackward(int[] ids, Tensor dout, Tensor dtable);

    // ---- Elementwise ----------------------------------------------------------------------------

    /** out = a + b (out may alias a or b). */
    void add(Tensor a, Tensor b, Tensor out);

    /** dst += scale · src. */
    void accumulate(Tensor src, float scale, Tensor dst);

    /** dst *= scale. */
    void scale(Tensor dst, float scale);

    /**
     * Inverted dropout: mask[i] = keep ? 1/(1-p) : 0 from a SplittableRandom seeded with seed,
     * y = x ⊙ mask. p = 0 copies x and fills mask with 1.
     */
    void dropoutForward(Tensor x, float p, long seed, Tensor mask, Tensor y);

    /** dx += dy ⊙ mask. */
    void dropoutBackward(Tensor dy, Tensor mask, Tensor dx);

    // ---- Loss -----------------------------------------------------------------------------------

    /**
     * Cross-entropy of logits[M,V] against targets[M]; rows whose target equals ignoreIndex do not
     * count. losses[M] (may be null) receives each row's loss (0 for ignored rows).
     * Returns the mean loss over counted rows (0 when none count).
     */
    double crossEntropyForward(Tensor logits, int[] targets, int ignoreIndex, Tensor losses);

    /**
     * Fused softmax + cross-entropy backward: dlogits[m,:] += scale · (softmax(logits[m,:]) − onehot)
     * for counted rows. For the mean loss, scale = dLoss / (number of counted rows).
     */
    void crossEntropyBackward(Tensor logits, int[] targets, int ignoreIndex, float scale, Tensor dlogits);

    // ---- Optimizer ------------------------------------------------------------------------------

    /**
     * One AdamW step on flat F32 buffers (decoupled weight decay, PyTorch's formula):
     * p -= lr·wd·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
     * p -= lr · (m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps). step t counts from 1.
     */
    void adamwStep(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                   float eps, float weightDecay, long step);

    /** Σ g² over the tensor, in double. The global norm is sqrt of the sum over all gradients. */
    double sumOfSquares(Tensor g);

    /**
     * Σ g² over all the tensors, the global gradient norm's square (clipping). The default adds
     * {@link #sumOfSquares(Tensor)}; a device backend reduces on the device and reads one scalar.
     */
    default double sumOfSquares(List<Tensor> tensors) {
        return ReferenceHeads.sumOfSquares(this, tensors);
    }

    // ---- Task heads -----------------------------------------------------------------------------
    // The defaults are the reference implementations (ReferenceHeads, double accumulation): they are
    // cheap next to the backbone; a device backend overrides them so the step stays on the device.

    /**
     * Mean pooling over a key mask: out[b,:] = Σ_t mask[b·T+t]·hidden[b·T+t,:] / max(Σ_t mask[b·T+t], 1e-9),
     * hidden [B·T, C], mask B·T values (B = out's rows), out [B, C] (sentence-transformers' mean).
     */
    default void meanPoolForward(Tensor hidden, int[] mask, Tensor out) {
        ReferenceHeads.meanPoolForward(hidden, mask, out);
    }

    /** dHidden[b·T+t,:] += mask[b·T+t] · dOut[b,:] / count_b. */
    default void meanPoolBackward(Tensor dOut, int[] mask, Tensor dHidden) {
        ReferenceHeads.meanPoolBackward(dOut, mask, dHidden);
    }

    /** out[b,:] = hidden[b·seqLen,:], the first ([CLS]) token of each row; hidden [B·seqLen, C]. */
    default void clsPoolForward(Tensor hidden, int seqLen, Tensor out) {
        ReferenceHeads.clsPoolForward(hidden, seqLen, out);
    }

    /** dHidden[b·seqLen,:] += dOut[b,:]. */
    default void clsPoolBackward(Tensor dOut, int seqLen, Tensor dHidden) {
        ReferenceHeads.clsPoolBackward(dOut, seqLen, dHidden);
    }

    /** y = tanh(x) (BERT's pooler); y may be x. */
    default void tanhForward(Tensor x, Tensor y) {
        ReferenceHeads.tanhForward(x, y);
    }

    /** dx += dy ⊙ (1 − y²), y the forward's output. */
    default void tanhBackward(Tensor dy, Tensor y, Tensor dx) {
        ReferenceHeads.tanhBackward(dy, y, dx);
    }

    /**
     * One vocabulary tile of an LM head's cross-entropy (online logsumexp): logits [M, V] hold
     * vocabulary entries vocabOffset .. vocabOffset+V of M rows; state [M, 3] keeps each row's
     * running max, running Σ exp(logit − max) and its target's logit (set by the tile holding it).
     * {@code first}: the state starts with this tile (overwritten), else it is updated.
     */
    default void chunkedCrossEntropyForward(Tensor logits, int[] targets, long vocabOffset, boolean first, Tensor state) {
        ReferenceHeads.chunkedCrossEntropyForward(logits, targets, vocabOffset, first, state);
    }

    /**
     * After the last tile: lse[M] = max + log Σ per row (kept for backward); returns the sum over
     * rows whose target is not ignoreIndex of lse − target logit (the caller divides).
     */
    default double chunkedCrossEntropyLoss(Tensor state, int[] targets, int ignoreIndex, Tensor lse) {
        return ReferenceHeads.chunkedCrossEntropyLoss(state, targets, ignoreIndex, lse);
    }

    /**
     * Backward of one tile, in place: logits [M, V] (recomputed by the caller) become
     * scale · (exp(logit − lse) − onehot(target − vocabOffset)); rows whose target is ignoreIndex become 0.
     */
    default void chunkedCrossEntropyBackward(Tensor logits, int[] targets, long vocabOffset, int ignoreIndex, Tensor lse,
                                             float scale) {
        ReferenceHeads.chunkedCrossEntropyBackward(logits, targets, vocabOffset, ignoreIndex, lse, scale);
    }
}
