package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReferenceNormsTest {
    private static final float EPS = 1e-5f;
    private final Kernels k = new ReferenceKernels();
    private final Random random = new Random(11);

    @Test
    void layerNormNormalizesRowsAndSavesStatistics() {
        Tensor x = randn(random, 3f, 2, 3, 16);
        Tensor gamma = Tensor.zeros(16), beta = Tensor.zeros(16);
        gamma.fill(1f);
        Tensor y = Tensor.zeros(2, 3, 16), mean = Tensor.zeros(2, 3), rstd = Tensor.zeros(6);
        k.layerNormForward(x, gamma, beta, EPS, y, mean, rstd);
        for (int r = 0; r < 6; r++) {
            double mu = 0, m2 = 0, ym = 0, y2 = 0;
            for (int c = 0; c < 16; c++) {
                mu += x.get(r * 16 + c) / 16.0;
                ym += y.get(r * 16 + c) / 16.0;
            }
            for (int c = 0; c < 16; c++) {
                m2 += Math.pow(x.get(r * 16 + c) - mu, 2) / 16.0;
                y2 += Math.pow(y.get(r * 16 + c), 2) / 16.0;
            }
            assertEquals(mu, mean.get(r), 1e-6);
            assertEquals(1 / Math.sqrt(m2 + EPS), rstd.get(r), 1e-5 * rstd.get(r));
            assertEquals(0, ym, 1e-6);
            assertEquals(m2 / (m2 + EPS), y2, 1e-5); // biased variance, as PyTorch
        }
        // gamma and beta apply per column
        Tensor g2 = uniform(random, 0.5f, 2f, 16), b2 = randn(random, 1f, 16), y2 = Tensor.zeros(2, 3, 16);
        k.layerNormForward(x, g2, b2, EPS, y2, mean, rstd);
        for (int i = 0; i < 96; i++) assertEquals(y.get(i) * g2.get(i % 16) + b2.get(i % 16), y2.get(i), 1e-5);
    }

    @Test
    void layerNormBackwardMatchesFiniteDifferences() {
        Tensor x = randn(random, 1f, 4, 8), gamma = uniform(random, 0.5f, 1.5f, 8), beta = randn(random, 1f, 8);
        Tensor y = Tensor.zeros(4, 8), mean = Tensor.zeros(4), rstd = Tensor.zeros(4), r = randn(random, 1f, 4, 8);
        Loss loss = weightedSum(() -> k.layerNormForward(x, gamma, beta, EPS, y, mean, rstd), y, r);
        loss.eval();
        Tensor dx = zerosLike(x), dgamma = zerosLike(gamma), dbeta = zerosLike(beta);
        k.layerNormBackward(r, x, gamma, mean, rstd, dx, dgamma, dbeta);
        assertGradient("layernorm dx", x, dx, loss, 1e-3, 1e-4, 3e-3);
        assertGradient("layernorm dgamma", gamma, dgamma, loss);
        assertGradient("layernorm dbeta", beta, dbeta, loss);

        // frozen gamma/beta: null skips them, dx still accumulates
        Tensor dx2 = dx.copy();
        k.layerNormBackward(r, x, gamma, mean, rstd, dx2, null, null);
        for (int i = 0; i < dx.numel(); i++) assertEquals(2 * dx.get(i), dx2.get(i), 1e-5);
    }

    @Test
    void rmsNormScalesRowsToUnitRootMeanSquare() {
        Tensor x = randn(random, 2f, 5, 12), gamma = Tensor.zeros(12);
        gamma.fill(1f);
        Tensor y = Tensor.zeros(5, 12), rstd = Tensor.zeros(5);
        k.rmsNormForward(x, gamma, EPS, y, rstd);
        for (int r = 0; r < 5; r++) {
            double ms = 0, ys = 0;
            for (int c = 0; c < 12; c++) {
                ms += Math.pow(x.get(r * 12 + c), 2) / 12;
                ys += Math.pow(y.get(r * 12 + c), 2) / 12;
            }
            assertEquals(1 / Math.sqrt(ms + EPS), rstd.get(r), 1e-6 * rstd.get(r));
            assertEquals(ms / (ms + EPS), ys, 1e-5);
            for (int c = 0; c < 12; c++) assertEquals(Math.signum(x.get(r * 12 + c)), Math.signum(y.get(r * 12 + c)));
        }
    }

    @Test
    void rmsNormBackwardMatchesFiniteDifferences() {
        Tensor x = randn(random, 1f, 3, 2, 8), gamma = uniform(random, 0.5f, 1.5f, 8);
        Tensor y = Tensor.zeros(3, 2, 8), rstd = Tensor.zeros(3, 2), r = randn(random, 1f, 3, 2, 8);
        Loss loss = weightedSum(() -> k.rmsNormForward(x, gamma, EPS, y, rstd), y, r);
        loss.eval();
        Tensor dx = zerosLike(x), dgamma = zerosLike(gamma);
        k.rmsNormBackward(r, x, gamma, rstd, dx, dgamma);
        assertGradient("rmsnorm dx", x, dx, loss, 1e-3, 1e-4, 3e-3);
        assertGradient("rmsnorm dgamma", gamma, dgamma, loss);

        Tensor dg2 = dgamma.copy();
        k.rmsNormBackward(r, x, gamma, rstd, null, dg2);
        for (int i = 0; i < 8; i++) assertEquals(2 * dgamma.get(i), dg2.get(i), 1e-5);
    }

    @Test
    void rejectsStatisticsOfTheWrongSize() {
        Tensor x = Tensor.zeros(4, 8), g = Tensor.zeros(8);
        var e = assertThrows(IllegalArgumentException.class,
                () -> k.rmsNormForward(x, g, EPS, Tensor.zeros(4, 8), Tensor.zeros(3).named("rstd")));
        assertTrue(e.getMessage().contains("rstd"), e.getMessage());
    }
}
