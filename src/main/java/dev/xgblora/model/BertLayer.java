package dev.xgblora.model;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;
import java.util.List;
import java.util.function.Function;

/**
 * One post-LN BERT layer (Hugging Face {@code BertLayer}):
 * <pre>
 *   res1 = x + attnOut(attention(query(x), key(x), value(x)))      h1 = LN1(res1)
 *   res2 = h1 + output(gelu(intermediate(h1)))                       y  = LN2(res2)
 * </pre>
 * Forward writes its activations into a {@link Buffers} set: the layer's own set when backward will
 * run through it, a shared set otherwise (forward-only layers keep nothing).
 */
final class BertLayer {
    final int index;
    final Linear query, key, value, attnOut, intermediate, output;
    final Param ln1Gamma, ln1Beta, ln2Gamma, ln2Beta;
    private final BertConfig cfg;
    private final boolean tanhGelu;
    private final float attnScale;

    /** The activations of one forward pass, views into grow-only scratch. */
    static final class Buffers {
        final Scratch sq = new Scratch(), sk = new Scratch(), sv = new Scratch(), sLse = new Scratch(),
                sCtx = new Scratch(), sRes1 = new Scratch(), sH1 = new Scratch(), sMean1 = new Scratch(),
                sRstd1 = new Scratch(), sInter = new Scratch(), sAct = new Scratch(), sRes2 = new Scratch(),
                sMean2 = new Scratch(), sRstd2 = new Scratch(), sOut = new Scratch();
        Tensor x, q, k, v, lse, ctx, res1, h1, mean1, rstd1, inter, act, res2, mean2, rstd2, out;
        AttentionMask mask;

        long capacityFloats() {
            long n = 0;
            for (Scratch s : List.of(sq, sk, sv, sLse, sCtx, sRes1, sH1, sMean1, sRstd1, sInter, sAct, sRes2,
                    sMean2, sRstd2, sOut)) n += s.capacity();
            return n;
        }
    }

    /** Gradient scratch shared by all layers (backward runs one layer at a time). */
    static final class GradBuffers {
        final Scratch sA = new Scratch(), sB = new Scratch(), sAct = new Scratch(), sInter = new Scratch(),
                sCtx = new Scratch(), sQ = new Scratch(), sK = new Scratch(), sV = new Scratch();
    }

    BertLayer(BertConfig cfg, int index, String prefix, Function<String, Tensor> weights) {
        this.cfg = cfg;
        this.index = index;
        this.tanhGelu = BertConfig.geluTanh(cfg.hiddenAct());
        this.attnScale = (float) (1.0 / Math.sqrt(cfg.headDim()));
        String p = prefix + "encoder.layer." + index + ".";
        query = linear(weights, p + "attention.self.query", "query");
        key = linear(weights, p + "attention.self.key", "key");
        value = linear(weights, p + "attention.self.value", "value");
        attnOut = linear(weights, p + "attention.output.dense", BertEncoder.ATTN_OUT);
        intermediate = linear(weights, p + "intermediate.dense", "intermediate");
        output = linear(weights, p + "output.dense", "output");
        int c = cfg.hiddenSize(), ff = cfg.intermediateSize();
        query.weight().value().requireShape(c, c);
        key.weight().value().requireShape(c, c);
        value.weight().value().requireShape(c, c);
        attnOut.weight().value().requireShape(c, c);
        intermediate.weight().value().requireShape(ff, c);
        output.weight().value().requireShape(c, ff);
        ln1Gamma = BertEncoder.param(weights, p + "attention.output.LayerNorm.weight", false, c);
        ln1Beta = BertEncoder.param(weights, p + "attention.output.LayerNorm.bias", false, c);
        ln2Gamma = BertEncoder.param(weights, p + "output.LayerNorm.weight", false, c);
        ln2Beta = BertEncoder.param(weights, p + "output.LayerNorm.bias", false, c);
    }

    private Linear linear(Function<String, Tensor> weights, String name, String module) {
        Param w = BertEncoder.param(weights, name + ".weight", true);
        Param b = BertEncoder.param(weights, name + ".bias", false);
        return new Linear(name, index, module, w, b);
    }

    List<Linear> linears() {
        return List.of(query, key, value, attnOut, intermediate, output);
    }

    List<Param> params() {
        return List.of(query.weight(), query.bias(), key.weight(), key.bias(), value.weight(), value.bias(),
                attnOut.weight(), attnOut.bias(), ln1Gamma, ln1Beta, intermediate.weight(), intermediate.bias(),
                output.weight(), output.bias(), ln2Gamma, ln2Beta);
    }

    /** Whether backward has anything to train in this layer (a trainable param or an adapter). */
    boolean hasTrainables() {
        for (Linear l : linears()) if (l.hasTrainables()) return true;
        return ln1Gamma.trainable() || ln1Beta.trainable() || ln2Gamma.trainable() || ln2Beta.trainable();
    }

