package dev.xgblora.train;

/**
 * Classification metrics from predicted and true labels: accuracy, F1 (the positive class for two
 * classes, macro-averaged otherwise) and Matthews correlation (Gorodkin's multi-class form, which
 * equals the usual formula for two classes); perplexity from a mean loss.
 */
public final class Metrics {
    private Metrics() {
    }

    public record Classification(double accuracy, double f1, double mcc, int n) {
    }

    public static Classification classification(int[] predicted, int[] truth, int classes) {
        if (predicted.length != truth.length) throw new IllegalArgumentException("predictions and labels differ in length");
        int n = truth.length;
        long[][] cm = new long[classes][classes];
        int correct = 0;
        for (int i = 0; i < n; i++) {
            cm[truth[i]][predicted[i]]++;
            if (truth[i] == predicted[i]) correct++;
        }
        double f1;
        if (classes == 2) {
            f1 = f1Of(cm, 1);
        } else {
            double s = 0;
            for (int c = 0; c < classes; c++) s += f1Of(cm, c);
            f1 = s / classes;
        }
        // MCC = (c·s − Σ p_k t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²))
        double s = n, c = correct, pt = 0, pp = 0, tt = 0;
        for (int k = 0; k < classes; k++) {
            double pk = 0, tk = 0;
            for (int j = 0; j < classes; j++) {
                pk += cm[j][k];
                tk += cm[k][j];
            }
            pt += pk * tk;
            pp += pk * pk;
            tt += tk * tk;
        }
        double den = Math.sqrt((s * s - pp) * (s * s - tt));
        double mcc = den == 0 ? 0 : (c * s - pt) / den;
        return new Classification(n == 0 ? 0 : (double) correct / n, f1, mcc, n);
    }

    private static double f1Of(long[][] cm, int c) {
        double tp = cm[c][c], fp = 0, fn = 0;
        for (int k = 0; k < cm.length; k++) {
            if (k == c) continue;
            fp += cm[k][c];
            fn += cm[c][k];
        }
        return tp == 0 ? 0 : 2 * tp / (2 * tp + fp + fn);
    }

    public static double perplexity(double meanLoss) {
        return Math.exp(meanLoss);
    }
}
