package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Adapter-input dropout: y = W·x + b + s·B·A·dropout(x) while training, no dropout in evaluation mode. */
class LoraDropoutTest {
    private final Kernels k = new ReferenceKernels();

    private static Tensor rand(Random r, long... shape) {
        Tensor t = Tensor.zeros(shape);
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) r.nextGaussian());
        return t;
    }

    private Linear linear(Random r) {
        Linear lin = new Linear("l", 0, "q", new Param("l.weight", rand(r, 5, 7), true), new Param("l.bias", rand(r, 5), false));
        LoraAdapter a = LoraAdapter.create(lin, 2, 1.5f, r);
        a.b().value().copyFrom(rand(r, 5, 2));
        a.setDropout(0.5f, 42);
        lin.attach(a);
        return lin;
    }

    private double loss(Linear lin, Tensor x, Tensor g) {
        Tensor y = Tensor.zeros(x.dim(0), lin.out());
        lin.forward(k, x, y);
        double s = 0;
        for (long i = 0; i < y.numel(); i++) s += (double) y.get(i) * g.get(i);
        return s;
    }

    @Test
    void trainingAppliesTheMaskAndGradientsMatchFiniteDifferences() {
        Random r = new Random(3);
        Linear lin = linear(r);
        Tensor x = rand(r, 4, 7), g = rand(r, 4, 5);
        // forward equals the explicit formula with the kernel's mask for that seed
        Tensor mask = Tensor.zeros(4, 7), xd = Tensor.zeros(4, 7);
        k.dropoutForward(x, 0.5f, 42, mask, xd);
        Tensor want = Tensor.zeros(4, 5);
        k.linearForward(x, lin.weight().value(), lin.bias().value(), want);
        k.loraForward(xd, lin.adapter().a().value(), lin.adapter().b().value(), 1.5f, Tensor.zeros(4, 2), want);
        Tensor y = Tensor.zeros(4, 5);
        lin.forward(k, x, y);
        for (int i = 0; i < 20; i++) assertEquals(want.get(i), y.get(i), 1e-6);

        Tensor dx = Tensor.zeros(4, 7);
        lin.backward(k, g, x, dx);
        double eps = 1e-2;
        for (int i = 0; i < x.numel(); i += 3) {
            float v = x.get(i);
            x.set(i, v + (float) eps);
            double up = loss(lin, x, g);
            x.set(i, v - (float) eps);
            double down = loss(lin, x, g);
            x.set(i, v);
            assertEquals((up - down) / (2 * eps), dx.get(i), 2e-3, "dx[" + i + "]");
        }
        Tensor a = lin.adapter().a().value(), da = lin.adapter().a().grad();
        for (int i = 0; i < a.numel(); i += 2) {
            float v = a.get(i);
            a.set(i, v + (float) eps);
            double up = loss(lin, x, g);
            a.set(i, v - (float) eps);
            double down = loss(lin, x, g);
            a.set(i, v);
            assertEquals((up - down) / (2 * eps), da.get(i), 2e-3, "dA[" + i + "]");
        }
    }

    @Test
    void evaluationModeHasNoDropout() {
        Random r = new Random(5);
        Linear lin = linear(r);
        Tensor x = rand(r, 3, 7);
        Tensor train = Tensor.zeros(3, 5), eval = Tensor.zeros(3, 5), plain = Tensor.zeros(3, 5);
        lin.forward(k, x, train);
        lin.adapter().setTraining(false);
        lin.forward(k, x, eval);
        LoraAdapter a = lin.adapter();
        k.linearForward(x, lin.weight().value(), lin.bias().value(), plain);
        k.loraForward(x, a.a().value(), a.b().value(), a.scale(), Tensor.zeros(3, 2), plain);
        double diffTrain = 0;
        for (int i = 0; i < 15; i++) {
            assertEquals(plain.get(i), eval.get(i), 1e-6);
            diffTrain = Math.max(diffTrain, Math.abs(train.get(i) - plain.get(i)));
        }
        assertTrue(diffTrain > 1e-3, "training mode drops inputs");
    }
}
