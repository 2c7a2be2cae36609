package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;
import java.util.List;

/**
 * The task-head ops of {@link Kernels} (pooling, tanh, chunked LM cross-entropy, the global squared
 * norm) as plain loops with double accumulation: the reference every backend is tested against, and
 * the default of the contract's methods (CPU backends need nothing faster: these ops touch a
 * [B·T, C] state once per step).
 */
final class ReferenceHeads {
    /** sentence-transformers' clamp of the token count in mean pooling. */
    static final double MIN_COUNT = 1e-9;

    private ReferenceHeads() {
    }

    /** Batch B (out's rows) and sequence length T = mask.length / B, checking hidden is [B·T, C]. */
    private static int seqLen(String op, Mat hidden, Mat pooled, int maskLength) {
        long b = pooled.rows;
        if (b == 0 || maskLength % b != 0 || hidden.rows != maskLength || hidden.cols != pooled.cols) {
            throw new IllegalArgumentException(op + ": hidden " + hidden.t.describe() + ", pooled " + pooled.t.describe()
                    + " and a mask of " + maskLength + " need hidden [B·T, C], pooled [B, C], mask B·T");
        }
        return (int) (maskLength / b);
    }

    private static double count(int[] mask, int first, int t) {
        double n = 0;
        for (int j = 0; j < t; j++) n += mask[first + j];
        return n;
    }

    static void meanPoolForward(Tensor hidden, int[] mask, Tensor out) {
        String op = "meanPoolForward";
        Mat mh = Mat.of(hidden, op + " hidden"), mo = Mat.of(out, op + " out").requireF32(op + " out");
        int t = seqLen(op, mh, mo, mask.length);
        double[] acc = new double[(int) mh.cols];
        for (int b = 0; b < mo.rows; b++) {
            java.util.Arrays.fill(acc, 0);
            for (int j = 0; j < t; j++) {
                int m = mask[b * t + j];
                if (m == 0) continue;
                for (int c = 0; c < acc.length; c++) acc[c] += m * (double) mh.get((long) b * t + j, c);
            }
            double inv = 1.0 / Math.max(count(mask, b * t, t), MIN_COUNT);
            for (int c = 0; c < acc.length; c++) mo.set(b, c, (float) (acc[c] * inv));
        }
    }

    static void meanPoolBackward(Tensor dOut, int[] mask, Tensor dHidden) {
        String op = "meanPoolBackward";
        Mat md = Mat.of(dOut, op + " dOut"), mh = Mat.of(dHidden, op + " dHidden").requireF32(op + " dHidden");
        int t = seqLen(op, mh, md, mask.length);
        for (int b = 0; b < md.rows; b++) {
            double inv = 1.0 / Math.max(count(mask, b * t, t), MIN_COUNT);
            for (int j = 0; j < t; j++) {
                int m = mask[b * t + j];
                if (m == 0) continue;
                for (long c = 0; c < md.cols; c++) mh.add((long) b * t + j, c, m * inv * md.get(b, c));
            }
        }
    }

    private static Mat firstTokens(String op, Tensor hidden, Tensor pooled, int seqLen) {
        Mat mh = Mat.of(hidden, op + " hidden"), mp = Mat.of(pooled, op + " pooled");
        if (seqLen < 1 || mh.rows != mp.rows * seqLen || mh.cols != mp.cols) {
            throw new IllegalArgumentException(op + ": hidden " + hidden.describe() + " must be [B·" + seqLen + ", C] for pooled "
                    + pooled.describe());
        }
        return mh;
    }

    static void clsPoolForward(Tensor hidden, int seqLen, Tensor out) {
        Mat mh = firstTokens("clsPoolForward", hidden, out, seqLen), mo = Mat.of(out, "clsPoolForward out");
        for (long b = 0; b < mo.rows; b++) {
            for (long c = 0; c < mo.cols; c++) mo.set(b, c, mh.get(b * seqLen, c));
        }
    }

    static void clsPoolBackward(Tensor dOut, int seqLen, Tensor dHidden) {
        Mat mh = firstTokens("clsPoolBackward", dHidden, dOut, seqLen).requireF32("clsPoolBackward dHidden");
        Mat md = Mat.of(dOut, "clsPoolBackward dOut");
        for (long b = 0; b < md.rows; b++) {
            for (long c = 0; c < md.cols; c++) mh.add(b * seqLen, c, md.get(b, c));
        }
    }

    private static void sameCount(String op, Tensor a, Tensor b) {
        if (a.numel() != b.numel()) throw new IllegalArgumentException(op + ": " + a.describe() + " and " + b.describe() + " differ in size");
    }

