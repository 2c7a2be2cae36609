package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;

/**
 * The fast CPU backend: jdk.incubator.vector kernels, multi-threaded over a fixed pool.
 *
 * <p>Vectorized here: linear forward / dX / dW / db, LoRA forward and backward, attention forward
 * and backward (fused, tiled: {@link VectorFlashAttention}), softmax, layer norm, RMS norm, GELU, SiLU, SwiGLU, cross-entropy, AdamW, sum of
 * squares, add, accumulate, scale, RoPE ({@link VectorRope}), embeddings ({@link VectorEmbedding}) and dropout
 * ({@link VectorDropout}). Norms with a non-F32 gamma and element-wise ops on strided views delegate to the
 * reference implementation. Work is split by output rows
 * (or output columns), never across a reduction, so results do not depend on the thread count.
 */
public final class VectorKernels implements Kernels, AutoCloseable {
    private final KernelPool pool;
    private final Kernels fallback;
    /** RoPE cos/sin of the last positions and frequencies seen (q and k, forward and backward share it). */
    private volatile VectorRope.Table ropeTable;

    /** A vector backend with one worker thread per available processor. */
    public VectorKernels() {
        this(Runtime.getRuntime().availableProcessors());
    }

    /** A vector backend with {@code threads} worker threads; unvectorized ops go to the reference kernels. */
    public VectorKernels(int threads) {
        this(threads, new ReferenceKernels());
    }

    /** A vector backend with {@code threads} worker threads; unvectorized ops go to {@code fallback}. */
    public VectorKernels(int threads, Kernels fallback) {
        this.pool = new KernelPool(threads);
        this.fallback = fallback;
    }

    @Override
    public String name() {
        return "vector";
    }

    @Override
    public int threads() {
        return pool.threads();
    }

    @Override
    public void close() {
        pool.close();
    }

