package dev.xgblora.train;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import dev.xgblora.train.TaskModel.Prediction;
import java.util.Random;

/**
 * The linear classification head shared by encoder and decoder classifiers: the caller pools the
 * backbone's output into {@link #pooled}, then asks for the loss and its gradient, or a prediction.
 */
final class ClassifierHead {
    private final Kernels k;
    private final Linear linear;
    private final int classes, hidden;
    private Tensor pooled, logits, dLogits, dPooled;

    /**
     * A trainable head {@code module} [classes, hidden], weight N(0, 0.02) from {@code seed} as
     * transformers initialises it, and a zero bias when {@code withBias}.
     */
    ClassifierHead(Kernels k, String module, int classes, int hidden, boolean withBias, long seed) {
        if (classes < 2) throw new IllegalArgumentException("classification needs at least 2 classes, got " + classes);
        this.k = k;
        this.classes = classes;
        this.hidden = hidden;
        Random rng = new Random(seed);
        float[] w = new float[classes * hidden];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextGaussian() * 0.02);
        Param weight = new Param(module + ".weight", Tensor.fromArray(w, classes, hidden), true);
        weight.setTrainable(true);
        Param bias = null;
        if (withBias) {
            bias = new Param(module + ".bias", Tensor.zeros(classes), false);
            bias.setTrainable(true);
        }
        this.linear = new Linear(module, -1, module, weight, bias);
    }

    Linear linear() {
        return linear;
    }

    int classes() {
        return classes;
    }

    /** The pooled-features buffer [batch, hidden] to fill before {@link #forward}. */
    Tensor pooled(int batch) {
        if (pooled == null || pooled.dim(0) != batch) {
            pooled = Tensor.zeros(batch, hidden);
            logits = Tensor.zeros(batch, classes);
            dLogits = Tensor.zeros(batch, classes);
            dPooled = Tensor.zeros(batch, hidden);
        }
        return pooled;
    }

    /** Logits of the pooled features. */
    Tensor forward() {
        linear.forward(k, pooled, logits);
        return logits;
    }

    Tensor logits() {
        return logits;
    }

    /**
     * Mean cross-entropy of the last forward; accumulates the head's gradients (scaled by
     * {@code gradScale}) and returns them with the loss: the gradient of the pooled features (a
     * buffer kept across steps and zeroed here, so a device backend keeps it resident).
     */
    LossAndGrad backward(int[] labels, float gradScale) {
        int batch = (int) logits.dim(0);
        double loss = k.crossEntropyForward(logits, labels, Batch.IGNORE, null);
        dLogits.zero();
        k.crossEntropyBackward(logits, labels, Batch.IGNORE, gradScale / batch, dLogits);
        dPooled.zero();
        linear.backward(k, dLogits, pooled, dPooled);
        return new LossAndGrad(loss, dPooled);
    }

    record LossAndGrad(double loss, Tensor dPooled) {
    }

    /** Summed loss and the predicted class of each row of the last forward (first class on ties). */
    Prediction predict(int[] labels) {
        int rows = (int) logits.dim(0);
        double loss = k.crossEntropyForward(logits, labels, Batch.IGNORE, null);
        int[] pred = new int[rows];
        for (int i = 0; i < rows; i++) {
            int best = 0;
            for (int c = 1; c < classes; c++) if (logits.get(i, c) > logits.get(i, best)) best = c;
            pred[i] = best;
        }
        return new Prediction(loss * rows, rows, pred);
    }
}
