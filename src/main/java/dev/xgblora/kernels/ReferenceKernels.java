package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;
import java.util.SplittableRandom;

/**
 * The oracle: every op as plain scalar loops with double accumulation, PyTorch semantics.
 * Obviously correct rather than fast; every fast implementation is tested against it.
 * Reads weights of any dtype (bf16/f16 widened on read) and accepts strided views.
 *
 * <p>Beyond the interface contract it is lenient in a few harmless ways (callers should not rely
 * on them with other implementations): per-row statistics (mean, rstd) may have any shape holding
 * one value per row; loraBackward's dh scratch may be null; dropout accepts p = 1 (all dropped).
 * Outputs must not alias inputs except where the interface allows it (softmax, add, rope); the
 * reference also tolerates y aliasing x in the norms and the element-wise activations.
 */
public final class ReferenceKernels implements Kernels {

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public int threads() {
        return 1;
    }

    // ---- Linear ---------------------------------------------------------------------------------

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        String op = "linearForward";
        Mat mw = weight(op + " w", w);
        long n = mw.rows, k = mw.cols;
        Mat mx = Mat.of(x, op + " x");
        requireCols(op + " x", mx, k);
        long m = mx.rows;
        Mat mb = b == null ? null : Mat.of(b, op + " b", 1, n);
        Mat my = Mat.of(y, op + " y", m, n);
        for (long i = 0; i < m; i++) {
            for (long j = 0; j < n; j++) {
                double acc = mb == null ? 0 : mb.get(0, j);
                for (long l = 0; l < k; l++) acc += (double) mx.get(i, l) * mw.get(j, l);
                my.set(i, j, (float) acc);
            }
        }
    }

    @Override
    public void linearBackwardInput(Tensor dy, Tensor w, Tensor dx) {
        String op = "linearBackwardInput";
        Mat mw = weight(op + " w", w);
        long n = mw.rows, k = mw.cols;
        Mat mdy = Mat.of(dy, op + " dy");
        requireCols(op + " dy", mdy, n);
        Mat mdx = Mat.of(dx, op + " dx", mdy.rows, k).requireF32(op + " dx");
        for (long i = 0; i < mdy.rows; i++) {
            for (long l = 0; l < k; l++) {
                double acc = 0;
                for (long j = 0; j < n; j++) acc += (double) mdy.get(i, j) * mw.get(j, l);
                mdx.add(i, l, acc);
            }
        }
    }

    @Override
    public void linearBackwardWeight(Tensor dy, Tensor x, Tensor dw) {
        String op = "linearBackwardWeight";
        Mat mdy = Mat.of(dy, op + " dy");
        Mat mx = Mat.of(x, op + " x");
        if (mx.rows != mdy.rows) {
            throw new IllegalArgumentException(op + ": dy " + dy.describe() + " and x " + x.describe() + " differ in rows");
        }
        Mat mdw = Mat.of(dw, op + " dw", mdy.cols, mx.cols).requireF32(op + " dw");
        for (long j = 0; j < mdy.cols; j++) {
            for (long l = 0; l < mx.cols; l++) {
                double acc = 0;
                for (long i = 0; i < mdy.rows; i++) acc += (double) mdy.get(i, j) * mx.get(i, l);
                mdw.add(j, l, acc);
            }
        }
    }

    @Override
    public void linearBackwardBias(Tensor dy, Tensor db) {
        String op = "linearBackwardBias";
        Mat mdy = Mat.of(dy, op + " dy");
        Mat mdb = Mat.of(db, op + " db", 1, mdy.cols).requireF32(op + " db");
        for (long j = 0; j < mdy.cols; j++) {
            double acc = 0;
            for (long i = 0; i < mdy.rows; i++) acc += mdy.get(i, j);
            mdb.add(0, j, acc);
        }
    }

    // ---- LoRA -----------------------------------------------------------------------------------

    @Override
    public void loraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y) {
        String op = "loraForward";
        Mat ma = weight(op + " a", a);
        long r = ma.rows, k = ma.cols;
        Mat mx = Mat.of(x, op + " x");
        requireCols(op + " x", mx, k);
        long m = mx.rows;
        Mat mb = weight(op + " b", b);
        if (mb.cols != r) throw new IllegalArgumentException(op + ": b " + b.describe() + " must be [N, " + r + "]");
        long n = mb.rows;
        Mat mh = Mat.of(h, op + " h", m, r);
        Mat my = Mat.of(y, op + " y", m, n);
        for (long i = 0; i < m; i++) {
            for (long q = 0; q < r; q++) {
                double acc = 0;
                for (long l = 0; l < k; l++) acc += (double) mx.get(i, l) * ma.get(q, l);
                mh.set(i, q, (float) acc);
            }
            for (long j = 0; j < n; j++) {
                double acc = 0;
                for (long q = 0; q < r; q++) acc += (double) mh.get(i, q) * mb.get(j, q);
                my.add(i, j, scale * acc);
            }
        }
    }

    @Override
    public void loraBackward(Tensor dy, Tensor x, Tensor a, Tensor b, float scale, Tensor h,
                             Tensor dh, Tensor da, Tensor db, Tensor dx) {
        String op = "loraBackward";
        Mat ma = weight(op + " a", a);
        long r = ma.rows, k = ma.cols;
        Mat mb = weight(op + " b", b);
        if (mb.cols != r) throw new IllegalArgumentException(op + ": b " + b.describe() + " must be [N, " + r + "]");
        long n = mb.rows;
        Mat mdy = Mat.of(dy, op + " dy");
        requireCols(op + " dy", mdy, n);
        long m = mdy.rows;
        Mat mx = Mat.of(x, op + " x", m, k);
        Mat mh = Mat.of(h, op + " h", m, r);
        Mat mdh = dh == null ? null : Mat.of(dh, op + " dh", m, r).requireF32(op + " dh");
        Mat mda = da == null ? null : Mat.of(da, op + " da", r, k).requireF32(op + " da");
        Mat mdb = db == null ? null : Mat.of(db, op + " db", n, r).requireF32(op + " db");
        Mat mdx = dx == null ? null : Mat.of(dx, op + " dx", m, k).requireF32(op + " dx");

        // dh = scale · dy · b, kept in double for da and dx; the dh tensor receives a float copy.
        double[][] dhv = new double[Math.toIntExact(m)][Math.toIntExact(r)];
        for (int i = 0; i < m; i++) {
            for (int q = 0; q < r; q++) {
                double acc = 0;
                for (long j = 0; j < n; j++) acc += (double) mdy.get(i, j) * mb.get(j, q);
                dhv[i][q] = scale * acc;
                if (mdh != null) mdh.set(i, q, (float) dhv[i][q]);
            }
        }
        if (mdb != null) {
            for (long j = 0; j < n; j++) {
                for (long q = 0; q < r; q++) {
                    double acc = 0;
                    for (long i = 0; i < m; i++) acc += (double) mdy.get(i, j) * mh.get(i, q);
                    mdb.add(j, q, scale * acc);
                }
            }
        }
        if (mda != null) {
            for (int q = 0; q < r; q++) {
                for (long l = 0; l < k; l++) {
                    double acc = 0;
                    for (int i = 0; i < m; i++) acc += dhv[i][q] * mx.get(i, l);
                    mda.add(q, l, acc);
                }
            }
        }
        if (mdx != null) {
            for (int i = 0; i < m; i++) {
                for (long l = 0; l < k; l++) {
                    double acc = 0;
                    for (int q = 0; q < r; q++) acc += dhv[i][q] * ma.get(q, l);
                    mdx.add(i, l, acc);
                }
            }
        }
    }

    // ---- Attention and softmax ------------------------------------------------------------------

    @Override
    public void attentionForward(Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale, Tensor out, Tensor lse) {
        ReferenceAttention.forward(q, k, v, mask, scale, out, lse);
    }

    @Override
    public void attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale,
                                  Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv) {
        ReferenceAttention.backward(dout, q, k, v, mask, scale, out, lse, dq, dk, dv);
    }

    @Override
    public void softmaxForward(Tensor x, Tensor out) {
        String op = "softmaxForward";
        Mat mx = Mat.of(x, op + " x");
        Mat mo = Mat.of(out, op + " out", mx.rows, mx.cols);
        double[] e = new double[Math.toIntExact(mx.cols)];
        for (long i = 0; i < mx.rows; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < e.length; j++) max = Math.max(max, mx.get(i, j));
            double sum = 0;
            for (int j = 0; j < e.length; j++) {
                e[j] = Math.exp(mx.get(i, j) - max);
                sum += e[j];
            }
            for (int j = 0; j < e.length; j++) mo.set(i, j, (float) (e[j] / sum));
        }
    }

    @Override
    public void softmaxBackward(Tensor dy, Tensor y, Tensor dx) {
        String op = "softmaxBackward";
        Mat my = Mat.of(y, op + " y");
        Mat mdy = Mat.of(dy, op + " dy", my.rows, my.cols);
        Mat mdx = Mat.of(dx, op + " dx", my.rows, my.cols).requireF32(op + " dx");
        for (long i = 0; i < my.rows; i++) {
            double dot = 0;
            for (long j = 0; j < my.cols; j++) dot += (double) mdy.get(i, j) * my.get(i, j);
            for (long j = 0; j < my.cols; j++) mdx.add(i, j, my.get(i, j) * (mdy.get(i, j) - dot));
        }
    }

    // ---- Norms ----------------------------------------------------------------------------------

    @Override
    public void layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd) {
        ReferenceNorms.layerNormForward(x, gamma, beta, eps, y, mean, rstd);
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dx, Tensor dgamma, Tensor dbeta) {
        ReferenceNorms.layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
    }

    @Override
    public void rmsNormForward(Tensor x, Tensor gamma, float eps, Tensor y, Tensor rstd) {
        ReferenceNorms.rmsNormForward(x, gamma, eps, y, rstd);
    }

    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor rstd, Tensor dx, Tensor dgamma) {
        ReferenceNorms.rmsNormBackward(dy, x, gamma, rstd, dx, dgamma);
    }

    // ---- Activations ----------------------------------------------------------------------------

    @Override
    public void geluForward(Tensor x, boolean tanhApprox, Tensor y) {
        Mat mx = Mat.of(x, "geluForward x");
        Mat my = Mat.of(y, "geluForward y", mx.rows, mx.cols);
        for (long i = 0; i < mx.numel(); i++) my.set(i, (float) ScalarActivations.gelu(mx.get(i), tanhApprox));
    }

    @Override
    public void geluBackward(Tensor dy, Tensor x, boolean tanhApprox, Tensor dx) {
        Mat mx = Mat.of(x, "geluBackward x");
        Mat mdy = Mat.of(dy, "geluBackward dy", mx.rows, mx.cols);
        Mat mdx = Mat.of(dx, "geluBackward dx", mx.rows, mx.cols).requireF32("geluBackward dx");
        for (long i = 0; i < mx.numel(); i++) {
            double g = mdy.get(i) * ScalarActivations.geluDerivative(mx.get(i), tanhApprox);
            mdx.set(i, (float) (mdx.get(i) + g));
        }
    }

    @Override
    public void siluForward(Tensor x, Tensor y) {
        Mat mx = Mat.of(x, "siluForward x");
        Mat my = Mat.of(y, "siluForward y", mx.rows, mx.cols);
        for (long i = 0; i < mx.numel(); i++) my.set(i, (float) ScalarActivations.silu(mx.get(i)));
    }

    @Override
    public void siluBackward(Tensor dy, Tensor x, Tensor dx) {
        Mat mx = Mat.of(x, "siluBackward x");
        Mat mdy = Mat.of(dy, "siluBackward dy", mx.rows, mx.cols);
        Mat mdx = Mat.of(dx, "siluBackward dx", mx.rows, mx.cols).requireF32("siluBackward dx");
        for (long i = 0; i < mx.numel(); i++) {
            mdx.set(i, (float) (mdx.get(i) + mdy.get(i) * ScalarActivations.siluDerivative(mx.get(i))));
        }
    }

    @Override
    public void swigluForward(Tensor gate, Tensor up, Tensor out) {
        Mat mg = Mat.of(gate, "swigluForward gate");
        Mat mu = Mat.of(up, "swigluForward up", mg.rows, mg.cols);
        Mat mo = Mat.of(out, "swigluForward out", mg.rows, mg.cols);
        for (long i = 0; i < mg.numel(); i++) mo.set(i, (float) (ScalarActivations.silu(mg.get(i)) * mu.get(i)));
    }

    @Override
    public void swigluBackward(Tensor dout, Tensor gate, Tensor up, Tensor dgate, Tensor dup) {
        String op = "swigluBackward";
        Mat mg = Mat.of(gate, op + " gate");
        Mat mu = Mat.of(up, op + " up", mg.rows, mg.cols);
        Mat mdo = Mat.of(dout, op + " dout", mg.rows, mg.cols);
        Mat mdg = dgate == null ? null : Mat.of(dgate, op + " dgate", mg.rows, mg.cols).requireF32(op + " dgate");
        Mat mdu = dup == null ? null : Mat.of(dup, op + " dup", mg.rows, mg.cols).requireF32(op + " dup");
        for (long i = 0; i < mg.numel(); i++) {
            double g = mg.get(i), d = mdo.get(i);
            if (mdg != null) mdg.set(i, (float) (mdg.get(i) + d * mu.get(i) * ScalarActivations.siluDerivative(g)));
            if (mdu != null) mdu.set(i, (float) (mdu.get(i) + d * ScalarActivations.silu(g)));
        }
    }

    // ---- Positions and embeddings ---------------------------------------------------------------

    @Override
    public void ropeForward(Tensor x, int[] positions, float[] invFreq, Tensor out) {
        ReferenceRope.rotate("ropeForward", x, positions, invFreq, out, +1, false);
    }

    @Override
    public void ropeBackward(Tensor dout, int[] positions, float[] invFreq, Tensor dx) {
        ReferenceRope.rotate("ropeBackward", dout, positions, invFreq, dx, -1, true);
    }

    @Override
    public void embeddingForward(int[] ids, Tensor table, Tensor out) {
        String op = "embeddingForward";
        Mat mt = weight(op + " table", table);
        Mat mo = Mat.of(out, op + " out", ids.length, mt.cols);
        for (int i = 0; i < ids.length; i++) {
            checkId(op, ids, i, mt.rows);
            for (long c = 0; c < mt.cols; c++) mo.set(i, c, mt.get(ids[i], c));
        }
    }

    @Override
    public void embeddingBackward(int[] ids, Tensor dout, Tensor dtable) {
        String op = "embeddingBackward";
        Mat mt = weight(op + " dtable", dtable).requireF32(op + " dtable");
        Mat mdo = Mat.of(dout, op + " dout", ids.length, mt.cols);
        for (int i = 0; i < ids.length; i++) checkId(op, ids, i, mt.rows);
        // Sum repeated ids in double, then add once per table row.
        java.util.Map<Integer, double[]> sums = new java.util.TreeMap<>();
        for (int i = 0; i < ids.length; i++) {
            double[] s = sums.computeIfAbsent(ids[i], id -> new double[Math.toIntExact(mt.cols)]);
            for (int c = 0; c < s.length; c++) s[c] += mdo.get(i, c);
        }
        sums.forEach((id, s) -> {
            for (int c = 0; c < s.length; c++) mt.add(id, c, s[c]);
        });
    }

    static void checkId(String op, int[] ids, int i, long vocab) {
        if (ids[i] < 0 || ids[i] >= vocab) {
            throw new IllegalArgumentException(op + ": ids[" + i + "] = " + ids[i] + " is outside the table of " + vocab + " rows");
        }
    }

    // ---- Elementwise ----------------------------------------------------------------------------

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        Mat ma = Mat.of(a, "add a");
        Mat mb = Mat.of(b, "add b", ma.rows, ma.cols);
        Mat mo = Mat.of(out, "add out", ma.rows, ma.cols);
        for (long i = 0; i < ma.numel(); i++) mo.set(i, (float) ((double) ma.get(i) + mb.get(i)));
    }

    @Override
    public void accumulate(Tensor src, float scale, Tensor dst) {
        Mat ms = Mat.of(src, "accumulate src");
        Mat md = Mat.of(dst, "accumulate dst", ms.rows, ms.cols);
        for (long i = 0; i < ms.numel(); i++) md.set(i, (float) (md.get(i) + (double) scale * ms.get(i)));
    }

    @Override
    public void scale(Tensor dst, float scale) {
        Mat md = Mat.of(dst, "scale dst");
        for (long i = 0; i < md.numel(); i++) md.set(i, md.get(i) * scale);
    }

    @Override
    public void dropoutForward(Tensor x, float p, long seed, Tensor mask, Tensor y) {
        String op = "dropoutForward";
        if (!(p >= 0f && p <= 1f)) throw new IllegalArgumentException(op + ": p must be in [0, 1], got " + p);
        Mat mx = Mat.of(x, op + " x");
        Mat mm = Mat.of(mask, op + " mask", mx.rows, mx.cols).requireF32(op + " mask");
        Mat my = Mat.of(y, op + " y", mx.rows, mx.cols);
        float keepScale = (float) (1.0 / (1.0 - p));
        SplittableRandom random = new SplittableRandom(seed);
        for (long i = 0; i < mx.numel(); i++) {
            float m = random.nextDouble() >= p ? keepScale : 0f;
            mm.set(i, m);
            my.set(i, mx.get(i) * m);
        }
    }

    @Override
    public void dropoutBackward(Tensor dy, Tensor mask, Tensor dx) {
        Mat mm = Mat.of(mask, "dropoutBackward mask");
        Mat mdy = Mat.of(dy, "dropoutBackward dy", mm.rows, mm.cols);
        Mat mdx = Mat.of(dx, "dropoutBackward dx", mm.rows, mm.cols).requireF32("dropoutBackward dx");
        for (long i = 0; i < mm.numel(); i++) mdx.set(i, (float) (mdx.get(i) + (double) mdy.get(i) * mm.get(i)));
    }

    // ---- Loss -----------------------------------------------------------------------------------

    @Override
    public double crossEntropyForward(Tensor logits, int[] targets, int ignoreIndex, Tensor losses) {
        String op = "crossEntropyForward";
        Mat ml = Mat.of(logits, op + " logits");
        requireRows(op + " logits", ml, targets.length);
        Mat mloss = losses == null ? null : Mat.of(losses, op + " losses", 1, targets.length);
        double total = 0;
        int counted = 0;
        for (int i = 0; i < targets.length; i++) {
            double loss = 0;
            if (targets[i] != ignoreIndex) {
                checkTarget(op, targets, i, ml.cols);
                loss = logSumExp(ml, i) - ml.get(i, targets[i]);
                total += loss;
                counted++;
            }
            if (mloss != null) mloss.set(0, i, (float) loss);
        }
        return counted == 0 ? 0.0 : total / counted;
    }

    @Override
    public void crossEntropyBackward(Tensor logits, int[] targets, int ignoreIndex, float scale, Tensor dlogits) {
        String op = "crossEntropyBackward";
        Mat ml = Mat.of(logits, op + " logits");
        requireRows(op + " logits", ml, targets.length);
        Mat md = Mat.of(dlogits, op + " dlogits", ml.rows, ml.cols).requireF32(op + " dlogits");
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] == ignoreIndex) continue;
            checkTarget(op, targets, i, ml.cols);
            double lse = logSumExp(ml, i);
            for (long j = 0; j < ml.cols; j++) {
                double p = Math.exp(ml.get(i, j) - lse);
                md.add(i, j, scale * (p - (j == targets[i] ? 1.0 : 0.0)));
            }
        }
    }

    /** log Σ exp(row), stable: the row maximum is factored out. */
    private static double logSumExp(Mat m, long row) {
        double max = Double.NEGATIVE_INFINITY;
        for (long j = 0; j < m.cols; j++) max = Math.max(max, m.get(row, j));
        double sum = 0;
        for (long j = 0; j < m.cols; j++) sum += Math.exp(m.get(row, j) - max);
        return max + Math.log(sum);
    }

    private static void checkTarget(String op, int[] targets, int i, long classes) {
        if (targets[i] < 0 || targets[i] >= classes) {
            throw new IllegalArgumentException(op + ": targets[" + i + "] = " + targets[i]
                    + " is not a class index in [0, " + classes + ") nor the ignore index");
        }
    }

    // ---- Optimizer ------------------------------------------------------------------------------

    @Override
    public void adamwStep(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                          float eps, float weightDecay, long step) {
        String op = "adamwStep";
        if (step < 1) throw new IllegalArgumentException(op + ": step counts from 1, got " + step);
        Mat mp = Mat.of(param, op + " param").requireF32(op + " param");
        Mat mg = Mat.of(grad, op + " grad", mp.rows, mp.cols);
        Mat mm = Mat.of(m, op + " m", mp.rows, mp.cols).requireF32(op + " m");
        Mat mv = Mat.of(v, op + " v", mp.rows, mp.cols).requireF32(op + " v");
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        for (long i = 0; i < mp.numel(); i++) {
            double p = mp.get(i), g = mg.get(i);
            p -= (double) lr * weightDecay * p;
            double mi = beta1 * (double) mm.get(i) + (1 - (double) beta1) * g;
            double vi = beta2 * (double) mv.get(i) + (1 - (double) beta2) * g * g;
            p -= lr * (mi / bc1) / (Math.sqrt(vi / bc2) + eps);
            mm.set(i, (float) mi);
            mv.set(i, (float) vi);
            mp.set(i, (float) p);
        }
    }

    @Override
    public double sumOfSquares(Tensor g) {
        Mat mg = Mat.of(g, "sumOfSquares g");
        double sum = 0;
        for (long i = 0; i < mg.numel(); i++) {
            double x = mg.get(i);
            sum += x * x;
        }
        return sum;
    }

    // ---- Checks ---------------------------------------------------------------------------------

    /** A weight matrix: rank 2, any dtype. */
    private static Mat weight(String what, Tensor w) {
        if (w == null) throw new IllegalArgumentException(what + " must not be null");
        if (w.rank() != 2) throw new IllegalArgumentException(what + " must be a matrix, got " + w.describe());
        return Mat.of(w, what);
    }

    private static void requireRows(String what, Mat m, long rows) {
        if (m.rows != rows) {
            throw new IllegalArgumentException(what + " " + m.t.describe() + " has " + m.rows + " rows, expected " + rows);
        }
    }

    private static void requireCols(String what, Mat m, long cols) {
        if (m.cols != cols) {
            throw new IllegalArgumentException(what + " " + m.t.describe() + " has last dimension " + m.cols
                    + ", expected " + cols);
        }
    }
}
