package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReferenceLossOptimizerTest {
    private static final int IGNORE = -100;
    private final Kernels k = new ReferenceKernels();
    private final Random random = new Random(17);

    @Test
    void crossEntropyKnownValues() {
        // uniform logits: loss = ln V for any target
        Tensor uniform = Tensor.zeros(2, 8);
        assertEquals(Math.log(8), k.crossEntropyForward(uniform, new int[] {3, 7}, IGNORE, null), 1e-12);
        // huge logits stay finite (log-sum-exp): [1000, 0] → loss 0 for target 0, 1000 for target 1
        Tensor big = Tensor.fromArray(new float[] {1000, 0, 1000, 0}, 2, 2);
        Tensor losses = Tensor.zeros(2);
        double mean = k.crossEntropyForward(big, new int[] {0, 1}, IGNORE, losses);
        assertEquals(0.0, losses.get(0), 1e-30);
        assertEquals(1000.0, losses.get(1), 1e-3);
        assertEquals(500.0, mean, 1e-3);
        // a hand-computed row: logits [1, 2, 3], target 0 → ln(e + e² + e³) − 1
        Tensor row = Tensor.fromArray(new float[] {1, 2, 3}, 1, 3);
        assertEquals(Math.log(Math.E + Math.exp(2) + Math.exp(3)) - 1, k.crossEntropyForward(row, new int[] {0}, IGNORE, null), 1e-12);
    }

    @Test
    void ignoredRowsDoNotCount() {
        Tensor logits = randn(random, 2f, 4, 5);
        Tensor losses = Tensor.zeros(4);
        losses.fill(7f);
        double mean = k.crossEntropyForward(logits, new int[] {1, IGNORE, 4, IGNORE}, IGNORE, losses);
        assertEquals(0f, losses.get(1));
        assertEquals(0f, losses.get(3));
        assertEquals((losses.get(0) + losses.get(2)) / 2.0, mean, 1e-6);
        Tensor only = Tensor.zeros(2, 5);
        for (int c = 0; c < 5; c++) {
            only.set(0, c, logits.get(0, c));
            only.set(1, c, logits.get(2, c));
        }
        assertEquals(k.crossEntropyForward(only, new int[] {1, 4}, IGNORE, null), mean, 1e-12);
        assertEquals(0.0, k.crossEntropyForward(logits, new int[] {IGNORE, IGNORE, IGNORE, IGNORE}, IGNORE, null));
        var e = assertThrows(IllegalArgumentException.class,
                () -> k.crossEntropyForward(logits, new int[] {0, 5, 0, 0}, IGNORE, null));
        assertTrue(e.getMessage().contains("targets[1] = 5"), e.getMessage());
    }

    @Test
    void crossEntropyBackwardMatchesFiniteDifferencesOfTheMeanLoss() {
        Tensor logits = randn(random, 2f, 5, 7);
        int[] targets = {2, IGNORE, 0, 6, IGNORE};
        Loss loss = () -> k.crossEntropyForward(logits, targets, IGNORE, null);
        Tensor d = zerosLike(logits);
        k.crossEntropyBackward(logits, targets, IGNORE, 1f / 3, d);
        assertGradient("cross-entropy", logits, d, loss, 1e-2, 1e-5, 2e-3);
        for (int c = 0; c < 7; c++) {
            assertEquals(0f, d.get(1, c), "ignored row has no gradient");
            assertEquals(0f, d.get(4, c));
        }
        // rows of softmax − onehot sum to zero; backward accumulates
        double rowSum = 0;
        for (int c = 0; c < 7; c++) rowSum += d.get(0, c);
        assertEquals(0, rowSum, 1e-6);
        Tensor d2 = d.copy();
        k.crossEntropyBackward(logits, targets, IGNORE, 1f / 3, d2);
        for (int i = 0; i < 35; i++) assertEquals(2 * d.get(i), d2.get(i), 1e-6);
    }

    @Test
    void adamwStepMatchesTheFormulaByHand() {
        float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f;
        long step = 3;
        double[] p0 = {0.5, -1.0, 2.0}, g = {0.1, -0.2, 0.0}, m0 = {0.05, 0.01, -0.3}, v0 = {0.001, 0.04, 0.002};
        Tensor p = tensor(p0), grad = tensor(g), m = tensor(m0), v = tensor(v0);
        k.adamwStep(p, grad, m, v, lr, b1, b2, eps, wd, step);
        for (int i = 0; i < 3; i++) {
            double pi = (float) p0[i], gi = (float) g[i];
            pi = pi - (double) lr * wd * pi;
            double mi = b1 * (float) m0[i] + (1 - (double) b1) * gi;
            double vi = b2 * (float) v0[i] + (1 - (double) b2) * gi * gi;
            double mHat = mi / (1 - Math.pow(b1, 3)), vHat = vi / (1 - Math.pow(b2, 3));
            pi = pi - lr * mHat / (Math.sqrt(vHat) + eps);
            assertEquals(mi, m.get(i), 1e-7 * Math.abs(mi) + 1e-12, "m[" + i + "]");
            assertEquals(vi, v.get(i), 1e-7 * Math.abs(vi) + 1e-12, "v[" + i + "]");
            assertEquals(pi, p.get(i), 1e-6 * Math.abs(pi), "p[" + i + "]");
        }
        // the first step moves every parameter with a non-zero gradient by about lr (bias correction)
        Tensor q = tensor(new double[] {1, 1}), qm = Tensor.zeros(2), qv = Tensor.zeros(2);
        k.adamwStep(q, tensor(new double[] {3, -1e-3}), qm, qv, lr, b1, b2, 0f, 0f, 1);
        assertEquals(1 - lr, q.get(0), 1e-6);
        assertEquals(1 + lr, q.get(1), 1e-6);
        assertThrows(IllegalArgumentException.class, () -> k.adamwStep(q, q, qm, qv, lr, b1, b2, eps, wd, 0));
    }

    private static Tensor tensor(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
        return Tensor.fromArray(f, f.length);
    }
}