    static void tanhForward(Tensor x, Tensor y) {
        sameCount("tanhForward", x, y);
        Mat mx = Mat.of(x, "tanhForward x"), my = Mat.of(y, "tanhForward y");
        for (long i = 0; i < mx.numel(); i++) my.set(i, (float) Math.tanh(mx.get(i)));
    }

    static void tanhBackward(Tensor dy, Tensor y, Tensor dx) {
        sameCount("tanhBackward", dy, y);
        sameCount("tanhBackward", dy, dx);
        Mat md = Mat.of(dy, "tanhBackward dy"), my = Mat.of(y, "tanhBackward y"), mx = Mat.of(dx, "tanhBackward dx").requireF32("tanhBackward dx");
        for (long i = 0; i < md.numel(); i++) {
            double v = my.get(i);
            mx.set(i, (float) (mx.get(i) + md.get(i) * (1 - v * v)));
        }
    }

    /** Checks a logits tile [rows, V] against its targets and a per-row state of {@code width} values. */
    private static Mat tile(String op, Tensor logits, int[] targets, Tensor state, int width) {
        Mat ml = Mat.of(logits, op + " logits");
        if (ml.rows != targets.length) {
            throw new IllegalArgumentException(op + ": logits " + logits.describe() + " has " + ml.rows + " rows, "
                    + targets.length + " targets given");
        }
        if (state.numel() != (long) width * targets.length) {
            throw new IllegalArgumentException(op + ": " + state.describe() + " must hold " + width + " value(s) per row ("
                    + targets.length + " rows)");
        }
        return ml;
    }

    static void chunkedCrossEntropyForward(Tensor logits, int[] targets, long vocabOffset, boolean first, Tensor state) {
        String op = "chunkedCrossEntropyForward";
        Mat ml = tile(op, logits, targets, state, 3);
        Mat ms = Mat.of(state, op + " state", targets.length, 3).requireF32(op + " state");
        for (int i = 0; i < targets.length; i++) {
            double mx = first ? Double.NEGATIVE_INFINITY : ms.get(i, 0);
            double old = mx;
            for (long j = 0; j < ml.cols; j++) mx = Math.max(mx, ml.get(i, j));
            double s = first ? 0 : ms.get(i, 1) * Math.exp(old - mx);
            for (long j = 0; j < ml.cols; j++) s += Math.exp(ml.get(i, j) - mx);
            ms.set(i, 0, (float) mx);
            ms.set(i, 1, (float) s);
            long t = targets[i] - vocabOffset;
            if (t >= 0 && t < ml.cols) ms.set(i, 2, ml.get(i, t));
            else if (first) ms.set(i, 2, 0f);
        }
    }

    static double chunkedCrossEntropyLoss(Tensor state, int[] targets, int ignoreIndex, Tensor lse) {
        String op = "chunkedCrossEntropyLoss";
        Mat ms = Mat.of(state, op + " state", targets.length, 3);
        if (lse.numel() != targets.length) throw new IllegalArgumentException(op + ": lse " + lse.describe() + " must hold " + targets.length + " values");
        Mat ml = Mat.of(lse, op + " lse").requireF32(op + " lse");
        double total = 0;
        for (int i = 0; i < targets.length; i++) {
            double l = ms.get(i, 0) + Math.log(ms.get(i, 1));
            ml.set(i, (float) l);
            if (targets[i] != ignoreIndex) total += l - ms.get(i, 2);
        }
        return total;
    }

    static void chunkedCrossEntropyBackward(Tensor logits, int[] targets, long vocabOffset, int ignoreIndex, Tensor lse, float scale) {
        String op = "chunkedCrossEntropyBackward";
        Mat ml = tile(op, logits, targets, lse, 1).requireF32(op + " logits");
        Mat mlse = Mat.of(lse, op + " lse");
        for (int i = 0; i < targets.length; i++) {
            double l = mlse.get(i);
            for (long j = 0; j < ml.cols; j++) {
                double g = targets[i] == ignoreIndex ? 0 : scale * Math.exp(ml.get(i, j) - l);
                if (targets[i] != ignoreIndex && targets[i] - vocabOffset == j) g -= scale;
                ml.set(i, j, (float) g);
            }
        }
    }

    static double sumOfSquares(Kernels k, List<Tensor> tensors) {
        double sum = 0;
        for (Tensor t : tensors) if (t.numel() > 0) sum += k.sumOfSquares(t);
        return sum;
    }
}
