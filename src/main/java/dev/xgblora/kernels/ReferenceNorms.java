package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;

/** LayerNorm and RMSNorm for {@link ReferenceKernels}: per-row loops, statistics in double. */
final class ReferenceNorms {
    private ReferenceNorms() {
    }

    /** Per-row statistics [M] (any shape holding M values, e.g. [B, T]). */
    private static Mat stats(Tensor t, String what, long rows) {
        Mat m = Mat.of(t, what);
        if (m.numel() != rows) {
            throw new IllegalArgumentException(what + " " + t.describe() + " must hold one value per row (" + rows + ")");
        }
        return m.requireF32(what);
    }

    static void layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd) {
        String op = "layerNormForward";
        Mat mx = Mat.of(x, op + " x");
        long c = mx.cols;
        Mat mg = Mat.of(gamma, op + " gamma", 1, c);
        Mat mb = Mat.of(beta, op + " beta", 1, c);
        Mat my = Mat.of(y, op + " y", mx.rows, c);
        Mat mm = stats(mean, op + " mean", mx.rows);
        Mat mr = stats(rstd, op + " rstd", mx.rows);
        for (long i = 0; i < mx.rows; i++) {
            double sum = 0;
            for (long j = 0; j < c; j++) sum += mx.get(i, j);
            double mu = sum / c;
            double sq = 0;
            for (long j = 0; j < c; j++) {
                double d = mx.get(i, j) - mu;
                sq += d * d;
            }
            double r = 1.0 / Math.sqrt(sq / c + eps); // biased variance, as PyTorch
            // Row i is read completely before y is written, so y may alias x.
            double[] out = new double[Math.toIntExact(c)];
            for (int j = 0; j < c; j++) out[j] = (mx.get(i, j) - mu) * r * mg.get(0, j) + mb.get(0, j);
            for (int j = 0; j < c; j++) my.set(i, j, (float) out[j]);
            mm.set(i, (float) mu);
            mr.set(i, (float) r);
        }
    }

    static void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dx, Tensor dgamma, Tensor dbeta) {
        String op = "layerNormBackward";
        Mat mx = Mat.of(x, op + " x");
        long c = mx.cols;
        Mat mdy = Mat.of(dy, op + " dy", mx.rows, c);
        Mat mg = Mat.of(gamma, op + " gamma", 1, c);
        Mat mm = stats(mean, op + " mean", mx.rows);
        Mat mr = stats(rstd, op + " rstd", mx.rows);
        Mat mdx = dx == null ? null : Mat.of(dx, op + " dx", mx.rows, c).requireF32(op + " dx");
        Mat mdg = dgamma == null ? null : Mat.of(dgamma, op + " dgamma", 1, c).requireF32(op + " dgamma");
        Mat mdb = dbeta == null ? null : Mat.of(dbeta, op + " dbeta", 1, c).requireF32(op + " dbeta");
        double[] dgSum = new double[Math.toIntExact(c)];
        double[] dbSum = new double[Math.toIntExact(c)];
        for (long i = 0; i < mx.rows; i++) {
            double mu = mm.get(i), r = mr.get(i);
            // x̂ = (x − μ)·r; g = dy·γ;  dx = r · (g − mean(g) − x̂ · mean(g ⊙ x̂)).
            double meanG = 0, meanGx = 0;
            for (int j = 0; j < c; j++) {
                double xh = (mx.get(i, j) - mu) * r;
                double g = (double) mdy.get(i, j) * mg.get(0, j);
                meanG += g;
                meanGx += g * xh;
                dgSum[j] += mdy.get(i, j) * xh;
                dbSum[j] += mdy.get(i, j);
            }
            meanG /= c;
            meanGx /= c;
            if (mdx != null) {
                for (int j = 0; j < c; j++) {
                    double xh = (mx.get(i, j) - mu) * r;
                    double g = (double) mdy.get(i, j) * mg.get(0, j);
                    mdx.add(i, j, r * (g - meanG - xh * meanGx));
                }
            }
        }
        for (int j = 0; j < c; j++) {
            if (mdg != null) mdg.add(0, j, dgSum[j]);
            if (mdb != null) mdb.add(0, j, dbSum[j]);
        }
    }

    static void rmsNormForward(Tensor x, Tensor gamma, float eps, Tensor y, Tensor rstd) {
        String op = "rmsNormForward";
        Mat mx = Mat.of(x, op + " x");
        long c = mx.cols;
        Mat mg = Mat.of(gamma, op + " gamma", 1, c);
        Mat my = Mat.of(y, op + " y", mx.rows, c);
        Mat mr = stats(rstd, op + " rstd", mx.rows);
        for (long i = 0; i < mx.rows; i++) {
            double sq = 0;
            for (long j = 0; j < c; j++) {
                double v = mx.get(i, j);
                sq += v * v;
            }
            double r = 1.0 / Math.sqrt(sq / c + eps);
            double[] out = new double[Math.toIntExact(c)];
            for (int j = 0; j < c; j++) out[j] = mx.get(i, j) * r * mg.get(0, j);
            for (int j = 0; j < c; j++) my.set(i, j, (float) out[j]);
            mr.set(i, (float) r);
        }
    }

    static void rmsNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor rstd, Tensor dx, Tensor dgamma) {
        String op = "rmsNormBackward";
        Mat mx = Mat.of(x, op + " x");
        long c = mx.cols;
        Mat mdy = Mat.of(dy, op + " dy", mx.rows, c);
        Mat mg = Mat.of(gamma, op + " gamma", 1, c);
        Mat mr = stats(rstd, op + " rstd", mx.rows);
        Mat mdx = dx == null ? null : Mat.of(dx, op + " dx", mx.rows, c).requireF32(op + " dx");
        Mat mdg = dgamma == null ? null : Mat.of(dgamma, op + " dgamma", 1, c).requireF32(op + " dgamma");
        double[] dgSum = new double[Math.toIntExact(c)];
        for (long i = 0; i < mx.rows; i++) {
            double r = mr.get(i);
            // x̂ = x·r; g = dy·γ;  dx = r · (g − x̂ · mean(g ⊙ x̂)).
            double meanGx = 0;
            for (int j = 0; j < c; j++) {
                double xh = mx.get(i, j) * r;
                meanGx += (double) mdy.get(i, j) * mg.get(0, j) * xh;
                dgSum[j] += mdy.get(i, j) * xh;
            }
            meanGx /= c;
            if (mdx != null) {
                for (int j = 0; j < c; j++) {
                    double xh = mx.get(i, j) * r;
                    mdx.add(i, j, r * ((double) mdy.get(i, j) * mg.get(0, j) - xh * meanGx));
                }
            }
        }
        if (mdg != null) {
            for (int j = 0; j < c; j++) mdg.add(0, j, dgSum[j]);
        }
    }
}