    /**
     * x [B*T, C] → buffers.out [B*T, C]. keyValid [B, T]: 1 for real tokens, 0 for padding.
     * The output goes into {@code outScratch}; x must not live in {@code buf} nor in outScratch.
     */
    Tensor forward(Kernels kn, Tensor x, Tensor keyValid, int batch, int len, Buffers buf, Scratch outScratch) {
        int c = cfg.hiddenSize(), h = cfg.numHeads(), ff = cfg.intermediateSize();
        long n = (long) batch * len;
        buf.x = x;
        buf.q = buf.sq.view(n, c);
        buf.k = buf.sk.view(n, c);
        buf.v = buf.sv.view(n, c);
        buf.lse = buf.sLse.view(batch, h, len);
        buf.mask = AttentionMask.padding(keyValid);
        buf.ctx = buf.sCtx.view(n, c);
        buf.res1 = buf.sRes1.view(n, c);
        buf.h1 = buf.sH1.view(n, c);
        buf.mean1 = buf.sMean1.view(n);
        buf.rstd1 = buf.sRstd1.view(n);
        buf.inter = buf.sInter.view(n, ff);
        buf.act = buf.sAct.view(n, ff);
        buf.res2 = buf.sRes2.view(n, c);
        buf.mean2 = buf.sMean2.view(n);
        buf.rstd2 = buf.sRstd2.view(n);
        buf.out = outScratch.view(n, c);

        query.forward(kn, x, buf.q);
        key.forward(kn, x, buf.k);
        value.forward(kn, x, buf.v);
        kn.attentionForward(heads(buf.q, batch, len), heads(buf.k, batch, len), heads(buf.v, batch, len), buf.mask,
                attnScale, heads(buf.ctx, batch, len), buf.lse);
        attnOut.forward(kn, buf.ctx, buf.res1);
        kn.add(buf.res1, x, buf.res1);
        kn.layerNormForward(buf.res1, ln1Gamma.value(), ln1Beta.value(), cfg.normEps(), buf.h1, buf.mean1, buf.rstd1);
        intermediate.forward(kn, buf.h1, buf.inter);
        kn.geluForward(buf.inter, tanhGelu, buf.act);
        output.forward(kn, buf.act, buf.res2);
        kn.add(buf.res2, buf.h1, buf.res2);
        kn.layerNormForward(buf.res2, ln2Gamma.value(), ln2Beta.value(), cfg.normEps(), buf.out, buf.mean2, buf.rstd2);
        return buf.out;
    }

    /**
     * Backward from dOut (gradient of this layer's output; only read). Accumulates into trainable
     * params and adapters. Returns the gradient of the layer input when {@code wantInputGrad}, else
     * null. The returned tensor is one of {@code g}'s two ping-pong buffers, never dOut itself, so it
     * can be passed straight to the layer below.
     */
    Tensor backward(Kernels kn, Tensor dOut, Buffers buf, GradBuffers g, int batch, int len, boolean wantInputGrad) {
        int c = cfg.hiddenSize(), ff = cfg.intermediateSize();
        long n = (long) batch * len;
        // dA and dB alternate roles; the caller's dOut may be the dB of the layer above, which is
        // consumed by LN2 backward before dB is overwritten.
        Tensor dA = g.sA.view(n, c);
        Tensor dB = g.sB.view(n, c);
        if (dOut.sameMemory(dA)) throw new IllegalStateException("dOut must not be the dA buffer");

        dA.zero();
        kn.layerNormBackward(dOut, buf.res2, ln2Gamma.value(), buf.mean2, buf.rstd2, dA, ln2Gamma.grad(), ln2Beta.grad());
        // dA = d res2: flows into the output dense and, unchanged, into h1 (residual).
        Tensor dAct = g.sAct.view(n, ff);
        dAct.zero();
        output.backward(kn, dA, buf.act, dAct);
        Tensor dInter = g.sInter.view(n, ff);
        dInter.zero();
        kn.geluBackward(dAct, buf.inter, tanhGelu, dInter);
        intermediate.backward(kn, dInter, buf.h1, dA); // dA += …: now d h1 (residual + MLP)

        dB.zero();
        kn.layerNormBackward(dA, buf.res1, ln1Gamma.value(), buf.mean1, buf.rstd1, dB, ln1Gamma.grad(), ln1Beta.grad());
        // dB = d res1: flows into the attention output dense and, unchanged, into x (residual).
        Tensor dCtx = g.sCtx.view(n, c);
        dCtx.zero();
        attnOut.backward(kn, dB, buf.ctx, dCtx);
        Tensor dq = g.sQ.view(n, c), dk = g.sK.view(n, c), dv = g.sV.view(n, c);
        dq.zero();
        dk.zero();
        dv.zero();
        kn.attentionBackward(heads(dCtx, batch, len), heads(buf.q, batch, len), heads(buf.k, batch, len),
                heads(buf.v, batch, len), buf.mask, attnScale, heads(buf.ctx, batch, len), buf.lse,
                heads(dq, batch, len), heads(dk, batch, len), heads(dv, batch, len));
        Tensor dx = wantInputGrad ? dB : null; // dx += …: residual already in dB
        query.backward(kn, dq, buf.x, dx);
        key.backward(kn, dk, buf.x, dx);
        value.backward(kn, dv, buf.x, dx);
        return dx;
    }

    private Tensor heads(Tensor t, int batch, int len) {
        return t.reshape(batch, len, cfg.numHeads(), cfg.headDim());
    }
}
