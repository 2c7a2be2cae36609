package dev.xgblora.model;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * One pre-norm Llama block: x + o(attn(rope(q), rope(k), v)) on RMSNorm(x), then
 * + down(silu(gate) ⊙ up) on RMSNorm of that. Grouped-query attention, causal, key padding mask,
 * and a sliding window when the model has one for this layer (Mistral, Qwen2 with use_sliding_window).
 */
public final class DecoderLayer {
    private final int index;
    private final DecoderDims dims;
    private final int window;
    private final Param inputNorm;
    private final Param postAttentionNorm;
    private final Linear q, k, v, o, gate, up, down;

    /** {@code window}: sliding attention window in positions, 0 for full causal attention. */
    DecoderLayer(int index, DecoderDims dims, int window, Param inputNorm, Param postAttentionNorm,
                 Linear q, Linear k, Linear v, Linear o, Linear gate, Linear up, Linear down) {
        this.index = index;
        this.dims = dims;
        this.window = window;
        this.inputNorm = inputNorm;
        this.postAttentionNorm = postAttentionNorm;
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.gate = gate;
        this.up = up;
        this.down = down;
    }

    public int index() {
        return index;
    }

    /** Sliding attention window in positions, 0 when this layer attends to the whole prefix. */
    public int window() {
        return window;
    }

    /** q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj. */
    public List<Linear> linears() {
        return List.of(q, k, v, o, gate, up, down);
    }

    /** Every parameter, in Hugging Face order (norm before attention, attention, norm, MLP). */
    public List<Param> params() {
        List<Param> out = new ArrayList<>();
        out.add(inputNorm);
        for (Linear l : List.of(q, k, v, o)) addLinear(out, l);
        out.add(postAttentionNorm);
        for (Linear l : List.of(gate, up, down)) addLinear(out, l);
        return out;
    }

    private static void addLinear(List<Param> out, Linear l) {
        out.add(l.weight());
        if (l.bias() != null) out.add(l.bias());
    }

    /** Whether backward computes anything for this layer's own weights or adapters. */
    public boolean hasTrainables() {
        if (inputNorm.trainable() || postAttentionNorm.trainable()) return true;
        for (Linear l : linears()) if (l.hasTrainables()) return true;
        return false;
    }

    /**
     * Forward over a padded batch; writes the layer output into {@code out}, which may be {@code x}
     * (in place) when nothing is kept for backward. {@code mask}: causal with the batch's key padding
     * (and document segments when sequences are packed); this layer adds its sliding window.
     */
    void forward(Kernels kern, Tensor x, int b, int t, int[] positions, AttentionMask mask,
                 LayerActivations a, Tensor out) {
        attentionForward(kern, x, b, t, positions, mask, a);
        mlpForward(kern, a, out);
    }

    /**
     * The forward again for {@link #backward} (activation recompute): every activation backward
     * reads, but not the output, which is the next layer's kept input. That skips down_proj's
     * product, a third of the MLP; its adapter still computes h. {@code scratch}: [B·T, hidden].
     */
    void recomputeForBackward(Kernels kern, Tensor x, int b, int t, int[] positions, AttentionMask mask,
                              LayerActivations a, Tensor scratch) {
        attentionForward(kern, x, b, t, positions, mask, a);
        mlpHidden(kern, a);
        down.forwardForBackward(kern, a.act, scratch);
    }

    /** a.h = x + o(attention(rope(q), rope(k), v)) on RMSNorm(x); keeps what backward reads. */
    private void attentionForward(Kernels kern, Tensor x, int b, int t, int[] positions, AttentionMask mask,
                                  LayerActivations a) {
        a.mask = mask.withWindow(window);
        kern.rmsNormForward(x, inputNorm.value(), dims.normEps(), a.n1, a.rstd1);
        q.forward(kern, a.n1, a.q);
        k.forward(kern, a.n1, a.k);
        v.forward(kern, a.n1, a.v);
        Tensor q4 = heads(a.q, b, t, dims.heads()), k4 = heads(a.k, b, t, dims.kvHeads());
        kern.ropeForward(q4, positions, dims.invFreq(), q4);
        kern.ropeForward(k4, positions, dims.invFreq(), k4);
        kern.attentionForward(q4, k4, heads(a.v, b, t, dims.kvHeads()), a.mask, dims.attentionScale(),
                heads(a.att, b, t, dims.heads()), a.lse);
        o.forward(kern, a.att, a.h);
        kern.add(x, a.h, a.h);
    }

    /** out = h + down(silu(gate(n2)) ⊙ up(n2)), n2 = RMSNorm(h). */
    private void mlpForward(Kernels kern, LayerActivations a, Tensor out) {
        mlpHidden(kern, a);
        down.forward(kern, a.act, out);
        kern.add(a.h, out, out);
    }

