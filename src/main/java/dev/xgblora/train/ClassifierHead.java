package dev.xgblora.train;

import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.util.Random;

/** The linear classification head of encoder and decoder classifiers, and its argmax. */
final class ClassifierHead {
    private ClassifierHead() {
    }

    /**
     * A trainable head {@code module} [classes, hidden], weight N(0, 0.02) from {@code seed} as
     * transformers initialises it, and a zero bias when {@code withBias}.
     */
    static Linear create(String module, int classes, int hidden, boolean withBias, long seed) {
        if (classes < 2) throw new IllegalArgumentException("classification needs at least 2 classes, got " + classes);
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
        return new Linear(module, -1, module, weight, bias);
    }

    /** The predicted class of each of the first {@code rows} rows of {@code logits} [rows, classes] (first on ties). */
    static int[] argmax(Tensor logits, int rows) {
        int classes = (int) logits.dim(1);
        int[] pred = new int[rows];
        for (int i = 0; i < rows; i++) {
            int best = 0;
            for (int c = 1; c < classes; c++) if (logits.get(i, c) > logits.get(i, best)) best = c;
            pred[i] = best;
        }
        return pred;
    }
}
