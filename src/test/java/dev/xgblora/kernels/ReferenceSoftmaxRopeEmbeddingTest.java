package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReferenceSoftmaxRopeEmbeddingTest {
    private final Kernels k = new ReferenceKernels();
    private final Random random = new Random(5);

    // ---- Softmax --------------------------------------------------------------------------------

    @Test
    void softmaxRowsArePositiveAndSumToOneEvenForHugeLogits() {
        Tensor x = randn(random, 3f, 4, 9);
        x.set(0, 1000f);
        x.set(9, -1000f);
        Tensor y = Tensor.zeros(4, 9);
        k.softmaxForward(x, y);
        for (int r = 0; r < 4; r++) {
            double sum = 0;
            for (int c = 0; c < 9; c++) {
                assertTrue(y.get(r, c) >= 0 && Float.isFinite(y.get(r, c)));
                sum += y.get(r, c);
            }
            assertEquals(1.0, sum, 1e-6);
        }
        assertEquals(1f, y.get(0, 0), 0f);
        // ratios are exponentials of differences (row 2 has moderate values)
        assertEquals(Math.exp(x.get(2, 1) - x.get(2, 3)), y.get(2, 1) / y.get(2, 3), 1e-5 * y.get(2, 1) / y.get(2, 3));
        // in place gives the same result
        Tensor inPlace = x.copy();
        k.softmaxForward(inPlace, inPlace);
        assertArrayEquals(y.toFloatArray(), inPlace.toFloatArray());
    }

    @Test
    void softmaxBackwardMatchesFiniteDifferences() {
        Tensor x = randn(random, 1f, 3, 6), y = Tensor.zeros(3, 6), r = randn(random, 1f, 3, 6);
        Loss loss = weightedSum(() -> k.softmaxForward(x, y), y, r);
        loss.eval();
        Tensor dx = zerosLike(x);
        k.softmaxBackward(r, y, dx);
        assertGradient("softmax", x, dx, loss, 1e-3, 1e-5, 3e-3);
    }

    // ---- RoPE -----------------------------------------------------------------------------------

    @Test
    void ropeMatchesHandRotationAndPreservesNorms() {
        // B=1, T=2, H=1, D=4: dim 0 pairs with 2 (frequency 1), dim 1 with 3 (frequency 0.1).
        Tensor x = Tensor.fromArray(new float[] {1, 2, 3, 4, 0.5f, -1, 2, 0}, 1, 2, 1, 4);
        int[] pos = {0, 3};
        float[] inv = {1f, 0.1f};
        Tensor out = Tensor.zeros(1, 2, 1, 4);
        k.ropeForward(x, pos, inv, out);
        assertArrayEquals(new float[] {1, 2, 3, 4}, java.util.Arrays.copyOf(out.toFloatArray(), 4), "position 0 is identity");
        double c0 = Math.cos(3), s0 = Math.sin(3), c1 = Math.cos(0.3f), s1 = Math.sin(0.3f);
        assertEquals(0.5 * c0 - 2 * s0, out.get(4), 1e-6);
        assertEquals(-1 * c1 - 0 * s1, out.get(5), 1e-6);
        assertEquals(2 * c0 + 0.5 * s0, out.get(6), 1e-6);
        assertEquals(0 * c1 + -1 * s1, out.get(7), 1e-6);

        Tensor big = randn(random, 1f, 2, 3, 2, 8), rotated = Tensor.zeros(2, 3, 2, 8);
        int[] positions = {0, 1, 2, 7, 100, 4095};
        float[] invFreq = {1f, 0.3f, 0.01f, 1e-4f};
        k.ropeForward(big, positions, invFreq, rotated);
        for (int row = 0; row < 12; row++) {
            for (int i = 0; i < 4; i++) {
                double before = Math.hypot(big.get(row * 8 + i), big.get(row * 8 + i + 4));
                double after = Math.hypot(rotated.get(row * 8 + i), rotated.get(row * 8 + i + 4));
                assertEquals(before, after, 1e-5);
            }
        }
        // in place equals out of place; backward (rotation by −angle) undoes forward
        Tensor inPlace = big.copy();
        k.ropeForward(inPlace, positions, invFreq, inPlace);
        assertArrayEquals(rotated.toFloatArray(), inPlace.toFloatArray());
        Tensor back = Tensor.zeros(2, 3, 2, 8);
        k.ropeBackward(rotated, positions, invFreq, back);
        assertClose("rope inverse", big, back, 1e-5, 1e-5);
    }

    @Test
    void ropeBackwardMatchesFiniteDifferences() {
        Tensor x = randn(random, 1f, 2, 3, 2, 6), out = Tensor.zeros(2, 3, 2, 6), r = randn(random, 1f, 2, 3, 2, 6);
        int[] positions = {3, 1, 4, 1, 5, 9};
        float[] invFreq = {1f, 0.2f, 0.05f};
        Loss loss = weightedSum(() -> k.ropeForward(x, positions, invFreq, out), out, r);
        Tensor dx = zerosLike(x);
        k.ropeBackward(r, positions, invFreq, dx);
        assertGradient("rope", x, dx, loss);
    }

    @Test
    void ropeRejectsWrongCounts() {
        Tensor x = Tensor.zeros(1, 2, 1, 4);
        assertThrows(IllegalArgumentException.class, () -> k.ropeForward(x, new int[] {0}, new float[] {1, 1}, x));
        assertThrows(IllegalArgumentException.class, () -> k.ropeForward(x, new int[] {0, 1}, new float[] {1}, x));
    }

    // ---- Embedding ------------------------------------------------------------------------------

    @Test
    void embeddingGathersRowsAndScattersGradients() {
        Tensor table = randn(random, 1f, 7, 5);
        int[] ids = {3, 0, 3, 6};
        Tensor out = Tensor.zeros(2, 2, 5);
        k.embeddingForward(ids, table, out);
        for (int m = 0; m < 4; m++) {
            for (int c = 0; c < 5; c++) assertEquals(table.get(ids[m], c), out.get(m * 5 + c));
        }
        Tensor r = randn(random, 1f, 2, 2, 5);
        Loss loss = weightedSum(() -> k.embeddingForward(ids, table, out), out, r);
        Tensor dtable = zerosLike(table);
        k.embeddingBackward(ids, r, dtable);
        assertGradient("embedding", table, dtable, loss);
        for (int c = 0; c < 5; c++) {
            assertEquals(r.get(c) + r.get(10 + c), dtable.get(3, c), 1e-6, "repeated id sums");
            assertEquals(0f, dtable.get(1, c), "unused row untouched");
        }
        var e = assertThrows(IllegalArgumentException.class, () -> k.embeddingForward(new int[] {7}, table, Tensor.zeros(1, 5)));
        assertTrue(e.getMessage().contains("ids[0] = 7"), e.getMessage());
    }
}