    /** a.act = silu(gate(n2)) ⊙ up(n2), n2 = RMSNorm(h): the MLP up to down_proj's input. */
    private void mlpHidden(Kernels kern, LayerActivations a) {
        kern.rmsNormForward(a.h, postAttentionNorm.value(), dims.normEps(), a.n2, a.rstd2);
        gate.forward(kern, a.n2, a.gate);
        up.forward(kern, a.n2, a.up);
        kern.swigluForward(a.gate, a.up, a.act);
    }

    /**
     * Backward of {@link #forward}. On entry {@code dres} holds d(out); on exit it holds d(x) when
     * {@code wantInputGrad}, else it is left partly updated. Weight gradients accumulate.
     */
    void backward(Kernels kern, Tensor x, int b, int t, int[] positions, LayerActivations a, LayerGradients g,
                  Tensor dres, boolean wantInputGrad) {
        // MLP branch: dres is d(out) = d(h) through the residual, plus the branch below.
        g.dact.zero();
        down.backward(kern, dres, a.act, g.dact);
        g.dgate.zero();
        g.dup.zero();
        kern.swigluBackward(g.dact, a.gate, a.up, g.dgate, g.dup);
        g.dn.zero();
        gate.backward(kern, g.dgate, a.n2, g.dn);
        up.backward(kern, g.dup, a.n2, g.dn);
        kern.rmsNormBackward(g.dn, a.h, postAttentionNorm.value(), a.rstd2, dres, postAttentionNorm.grad());

        // Attention branch: dres is now d(h) = d(x) through the residual, plus the branch below.
        boolean attentionInputs = wantInputGrad || inputNorm.trainable()
                || q.hasTrainables() || k.hasTrainables() || v.hasTrainables();
        if (!attentionInputs) {
            o.backward(kern, dres, a.att, null);
            return;
        }
        g.datt.zero();
        o.backward(kern, dres, a.att, g.datt);
        g.dqRot.zero();
        g.dkRot.zero();
        g.dv.zero();
        kern.attentionBackward(heads(g.datt, b, t, dims.heads()), heads(a.q, b, t, dims.heads()),
                heads(a.k, b, t, dims.kvHeads()), heads(a.v, b, t, dims.kvHeads()), a.mask, dims.attentionScale(),
                heads(a.att, b, t, dims.heads()), a.lse, heads(g.dqRot, b, t, dims.heads()), heads(g.dkRot, b, t, dims.kvHeads()),
                heads(g.dv, b, t, dims.kvHeads()));
        g.dq.zero();
        g.dk.zero();
        kern.ropeBackward(heads(g.dqRot, b, t, dims.heads()), positions, dims.invFreq(), heads(g.dq, b, t, dims.heads()));
        kern.ropeBackward(heads(g.dkRot, b, t, dims.kvHeads()), positions, dims.invFreq(), heads(g.dk, b, t, dims.kvHeads()));
        g.dn.zero();
        q.backward(kern, g.dq, a.n1, g.dn);
        k.backward(kern, g.dk, a.n1, g.dn);
        v.backward(kern, g.dv, a.n1, g.dn);
        kern.rmsNormBackward(g.dn, x, inputNorm.value(), a.rstd1, wantInputGrad ? dres : null, inputNorm.grad());
    }

    /**
     * Forward of n new tokens of one sequence at positions start..start+n-1 against a KV cache
     * [capacity, kvDim] holding the first {@code start} positions; appends the new keys and values.
     */
    void forwardCached(Kernels kern, Tensor x, int start, int[] positions, Tensor kCache, Tensor vCache,
                       LayerActivations a, Tensor out) {
        int n = (int) x.dim(0), s = start + n;
        kern.rmsNormForward(x, inputNorm.value(), dims.normEps(), a.n1, a.rstd1);
        q.forward(kern, a.n1, a.q);
        k.forward(kern, a.n1, a.k);
        v.forward(kern, a.n1, a.v);
        Tensor q4 = heads(a.q, 1, n, dims.heads()), k4 = heads(a.k, 1, n, dims.kvHeads());
        kern.ropeForward(q4, positions, dims.invFreq(), q4);
        kern.ropeForward(k4, positions, dims.invFreq(), k4);
        kCache.slice(start, n).copyFrom(a.k);
        vCache.slice(start, n).copyFrom(a.v);
        Tensor keys = kCache.slice(0, s).reshape(1, s, dims.kvHeads(), dims.headDim());
        Tensor values = vCache.slice(0, s).reshape(1, s, dims.kvHeads(), dims.headDim());
        // The n queries sit at positions start.. of the s cached keys; no lse: nothing runs backward.
        kern.attentionForward(q4, keys, values, AttentionMask.causal(null).withWindow(window), dims.attentionScale(),
                heads(a.att, 1, n, dims.heads()), null);
        o.forward(kern, a.att, a.h);
        kern.add(x, a.h, a.h);
        mlpForward(kern, a, out);
    }

    /** [B·T, H·D] seen as [B, T, H, D]. */
    private Tensor heads(Tensor x, int b, int t, int h) {
        return x.reshape(b, t, h, dims.headDim());
    }
}