    // ---- Linear ---------------------------------------------------------------------------------

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        Operand xo = Operand.of(x, "linear input x"), wo = Operand.of(w, "linear weight w");
        Operand yo = output(y, "linear output y");
        check(xo.cols() == wo.cols(), "linearForward: x " + x.describe() + " and w " + w.describe() + " differ in K");
        check(yo.rows() == xo.rows() && yo.cols() == wo.rows(),
                "linearForward: y " + y.describe() + ", expected [" + xo.rows() + ", " + wo.rows() + "]");
        Operand bo = b == null ? null : Operand.of(b.reshape(1, b.numel()), "linear bias b");
        check(bo == null || bo.cols() == wo.rows(), "linearForward: bias " + (b == null ? "" : b.describe()) + " != N " + wo.rows());
        if (xo.rows() < VectorMatVec.SMALL_ROWS) {
            VectorMatVec.forward(pool, xo, wo, bo, 1f, yo.seg(), yo.offset(), yo.rs());
        } else {
            VectorGemm.multiply(pool, xo, wo.transposed(), bo, yo.seg(), yo.offset(), yo.rs(), false);
        }
    }

    @Override
    public void linearBackwardInput(Tensor dy, Tensor w, Tensor dx) {
        if (dx == null) return;
        Operand dyo = Operand.of(dy, "linear dy"), wo = Operand.of(w, "linear weight w");
        Operand dxo = output(dx, "linear dx");
        check(dyo.cols() == wo.rows() && dxo.cols() == wo.cols() && dxo.rows() == dyo.rows(),
                "linearBackwardInput: dy " + dy.describe() + ", w " + w.describe() + ", dx " + dx.describe());
        if (dyo.rows() < VectorMatVec.SMALL_ROWS) {
            VectorMatVec.rowUpdate(pool, dyo, wo, 1f, dxo.seg(), dxo.offset(), dxo.rs());
        } else {
            VectorGemm.multiply(pool, dyo, wo, null, dxo.seg(), dxo.offset(), dxo.rs(), true);
        }
    }

    @Override
    public void linearBackwardWeight(Tensor dy, Tensor x, Tensor dw) {
        if (dw == null) return;
        Operand dyo = Operand.of(dy, "linear dy"), xo = Operand.of(x, "linear input x");
        Operand dwo = output(dw, "linear dw");
        check(dyo.rows() == xo.rows() && dwo.rows() == dyo.cols() && dwo.cols() == xo.cols(),
                "linearBackwardWeight: dy " + dy.describe() + ", x " + x.describe() + ", dw " + dw.describe());
        if (dyo.rows() < VectorMatVec.SMALL_ROWS) {
            VectorMatVec.rowUpdate(pool, dyo.transposed(), xo, 1f, dwo.seg(), dwo.offset(), dwo.rs());
        } else {
            VectorGemm.multiply(pool, dyo.transposed(), xo, null, dwo.seg(), dwo.offset(), dwo.rs(), true);
        }
    }

    @Override
    public void linearBackwardBias(Tensor dy, Tensor db) {
        if (db == null) return;
        Operand dyo = Operand.of(dy, "linear dy");
        Operand dbo = output(db.reshape(1, db.numel()), "linear db");
        check(dbo.cols() == dyo.cols(), "linearBackwardBias: db " + db.describe() + " vs dy " + dy.describe());
        VectorOps.columnSums(pool, dyo, dbo.seg(), dbo.offset());
    }

    // ---- LoRA -----------------------------------------------------------------------------------

    @Override
    public void loraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y) {
        Operand xo = Operand.of(x, "lora x"), ao = Operand.of(a, "lora A"), bo = Operand.of(b, "lora B");
        Operand ho = output(h, "lora h"), yo = output(y, "lora y");
        checkLora(xo, ao, bo, ho, yo, x, a, b, h, y);
        VectorMatVec.forward(pool, xo, ao, null, 1f, ho.seg(), ho.offset(), ho.rs());
        VectorMatVec.rowUpdate(pool, ho, rowsContiguous(bo.transposed()), scale, yo.seg(), yo.offset(), yo.rs());
    }

    @Override
    public void linearLoraForward(Tensor x, Tensor w, Tensor bias, Tensor xa, Tensor a, Tensor b, float scale,
                                  Tensor h, Tensor y) {
        Operand xo = Operand.of(x, "linear input x");
        if (xo.rows() < VectorMatVec.SMALL_ROWS || xo.cols() == 0 || xo.dtype() != DType.F32) {
            Kernels.super.linearLoraForward(x, w, bias, xa, a, b, scale, h, y);
            return;
        }
        Operand wo = Operand.of(w, "linear weight w"), yo = output(y, "linear output y");
        check(xo.cols() == wo.cols(), "linearForward: x " + x.describe() + " and w " + w.describe() + " differ in K");
        check(yo.rows() == xo.rows() && yo.cols() == wo.rows(),
                "linearForward: y " + y.describe() + ", expected [" + xo.rows() + ", " + wo.rows() + "]");
        Operand bo = bias == null ? null : Operand.of(bias.reshape(1, bias.numel()), "linear bias b");
        check(bo == null || bo.cols() == wo.rows(), "linearForward: bias " + (bias == null ? "" : bias.describe()) + " != N " + wo.rows());
        Operand xao = Operand.of(xa, "lora x"), ao = Operand.of(a, "lora A"), lbo = Operand.of(b, "lora B");
        Operand ho = output(h, "lora h");
        checkLora(xao, ao, lbo, ho, yo, xa, a, b, h, y);
        VectorLora.forward(pool, xo, wo, bo, xao, ao, lbo, scale, ho, yo);
    }

    private static void checkLora(Operand xo, Operand ao, Operand bo, Operand ho, Operand yo,
                                  Tensor x, Tensor a, Tensor b, Tensor h, Tensor y) {
        int r = ao.rows();
        check(ao.cols() == xo.cols() && bo.cols() == r && ho.rows() == xo.rows() && ho.cols() == r
                        && yo.rows() == xo.rows() && yo.cols() == bo.rows(),
                "loraForward: x " + x.describe() + ", A " + a.describe() + ", B " + b.describe() + ", h "
                        + h.describe() + ", y " + y.describe());
    }

    @Override
    public void loraBackward(Tensor dy, Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor dh,
                             Tensor da, Tensor db, Tensor dx) {
        Operand dyo = Operand.of(dy, "lora dy"), xo = Operand.of(x, "lora x"), ao = Operand.of(a, "lora A");
        if (dh == null) dh = Tensor.zeros(dy.rows(), a.dim(0)); // tolerated like the reference: scratch on the fly
        Operand bo = Operand.of(b, "lora B"), ho = Operand.of(h, "lora h"), dho = output(dh, "lora dh");
        int r = ao.rows();
        check(dho.rows() == dyo.rows() && dho.cols() == r && bo.rows() == dyo.cols() && bo.cols() == r
                        && ho.rows() == dyo.rows() && ho.cols() == r && xo.rows() == dyo.rows() && ao.cols() == xo.cols(),
                "loraBackward: dy " + dy.describe() + ", x " + x.describe() + ", A " + a.describe() + ", B "
                        + b.describe() + ", h " + h.describe() + ", dh " + dh.describe());
        Operand dao = da == null ? null : output(da, "lora dA"), dbo = db == null ? null : output(db, "lora dB");
        Operand dxo = dx == null ? null : output(dx, "lora dx");
        check(dao == null || (dao.rows() == r && dao.cols() == xo.cols()), "loraBackward: dA " + (da == null ? "" : da.describe()));
        check(dbo == null || (dbo.rows() == dyo.cols() && dbo.cols() == r), "loraBackward: dB " + (db == null ? "" : db.describe()));
        check(dxo == null || (dxo.rows() == xo.rows() && dxo.cols() == xo.cols()), "loraBackward: dx " + (dx == null ? "" : dx.describe()));
        if (!VectorLora.supports(dyo, xo, ho)) {
            fallback.loraBackward(dy, x, a, b, scale, h, dh, da, db, dx);
            return;
        }
        VectorLora.backward(pool, dyo, xo, ao, bo, scale, ho, dho, dao, dbo, dxo);
    }

    /** The operand itself when its rows are contiguous, else a contiguous F32 copy (only for rank > 1 adapters). */
    private static Operand rowsContiguous(Operand o) {
        if (o.cs() == 1) return o;
        Tensor t = Tensor.zeros(o.rows(), o.cols());
        for (int i = 0; i < o.rows(); i++) for (int j = 0; j < o.cols(); j++) t.set(i, j, o.get(i, j));
        return Operand.of(t, "copy");
    }

    // ---- Attention ------------------------------------------------------------------------------

    @Override
    public void attentionForward(Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale, Tensor out, Tensor lse) {
        VectorFlashAttention.forward(pool, q, k, v, mask, scale, out, lse);
    }

    @Override
    public void attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale,
                                  Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv) {
        VectorFlashAttention.backward(pool, dout, q, k, v, mask, scale, out, lse, dq, dk, dv);
    }

    @Override
    public void softmaxForward(Tensor x, Tensor out) {
        VectorOps.softmaxForward(pool, Operand.of(x, "softmax x"), output(out, "softmax out"));
    }

    @Override
    public void softmaxBackward(Tensor dy, Tensor y, Tensor dx) {
        VectorOps.softmaxBackward(pool, Operand.of(dy, "softmax dy"), Operand.of(y, "softmax y"), output(dx, "softmax dx"));
    }

    // ---- Norms ----------------------------------------------------------------------------------

    @Override
    public void layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd) {
        if (gamma.dtype() != DType.F32 || (beta != null && beta.dtype() != DType.F32)) {
            fallback.layerNormForward(x, gamma, beta, eps, y, mean, rstd);
            return;
        }
        VectorOps.layerNormForward(pool, Operand.of(x, "layernorm x"), gamma, beta, eps, output(y, "layernorm y"),
                mean, rstd);
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx,
                                  Tensor dgamma, Tensor dbeta) {
        if (gamma.dtype() != DType.F32) {
            fallback.layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
            return;
        }
        VectorOps.layerNormBackward(pool, Operand.of(dy, "layernorm dy"), Operand.of(x, "layernorm x"), gamma, mean,
                rstd, dx == null ? null : output(dx, "layernorm dx"), dgamma, dbeta);
    }

    @Override
    public void rmsNormForward(Tensor x, Tensor gamma, float eps, Tensor y, Tensor rstd) {
        if (gamma.dtype() != DType.F32) {
            fallback.rmsNormForward(x, gamma, eps, y, rstd);
            return;
        }
        VectorOps.rmsNormForward(pool, Operand.of(x, "rmsnorm x"), gamma, eps, output(y, "rmsnorm y"), rstd);
    }

    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor rstd, Tensor dx, Tensor dgamma) {
        if (gamma.dtype() != DType.F32) {
            fallback.rmsNormBackward(dy, x, gamma, rstd, dx, dgamma);
            return;
        }
        VectorOps.rmsNormBackward(pool, Operand.of(dy, "rmsnorm dy"), Operand.of(x, "rmsnorm x"), gamma, rstd,
                dx == null ? null : output(dx, "rmsnorm dx"), dgamma);
    }

    // ---- Activations ----------------------------------------------------------------------------

    @Override
    public void geluForward(Tensor x, boolean tanhApprox, Tensor y) {
        if (!flatF32(x, y)) {
            fallback.geluForward(x, tanhApprox, y);
            return;
        }
        VectorOps.geluForward(pool, flat(x, "gelu x"), tanhApprox, flat(y, "gelu y"));
    }

    @Override
    public void geluBackward(Tensor dy, Tensor x, boolean tanhApprox, Tensor dx) {
        if (!flatF32(dy, x, dx)) {
            fallback.geluBackward(dy, x, tanhApprox, dx);
            return;
        }
        VectorOps.geluBackward(pool, flat(dy, "gelu dy"), flat(x, "gelu x"), tanhApprox, flat(dx, "gelu dx"));
    }

    @Override
    public void siluForward(Tensor x, Tensor y) {
        if (!flatF32(x, y)) {
            fallback.siluForward(x, y);
            return;
        }
        VectorOps.siluForward(pool, flat(x, "silu x"), null, flat(y, "silu y"));
    }

    @Override
    public void siluBackward(Tensor dy, Tensor x, Tensor dx) {
        if (!flatF32(dy, x, dx)) {
            fallback.siluBackward(dy, x, dx);
            return;
        }
        if (dx == null) return;
        VectorOps.siluBackward(pool, flat(dy, "silu dy"), flat(x, "silu x"), null, flat(dx, "silu dx"), null);
    }

    @Override
    public void swigluForward(Tensor gate, Tensor up, Tensor out) {
        if (!flatF32(gate, up, out)) {
            fallback.swigluForward(gate, up, out);
            return;
        }
        VectorOps.siluForward(pool, flat(gate, "swiglu gate"), flat(up, "swiglu up"), flat(out, "swiglu out"));
    }

    @Override
    public void swigluBackward(Tensor dout, Tensor gate, Tensor up, Tensor dgate, Tensor dup) {
        if (!flatF32(dout, gate, up, dgate, dup)) {
            fallback.swigluBackward(dout, gate, up, dgate, dup);
            return;
        }
        if (dgate == null && dup == null) return;
        VectorOps.siluBackward(pool, flat(dout, "swiglu dout"), flat(gate, "swiglu gate"), flat(up, "swiglu up"),
                dgate == null ? null : flat(dgate, "swiglu dgate"), dup == null ? null : flat(dup, "swiglu dup"));
    }

    // ---- Positions and embeddings ---------------------------------------------------------------

    @Override
    public void ropeForward(Tensor x, int[] positions, float[] invFreq, Tensor out) {
        if (!VectorRope.supports(x, out)) {
            fallback.ropeForward(x, positions, invFreq, out);
            return;
        }
        VectorRope.rotate(pool, "ropeForward", ropeTable(positions, invFreq), x, out, false);
    }

    @Override
    public void ropeBackward(Tensor dout, int[] positions, float[] invFreq, Tensor dx) {
        if (!VectorRope.supports(dout, dx)) {
            fallback.ropeBackward(dout, positions, invFreq, dx);
            return;
        }
        VectorRope.rotate(pool, "ropeBackward", ropeTable(positions, invFreq), dout, dx, true);
    }

    /** The cos/sin table of the last call when positions and frequencies are unchanged, else a new one. */
    private VectorRope.Table ropeTable(int[] positions, float[] invFreq) {
        VectorRope.Table t = VectorRope.Table.reuseOrBuild(ropeTable, positions, invFreq);
        ropeTable = t;
        return t;
    }

    @Override
    public void embeddingForward(int[] ids, Tensor table, Tensor out) {
        if (out.dtype() != DType.F32) {
            fallback.embeddingForward(ids, table, out);
            return;
        }
        VectorEmbedding.forward(pool, ids, table, out);
    }

    @Override
    public void embeddingBackward(int[] ids, Tensor dout, Tensor dtable) {
        VectorEmbedding.backward(pool, ids, dout, dtable);
    }

    // ---- Elementwise ----------------------------------------------------------------------------

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        if (!flatF32(a, b, out)) {
            fallback.add(a, b, out);
            return;
        }
        VectorOps.add(pool, flat(a, "add a"), flat(b, "add b"), flat(out, "add out"));
    }

    @Override
    public void accumulate(Tensor src, float scale, Tensor dst) {
        if (!flatF32(src, dst)) {
            fallback.accumulate(src, scale, dst);
            return;
        }
        VectorOps.accumulate(pool, flat(src, "accumulate src"), scale, flat(dst, "accumulate dst"));
    }

    @Override
    public void scale(Tensor dst, float scale) {
        if (!flatF32(dst)) {
            fallback.scale(dst, scale);
            return;
        }
        VectorOps.scale(pool, flat(dst, "scale dst"), scale);
    }

    @Override
    public void dropoutForward(Tensor x, float p, long seed, Tensor mask, Tensor y) {
        if (!flatF32(x, mask, y) || !sameShape(x, mask, y)) {
            fallback.dropoutForward(x, p, seed, mask, y); // its error names the mismatch
            return;
        }
        VectorDropout.forward(pool, flat(x, "dropout x"), p, seed, flat(mask, "dropout mask"), flat(y, "dropout y"));
    }

    @Override
    public void dropoutBackward(Tensor dy, Tensor mask, Tensor dx) {
        if (!flatF32(dy, mask, dx) || !sameShape(mask, dy, dx)) {
            fallback.dropoutBackward(dy, mask, dx);
            return;
        }
        VectorDropout.backward(pool, flat(dy, "dropout dy"), flat(mask, "dropout mask"), flat(dx, "dropout dx"));
    }

    // ---- Loss -----------------------------------------------------------------------------------

    @Override
    public double crossEntropyForward(Tensor logits, int[] targets, int ignoreIndex, Tensor losses) {
        return VectorOps.crossEntropyForward(pool, Operand.of(logits, "cross-entropy logits"), targets, ignoreIndex,
                losses);
    }

    @Override
    public void crossEntropyBackward(Tensor logits, int[] targets, int ignoreIndex, float scale, Tensor dlogits) {
        VectorOps.crossEntropyBackward(pool, Operand.of(logits, "cross-entropy logits"), targets, ignoreIndex, scale,
                output(dlogits, "cross-entropy dlogits"));
    }

    @Override
    public void chunkedCrossEntropyForward(Tensor logits, int[] targets, long vocabOffset, boolean first, Tensor state) {
        Operand lo = Operand.of(logits, "chunked cross-entropy logits");
        if (lo.dtype() != DType.F32 || state.dtype() != DType.F32 || state.numel() != 3L * targets.length
                || lo.rows() != targets.length) {
            Kernels.super.chunkedCrossEntropyForward(logits, targets, vocabOffset, first, state); // its checks and messages
            return;
        }
        VectorOps.chunkedCrossEntropyForward(pool, lo, targets, vocabOffset, first,
                output(state.reshape(targets.length, 3), "chunked cross-entropy state"));
    }

    @Override
    public void chunkedCrossEntropyBackward(Tensor logits, int[] targets, long vocabOffset, int ignoreIndex, Tensor lse,
                                            float scale) {
        Operand lo = Operand.of(logits, "chunked cross-entropy logits");
        if (lo.dtype() != DType.F32 || lse.numel() != targets.length || lo.rows() != targets.length) {
            Kernels.super.chunkedCrossEntropyBackward(logits, targets, vocabOffset, ignoreIndex, lse, scale);
            return;
        }
        VectorOps.chunkedCrossEntropyBackward(pool, output(logits, "chunked cross-entropy logits"), targets, vocabOffset,
                ignoreIndex, lse, scale);
    }

    // ---- Optimizer ------------------------------------------------------------------------------

    @Override
    public void adamwStep(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                          float eps, float weightDecay, long step) {
        if (!flatF32(param, grad, m, v)) {
            fallback.adamwStep(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
            return;
        }
        VectorOps.adamw(pool, flat(param, "adamw param"), flat(grad, "adamw grad"), flat(m, "adamw m"),
                flat(v, "adamw v"), lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override
    public double sumOfSquares(Tensor g) {
        if (!flatF32(g)) return fallback.sumOfSquares(g);
        return VectorOps.sumOfSquares(pool, flat(g, "sumOfSquares g"));
    }

    // ---- Helpers --------------------------------------------------------------------------------

    /** An F32 output (or in-place) matrix. */
    private static Operand output(Tensor t, String what) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(what + " " + t.describe() + " must be F32");
        return Operand.of(t, what);
    }

    /** True when every non-null tensor is contiguous F32 (else the op goes to the reference kernels). */
    private static boolean flatF32(Tensor... ts) {
        for (Tensor t : ts) if (t != null && (t.dtype() != DType.F32 || !t.isContiguous())) return false;
        return true;
    }

    /** True when every tensor has the first one's shape. */
    private static boolean sameShape(Tensor first, Tensor... others) {
        for (Tensor t : others) if (!java.util.Arrays.equals(first.shape(), t.shape())) return false;
        return true;
    }

    /** A contiguous F32 tensor as a flat vector: (segment, element offset, length). */
    private static Operand flat(Tensor t, String what) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(what + " " + t.describe() + " must be F32");
        t.requireContiguous(what);
        return new Operand(t.data(), DType.F32, t.offset(), t.numel(), 1, 1, Math.toIntExact(t.numel()));
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }
}
