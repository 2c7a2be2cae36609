package dev.xgblora.adapt;

import dev.xgblora.tensor.Tensor;

/** Small dense helpers for the gradient-aligned booster start: vectors in double, modified Gram–Schmidt. */
final class Orthonormal {
    private Orthonormal() {
    }

    /** The columns of a 2-D tensor, one double[] each. */
    static double[][] columns(Tensor t) {
        int rows = (int) t.dim(0), cols = (int) t.dim(1);
        double[][] out = new double[cols][rows];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) out[j][i] = t.get(i, j);
        return out;
    }

    /** The rows of a 2-D tensor, one double[] each. */
    static double[][] rows(Tensor t) {
        int rows = (int) t.dim(0), cols = (int) t.dim(1);
        double[][] out = new double[rows][cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) out[i][j] = t.get(i, j);
        return out;
    }

    /**
     * Orthonormalises the vectors in place, in order (modified Gram–Schmidt); false when one is zero,
     * not finite, or (nearly) in the span of those before it — the caller then keeps its own start.
     */
    static boolean orthonormalize(double[][] v) {
        for (int j = 0; j < v.length; j++) {
            double before = norm(v[j]);
            for (int q = 0; q < j; q++) {
                double dot = 0;
                for (int i = 0; i < v[j].length; i++) dot += v[j][i] * v[q][i];
                for (int i = 0; i < v[j].length; i++) v[j][i] -= dot * v[q][i];
            }
            double n = norm(v[j]);
            if (!(n > 1e-9 * before) || !Double.isFinite(n) || n == 0) return false;
            for (int i = 0; i < v[j].length; i++) v[j][i] /= n;
        }
        return true;
    }

    static boolean anyNonZero(Tensor t) {
        for (float x : t.toFloatArray()) if (x != 0f) return true;
        return false;
    }

    private static double norm(double[] x) {
        double s = 0;
        for (double e : x) s += e * e;
        return Math.sqrt(s);
    }
}
