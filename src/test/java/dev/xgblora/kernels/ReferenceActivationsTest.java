package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReferenceActivationsTest {
    private final Kernels k = new ReferenceKernels();
    private final Random random = new Random(3);

    private float geluOf(float x, boolean tanh) {
        Tensor y = Tensor.zeros(1);
        k.geluForward(Tensor.fromArray(new float[] {x}, 1), tanh, y);
        return y.get(0);
    }

    @Test
    void geluKnownValues() {
        assertEquals(0.8413447460685429, geluOf(1f, false), 1e-7);
        assertEquals(0.8411919906082768, geluOf(1f, true), 1e-7);
        assertEquals(0.8413447460685429 - 1, geluOf(-1f, false), 1e-7); // gelu(x) - gelu(-x) = x
        assertEquals(-0.004049694094890287, geluOf(-3f, false), 1e-9);
        assertEquals(0f, geluOf(0f, false));
        assertEquals(0f, geluOf(-40f, false), 0f); // the tail underflows to (negative) zero, not NaN
        // derivative at 0 is 1/2 for both forms
        for (boolean tanh : new boolean[] {false, true}) {
            Tensor dx = Tensor.zeros(1);
            k.geluBackward(Tensor.fromArray(new float[] {1}, 1), Tensor.zeros(1), tanh, dx);
            assertEquals(0.5f, dx.get(0), 1e-7);
        }
    }

    @Test
    void geluBackwardMatchesFiniteDifferences() {
        for (boolean tanh : new boolean[] {false, true}) {
            Tensor x = randn(random, 2f, 3, 7), y = Tensor.zeros(3, 7), r = randn(random, 1f, 3, 7);
            Loss loss = weightedSum(() -> k.geluForward(x, tanh, y), y, r);
            Tensor dx = zerosLike(x);
            k.geluBackward(r, x, tanh, dx);
            assertGradient("gelu tanh=" + tanh, x, dx, loss, 1e-3, 1e-4, 2e-3);
        }
    }

    @Test
    void geluFormsDifferSlightly() {
        Tensor x = uniform(random, -4f, 4f, 50), exact = Tensor.zeros(50), approx = Tensor.zeros(50);
        k.geluForward(x, false, exact);
        k.geluForward(x, true, approx);
        double diff = maxAbsDiff(exact, approx);
        assertTrue(diff > 1e-5 && diff < 1e-3, "tanh approximation off by " + diff);
    }

    @Test
    void siluKnownValuesAndGradient() {
        Tensor x = Tensor.fromArray(new float[] {0, 1, -2}, 3), y = Tensor.zeros(3);
        k.siluForward(x, y);
        assertEquals(0f, y.get(0));
        assertEquals(1 / (1 + Math.exp(-1)), y.get(1), 1e-7);
        assertEquals(-2 / (1 + Math.exp(2)), y.get(2), 1e-7);

        Tensor xs = randn(random, 2f, 4, 5), ys = Tensor.zeros(4, 5), r = randn(random, 1f, 4, 5);
        Loss loss = weightedSum(() -> k.siluForward(xs, ys), ys, r);
        Tensor dx = zerosLike(xs);
        k.siluBackward(r, xs, dx);
        assertGradient("silu", xs, dx, loss, 1e-3, 1e-4, 2e-3);
    }

    @Test
    void swigluIsSiluOfGateTimesUpWithGradients() {
        Tensor gate = randn(random, 1.5f, 3, 6), up = randn(random, 1f, 3, 6), out = Tensor.zeros(3, 6);
        k.swigluForward(gate, up, out);
        Tensor silu = Tensor.zeros(3, 6);
        k.siluForward(gate, silu);
        for (int i = 0; i < 18; i++) assertEquals(silu.get(i) * up.get(i), out.get(i), 1e-6);

        Tensor r = randn(random, 1f, 3, 6);
        Loss loss = weightedSum(() -> k.swigluForward(gate, up, out), out, r);
        Tensor dgate = zerosLike(gate), dup = zerosLike(up);
        k.swigluBackward(r, gate, up, dgate, dup);
        assertGradient("swiglu dgate", gate, dgate, loss, 1e-3, 1e-4, 2e-3);
        assertGradient("swiglu dup", up, dup, loss, 1e-3, 1e-4, 2e-3);

        Tensor dupOnly = Tensor.zeros(3, 6);
        dupOnly.fill(1f);
        k.swigluBackward(r, gate, up, null, dupOnly);
        for (int i = 0; i < 18; i++) assertEquals(1f + dup.get(i), dupOnly.get(i), 1e-6);
    }

    @Test
    void activationBackwardsAccumulate() {
        Tensor x = randn(random, 1f, 10), dy = randn(random, 1f, 10);
        Tensor once = Tensor.zeros(10), twice = Tensor.zeros(10);
        k.geluBackward(dy, x, false, once);
        k.geluBackward(dy, x, false, twice);
        k.geluBackward(dy, x, false, twice);
        k.siluBackward(dy, x, once);
        k.siluBackward(dy, x, twice);
        k.siluBackward(dy, x, twice);
        for (int i = 0; i < 10; i++) assertEquals(2 * once.get(i), twice.get(i), 1e-6);
    }
}
